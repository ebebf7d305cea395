"""Benchmarks (not tests): run ``python -m bench.<name>``."""
