"""Alembic environment: runs on the connection :func:`api.store.migrate` hands over.

There is no ``alembic.ini``: gridplan migrates its database itself when a
store opens it, inside one transaction on the store's own connection.
"""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    render_as_batch=connection.dialect.name == "sqlite",
    transaction_per_migration=False,
)
with context.begin_transaction():
    context.run_migrations()
