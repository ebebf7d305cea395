"""Mentor profiles and a member's own settings (timezone, quiet hours)."""
