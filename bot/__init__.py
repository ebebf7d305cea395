"""mentorbot's platform-neutral core.

Nothing below this package imports a chat platform SDK or an adapter: the adapters import the
core, never the other way round (``tests/test_core_is_platform_neutral.py`` proves it).
"""
