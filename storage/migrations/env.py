"""Alembic environment. Runs on a connection handed over by :func:`storage.db.migrate`.

Why: the bot migrates itself at start-up over its own async engine, so ``env.py`` only needs
the synchronous connection Alembic gets from ``AsyncConnection.run_sync``. The ``alembic``
command line works too, with ``-x url=...``.
"""

from __future__ import annotations

import logging

from alembic import context
from sqlalchemy import create_engine

from storage.schema import metadata

log = logging.getLogger(__name__)
config = context.config


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection, target_metadata=metadata, render_as_batch=True
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///mentorbot.db")
    engine = create_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
