"""Adapters: the console (built in), and later Slack and Discord. They hold no business rules."""
