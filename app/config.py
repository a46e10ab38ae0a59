"""Settings: the only module that reads the process environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import phonenumbers
from limits import parse_many

PROVIDERS = ("vonage", "console")
CODE_LENGTHS = (4, 6)
# The legacy Verify API accepts a pin_expiry between 60 and 3600 seconds and workflow ids 1 to 7.
PIN_EXPIRY_RANGE = (60, 3600)
WORKFLOW_RANGE = (1, 7)
BRAND_MAX = 18
STORE_SCHEMES = ("memory://", "redis://", "rediss://")


RATE_LIMITS = {
    "OTP_RATELIMIT_REQUEST_IP": "10/hour",
    "OTP_RATELIMIT_REQUEST_NUMBER": "3/10 minutes;10/day",
    "OTP_RATELIMIT_CHECK_IP": "30/5 minutes",
    "OTP_RATELIMIT_CHECK_NUMBER": "10/10 minutes",
}
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


class ConfigError(Exception):
    """The settings cannot start the service; the message names every problem found."""


def _int(environ: Mapping[str, str], name: str, default: int, low: int, high: int, problems: list[str]) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        problems.append(f"{name} must be a whole number, got {raw!r}")
        return default
    if not low <= value <= high:
        problems.append(f"{name} must be between {low} and {high}, got {value}")
    return value


def _bool(environ: Mapping[str, str], name: str, default: bool, problems: list[str]) -> bool:
    raw = environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw not in TRUE + FALSE:
        problems.append(f"{name} must be true or false, got {raw!r}")
    return raw in TRUE


def _rate_limits(environ: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    limits = {}
    for name, default in RATE_LIMITS.items():
        value = environ.get(name, "").strip() or default
        try:
            parse_many(value)
        except ValueError:
            problems.append(f"{name} must be a rate limit such as '10/hour' or '3/10 minutes;10/day', got {value!r}")
        limits[name] = value
    return limits


def _countries(environ: Mapping[str, str], problems: list[str]) -> frozenset[str]:
    codes = frozenset(c.strip().upper() for c in environ.get("OTP_ALLOWED_COUNTRIES", "").split(",") if c.strip())
    unknown = sorted(codes - phonenumbers.SUPPORTED_REGIONS)
    if unknown:
        problems.append(f"OTP_ALLOWED_COUNTRIES has unknown ISO 3166 alpha-2 codes: {', '.join(unknown)}")
    return codes


def load_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read and check the settings from ``environ`` (the process environment by default)."""
    env = os.environ if environ is None else environ
    problems: list[str] = []

    provider = env.get("OTP_PROVIDER", "vonage").strip().lower() or "vonage"
    if provider not in PROVIDERS:
        problems.append(f"OTP_PROVIDER must be one of {', '.join(PROVIDERS)}, got {provider!r}")

    api_key = env.get("VONAGE_API_KEY", "").strip()
    api_secret = env.get("VONAGE_API_SECRET", "").strip()
    if provider == "vonage":
        missing = [name for name, value in (("VONAGE_API_KEY", api_key), ("VONAGE_API_SECRET", api_secret))
                   if not value]
        if missing:
            problems.append(f"missing {', '.join(missing)} (required with OTP_PROVIDER=vonage; "
                            "set OTP_PROVIDER=console to try the service without a Vonage account)")

    brand = env.get("VONAGE_BRAND", "").strip() or "Verify"
    if len(brand) > BRAND_MAX:
        problems.append(f"VONAGE_BRAND must be at most {BRAND_MAX} characters, got {len(brand)}")

    code_length = _int(env, "VONAGE_CODE_LENGTH", 6, 0, 99, problems)
    if code_length not in CODE_LENGTHS:
        problems.append(f"VONAGE_CODE_LENGTH must be 4 or 6, got {code_length}")

    store_url = env.get("OTP_STORE_URL", "").strip() or "memory://"
    if not store_url.lower().startswith(STORE_SCHEMES):
        problems.append("OTP_STORE_URL must start with memory://, redis:// or rediss://")

    config: dict[str, Any] = {
        "OTP_PROVIDER": provider,
        "OTP_STORE_URL": store_url,
        "VONAGE_API_KEY": api_key,
        "VONAGE_API_SECRET": api_secret,
        "VONAGE_API_HOST": env.get("VONAGE_API_HOST", "").strip() or "api.nexmo.com",
        "VONAGE_BRAND": brand,
        "VONAGE_TIMEOUT": _int(env, "VONAGE_TIMEOUT", 10, 1, 300, problems),
        "VONAGE_CODE_LENGTH": code_length,
        "VONAGE_PIN_EXPIRY": _int(env, "VONAGE_PIN_EXPIRY", 300, *PIN_EXPIRY_RANGE, problems),
        "VONAGE_WORKFLOW_ID": _int(env, "VONAGE_WORKFLOW_ID", 1, *WORKFLOW_RANGE, problems),
        "OTP_RATELIMIT_ENABLED": _bool(env, "OTP_RATELIMIT_ENABLED", True, problems),
        **_rate_limits(env, problems),
        "OTP_RESEND_COOLDOWN": _int(env, "OTP_RESEND_COOLDOWN", 30, 0, 3600, problems),
        "OTP_TRUSTED_PROXIES": _int(env, "OTP_TRUSTED_PROXIES", 0, 0, 10, problems),
        "OTP_ALLOWED_COUNTRIES": _countries(env, problems),
    }
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return config
