"""Alembic migrations of the plans database (see :func:`api.store.migrate`)."""
