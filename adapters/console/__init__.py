"""The console adapter: a local, text-only mentorbot over the same core and a SQLite file.

It is the embedded default (no platform tokens needed) and the harness scenario tests drive:
see :func:`adapters.console.session.open_console`.
"""
