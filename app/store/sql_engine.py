"""The SQL store's engine and schema check: the driver psycopg 3 for PostgreSQL, short timeouts on every
connection, and Alembic's view of whether the database is at the code's migrations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import SQLAlchemyError

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# Seconds a store operation may take by default (OTP_STORE_TIMEOUT), the same bound as the Redis store's.
DEADLINE = 2


def sqlalchemy_url(url: str) -> str:
    """postgresql:// and postgres:// mean psycopg 3 here (SQLAlchemy's default driver is psycopg2)."""
    scheme, sep, rest = url.partition("://")
    if scheme in ("postgresql", "postgres"):
        return f"postgresql+psycopg{sep}{rest}"
    return url


def engine_for(url: str, pool_size: int = 16, timeout: float = DEADLINE) -> Engine:
    """An engine with short timeouts: an unreachable database fails a request fast (503), never hangs it."""
    url = sqlalchemy_url(url)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 5})

        @event.listens_for(engine, "connect")
        def _wal(dbapi_connection: Any, _: Any) -> None:
            # WAL: readers never wait for the writer; busy_timeout: writers queue instead of failing.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        return engine
    # A pool as large as a worker's threads, waiting at most ``timeout`` for a free connection; every statement,
    # every wait for a lock and every transaction left idle is bounded by the server, and a connection whose
    # packets go unacknowledged (a stalled network path) is dropped by the kernel, within the same bound.
    ms = int(timeout * 1000)
    return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_timeout=timeout, pool_pre_ping=True,
                         connect_args={"connect_timeout": max(1, round(timeout)), "tcp_user_timeout": ms,
                                       "keepalives": 1,
                                       "keepalives_idle": 5, "keepalives_interval": 1, "keepalives_count": 2,
                                       "options": f"-c statement_timeout={ms} -c lock_timeout={ms} -c "
                                                  f"idle_in_transaction_session_timeout={ms}"})


def alembic_config(engine: Engine) -> Config:
    """Alembic's configuration for this engine, without an alembic.ini (the URL may hold a password)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    return config


def schema_problem(engine: Engine) -> str | None:
    """One line saying how the database differs from the code's migrations, or None when it is at head."""
    scripts = ScriptDirectory.from_config(alembic_config(engine))
    head = scripts.get_current_head()
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except SQLAlchemyError as exc:
        return f"the database of OTP_STORE_URL cannot be reached ({type(exc).__name__})"
    if current == head:
        return None
    if current is not None and current not in {script.revision for script in scripts.walk_revisions()}:
        # Migrated by a newer version of the service (this one was rolled back): db-upgrade cannot help.
        return (f"the database of OTP_STORE_URL is at migration {current}, newer than this code knows (it needs "
                f"{head}): run the version of the service that migrated it, or downgrade the database with that "
                f"version's 'flask --app wsgi otp db-downgrade {head}'")
    return (f"the database of OTP_STORE_URL is at migration {current or 'none (empty)'}, the code needs {head}: "
            "run 'flask --app wsgi otp db-upgrade'")
