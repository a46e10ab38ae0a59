"""Where the settings come from: the mapping load_settings is given (the process environment by default)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar

from pydantic_settings import EnvSettingsSource

# The mapping load_settings reads, for the one source of the settings (below).
ENVIRON: ContextVar[Mapping[str, str]] = ContextVar("environ")


class Environ(EnvSettingsSource):
    """Environment variables from the mapping load_settings was given (the process environment by default),
    each stripped, an empty one taken as unset."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {name if self.case_sensitive else name.lower(): value.strip()
                for name, value in ENVIRON.get(os.environ).items() if value.strip()}


def store_url_from(environ: Mapping[str, str] | None = None) -> str:
    """OTP_STORE_URL alone, for the migration commands, which need no other setting."""
    return (os.environ if environ is None else environ).get("OTP_STORE_URL", "").strip() or "memory://"


def log_format(environ: Mapping[str, str] | None = None) -> str:
    """OTP_LOG_FORMAT alone, for gunicorn.conf.py, which sets up logging before the app exists."""
    value = (os.environ if environ is None else environ).get("OTP_LOG_FORMAT", "").strip().lower()
    return value or "json"
