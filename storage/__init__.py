"""Storage: schema, migrations and queries. No business rules live here."""
