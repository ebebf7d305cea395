"""Booking mentoring sessions, series and invites, and the reminders before them."""
