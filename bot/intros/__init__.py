"""Finding mentors, "notify me", and double opt-in intro requests."""
