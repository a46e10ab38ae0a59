"""The ``flask otp`` command group: operator tasks beside the running service.

It is registered through the ``flask.commands`` entry point (pyproject.toml), so ``flask --app wsgi otp
keygen`` works before the settings are complete: making the first signing key must not need one. Only
``lookup`` and ``cancel`` load the app (its settings, store and providers), as the service runs it.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flask.cli import with_appcontext

from .callers import new_api_key
from .settings.rules import API_KEY_NAME
from .tokens import generate_private_key_pem, load_private_key, public_jwk, public_pem

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from .lifecycle import Lifecycle

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


def _lifecycle() -> Lifecycle:
    """The lifecycle of the app ``flask --app`` names (its settings, its store, its providers)."""
    from flask import current_app

    lifecycle: Lifecycle = current_app.extensions["otp_lifecycle"]
    return lifecycle


def _key(given: str) -> str:
    """A lookup's key: a verification id as it is, a number as '+' and its digits."""
    from .lifecycle.checks import ID_PATTERN
    from .phone import normalised

    number = normalised(given) if given.strip().startswith("+") else None
    if number is None and not ID_PATTERN.fullmatch(given):
        raise click.BadParameter("a phone number in international format (+14155552671) or a verification id",
                                 param_hint="NUMBER_OR_ID")
    return number or given


def _when(epoch: float | None, now: float) -> str:
    if not epoch:
        return "-"
    stamp = datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{stamp} ({_ago(now - epoch)} ago)"


def _ago(seconds: float) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit}"
    return f"{int(seconds)} s"


# A verification id may begin with '-' (URL-safe base64): taken as the argument, never as an option.
AN_ID_MAY_LOOK_LIKE_AN_OPTION = {"ignore_unknown_options": True}


@otp.command("lookup", context_settings=AN_ID_MAY_LOOK_LIKE_AN_OPTION)
@click.argument("number_or_id")
@with_appcontext
def lookup(number_or_id: str) -> None:
    """What the store knows of a number's verifications, or of one by its id: pending or ended, provider and
    request id, deliveries, checks, age (masked number; never a code)."""
    from .errors import StoreError
    from .providers import channel_of

    lifecycle = _lifecycle()
    try:
        records = lifecycle.store.lookup(_key(number_or_id))
    except StoreError:
        raise click.ClickException("the store did not answer (OTP_STORE_URL)") from None
    if not records:
        click.echo("Nothing known: no pending verification, and no record kept (OTP_RECORD_DAYS) of one.")
        return
    now = time.time()
    for record in records:
        channels = lifecycle.provider.named(record.provider).channels
        used = ", ".join(channel_of(channels, n) for n in range(1, record.deliveries + 1))
        test = " (a test number: nothing was sent)" if record.provider == "test" else ""
        click.echo(f"{record.id}  {record.outcome or 'pending'}\n"
                   f"  number      {record.number} ({record.country})\n"
                   f"  provider    {record.provider or '-'}, request {record.request_id or '-'}{test}\n"
                   f"  deliveries  {record.deliveries} ({used})\n"
                   f"  checks      {record.checks}\n"
                   f"  started     {_when(record.started, now)}\n"
                   f"  ended       {_when(record.ended, now)}"
                   + (f"\n  caller      {record.caller}" if record.caller else ""))


@otp.command("cancel", context_settings=AN_ID_MAY_LOOK_LIKE_AN_OPTION)
@click.argument("verification_id")
@with_appcontext
def cancel(verification_id: str) -> None:
    """End a pending verification, at its provider too (its outcome: cancelled)."""
    from .errors import NoPendingVerificationError, OtpError

    try:
        ended = _lifecycle().cancel_for_operator(verification_id)
    except NoPendingVerificationError:
        raise click.ClickException("no pending verification has this id (it ended, expired or never was)") from None
    except OtpError as exc:
        raise click.ClickException(f"not cancelled: {exc.code} ({exc.message})") from None
    click.echo(f"Cancelled {ended.id} ({ended.provider}, request {ended.request_id or '-'}).")
