"""The ``flask otp`` command group: operator tasks that need no running service.

It is registered through the ``flask.commands`` entry point (pyproject.toml), so ``flask --app wsgi otp
keygen`` works before the settings are complete: making the first signing key must not need one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .callers import new_api_key
from .settings.rules import API_KEY_NAME
from .tokens import generate_private_key_pem, load_private_key, public_jwk, public_pem

if TYPE_CHECKING:
    from sqlalchemy import Engine

# A plain click group: an AppGroup would load the app (and its settings) before every command.
otp = click.Group("otp", help="Operator commands of the OTP service.")


@otp.command("keygen")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=Path("signing-key.pem"),
              show_default=True, help="Where to write the new private key (PKCS#8 PEM, mode 0600).")
def keygen(out: Path) -> None:
    """Make a P-256 key that signs verification tokens (ES256)."""
    if out.exists():
        raise click.ClickException(f"{out} exists; move it away first (its public key then goes to "
                                   "OTP_TOKEN_PREVIOUS_KEYS, so tokens it signed stay valid).")
    pem = generate_private_key_pem()
    # O_EXCL: never follow a link or overwrite a file created meanwhile; 0600 from the first byte.
    descriptor = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(pem)
    key = load_private_key(pem.decode())
    click.echo(f"Wrote {out} (mode 0600). Add to the service's settings:\n\n"
               f"OTP_TOKEN_PRIVATE_KEY={out.resolve()}\n\n"
               f"kid {public_jwk(key.public_key())['kid']}. When this key is retired, keep its public half in "
               f"OTP_TOKEN_PREVIOUS_KEYS until its last token expires:\n\n{public_pem(key)}")


@otp.command("apikey")
@click.argument("name")
def apikey(name: str) -> None:
    """Make an API key for a backend caller named NAME (shown once; the settings keep its hash)."""
    if not API_KEY_NAME.fullmatch(name):
        raise click.BadParameter("letters, digits, '.', '_' and '-', at most 64", param_hint="NAME")
    key, digest = new_api_key()
    click.echo(f"API key for {name} (shown this once; give it to that caller, keep no copy):\n\n{key}\n\n"
               f"Add to OTP_API_KEYS (comma-separated with the keys already there):\n\n"
               f"OTP_API_KEYS={name}:{digest}")


def _sql_engine() -> Engine:
    from .settings import store_url_from
    from .store import backend_of
    from .store.sql_engine import engine_for

    url = store_url_from()
    if backend_of(url) != "sql":
        raise click.ClickException("OTP_STORE_URL is not a SQL database (postgresql:// or sqlite:///): "
                                   "nothing to migrate")
    return engine_for(url, pool_size=1)


def _migrate(direction: str, revision: str) -> None:
    from alembic import command

    from .store.sql_engine import alembic_config

    engine = _sql_engine()
    try:
        getattr(command, direction)(alembic_config(engine), revision)
    finally:
        engine.dispose()
    click.echo(f"The database is at migration {revision}.")


@otp.command("db-upgrade")
@click.option("--revision", default="head", show_default=True, help="The migration to upgrade to.")
def db_upgrade(revision: str) -> None:
    """Create or upgrade the SQL store's tables (OTP_STORE_URL) to the code's migrations."""
    _migrate("upgrade", revision)


@otp.command("db-downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    """Take the SQL store's tables back to REVISION ('base' removes them, and every pending code)."""
    _migrate("downgrade", revision)
