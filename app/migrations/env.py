"""Alembic environment: the service's tables (app.store.sql_tables.Base) on the engine the caller hands in."""

from __future__ import annotations

from alembic import context

from app.store.sql_tables import Base

engine = context.config.attributes["engine"]
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata,
                      # SQLite alters tables by copying them; batch mode does that for it.
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()
