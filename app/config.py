"""Settings: the only module that reads the process environment."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

import phonenumbers
from limits import parse_many

from .tokens import KEYGEN_COMMAND, SigningKeyError, load_private_key, load_public_keys

PROVIDERS = ("vonage", "console")
VERIFY_APIS = ("legacy", "v2")
# What each Verify API accepts: legacy pin_expiry 60-3600 s and codes of 4 or 6 digits; v2 a
# channel_timeout of 15-900 s, codes of 4-10 digits and a brand of at most 16 characters.
API_RULES: dict[str, dict[str, Any]] = {
    "legacy": {"brand_max": 18, "code_lengths": (4, 6), "code_lengths_text": "4 or 6", "pin_expiry": (60, 3600)},
    "v2": {"brand_max": 16, "code_lengths": tuple(range(4, 11)), "code_lengths_text": "4 to 10",
           "pin_expiry": (15, 900)},
}
WORKFLOW_RANGE = (1, 7)
CHANNELS = ("sms", "voice", "whatsapp")
# The delivery steps of each legacy workflow (Vonage's "Workflows and Events" guide; TTS is a voice call).
LEGACY_WORKFLOWS = {1: ("sms", "voice", "voice"), 2: ("sms", "sms", "voice"), 3: ("voice", "voice"),
                    4: ("sms", "sms"), 5: ("sms", "voice"), 6: ("sms",), 7: ("voice",)}
TOKEN_TTL_RANGE = (30, 3600)
ORIGIN_PATTERN = re.compile(r"https?://[^/?#@\s]+")
LOG_FORMATS = ("json", "text")
STORE_SCHEMES = ("memory://", "redis://", "rediss://", "redis+sentinel://", "redis+cluster://", "postgresql://",
                 "postgres://", "sqlite://")
REDIS_SCHEMES = ("redis://", "rediss://", "redis+sentinel://", "redis+cluster://")
SQL_SCHEMES = ("postgresql://", "postgres://", "sqlite://")


RATE_LIMITS = {
    "OTP_RATELIMIT_REQUEST_IP": "10/hour",
    "OTP_RATELIMIT_REQUEST_NUMBER": "3/10 minutes;10/day",
    "OTP_RATELIMIT_REQUEST_NUMBER_TOTAL": "20/day",
    "OTP_RATELIMIT_CHECK_IP": "30/5 minutes",
    "OTP_RATELIMIT_CHECK_NUMBER": "10/10 minutes",
    "OTP_RATELIMIT_KEY": "600/minute",
    "OTP_RATELIMIT_COUNTRY": "200/hour",
    "OTP_RATELIMIT_PREFIX": "10/hour",
    "OTP_RATELIMIT_GLOBAL": "2000/hour",
}
# Kinds of number refused unless OTP_ALLOWED_NUMBER_TYPES names them (app.phone has their meaning).
NUMBER_KINDS = ("premium_rate", "shared_cost", "toll_free", "voip", "pager", "uan", "voicemail", "personal_number",
                "non_geographic")
CAPTCHAS = ("turnstile", "hcaptcha", "recaptcha")
API_KEY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
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


def _pem(name: str, value: str, problems: list[str]) -> str:
    """The PEM itself, or the text of the file a path names ('' when neither, with the problem noted)."""
    if "-----BEGIN" in value:
        return value.replace("\\n", "\n")  # one-line .env values often carry literal \n
    try:
        with open(value, encoding="ascii") as key_file:
            return key_file.read()
    except (OSError, UnicodeDecodeError):
        problems.append(f"{name} is neither a PEM nor a readable key file")
        return ""


def _private_key(value: str, problems: list[str]) -> str:
    """The PEM itself, or the file a path names; PKCS#8, as the SDK's JWT client wants it."""
    if not value:
        return ""
    pem = _pem("VONAGE_PRIVATE_KEY", value, problems)
    if not pem:
        return ""
    if "-----BEGIN PRIVATE KEY-----" not in pem:
        problems.append("VONAGE_PRIVATE_KEY must be a PKCS#8 key (-----BEGIN PRIVATE KEY-----); convert with "
                        "'openssl pkcs8 -topk8 -nocrypt -in old.pem -out new.pem'")
        return ""
    return pem


def _vonage(env: Mapping[str, str], provider: str, problems: list[str]) -> dict[str, Any]:
    """The Vonage settings, checked against the rules of the Verify API they are for."""
    api = env.get("VONAGE_VERIFY_API", "").strip().lower() or "legacy"
    if api not in VERIFY_APIS:
        problems.append(f"VONAGE_VERIFY_API must be legacy or v2, got {api!r}")
        api = "legacy"
    rules = API_RULES[api]

    api_key = env.get("VONAGE_API_KEY", "").strip()
    api_secret = env.get("VONAGE_API_SECRET", "").strip()
    application_id = env.get("VONAGE_APPLICATION_ID", "").strip()
    private_key = _private_key(env.get("VONAGE_PRIVATE_KEY", "").strip(), problems)
    if provider == "vonage":
        if api == "v2" and (application_id or env.get("VONAGE_PRIVATE_KEY", "").strip()):
            # JWT is meant; an unusable key was reported by _private_key already.
            if not application_id:
                problems.append("missing VONAGE_APPLICATION_ID (JWT auth needs it beside VONAGE_PRIVATE_KEY)")
            elif not env.get("VONAGE_PRIVATE_KEY", "").strip():
                problems.append("missing VONAGE_PRIVATE_KEY (JWT auth needs it beside VONAGE_APPLICATION_ID)")
        else:
            missing = [n for n, v in (("VONAGE_API_KEY", api_key), ("VONAGE_API_SECRET", api_secret)) if not v]
            if missing:
                jwt = " or VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY" if api == "v2" else ""
                problems.append(f"missing {', '.join(missing)} (required with OTP_PROVIDER=vonage{jwt}; "
                                "set OTP_PROVIDER=console to try the service without a Vonage account)")

    brand = env.get("VONAGE_BRAND", "").strip() or "Verify"
    if len(brand) > rules["brand_max"]:
        problems.append(f"VONAGE_BRAND must be at most {rules['brand_max']} characters with the {api} API, "
                        f"got {len(brand)}")
    code_length = _int(env, "VONAGE_CODE_LENGTH", 6, 0, 99, problems)
    if code_length not in rules["code_lengths"]:
        problems.append(f"VONAGE_CODE_LENGTH must be {rules['code_lengths_text']} with the {api} API, "
                        f"got {code_length}")
    low, high = rules["pin_expiry"]
    workflow = [c.strip().lower() for c in env.get("VONAGE_WORKFLOW", "sms").split(",") if c.strip()] or ["sms"]
    unknown = [c for c in workflow if c not in CHANNELS]
    if unknown:
        problems.append(f"VONAGE_WORKFLOW channels must be among {', '.join(CHANNELS)}, got {', '.join(unknown)}")
    whatsapp_from = env.get("VONAGE_WHATSAPP_FROM", "").strip()
    if api == "v2" and "whatsapp" in workflow and not re.fullmatch(r"[1-9][0-9]{6,14}|[A-Za-z0-9]{3,11}",
                                                                   whatsapp_from):
        problems.append("VONAGE_WHATSAPP_FROM must be the WhatsApp Business number (digits, no '+') or a "
                        "3-11 character sender name when VONAGE_WORKFLOW has whatsapp")
    return {
        "VONAGE_VERIFY_API": api,
        "VONAGE_API_KEY": api_key,
        "VONAGE_API_SECRET": api_secret,
        "VONAGE_APPLICATION_ID": application_id,
        "VONAGE_PRIVATE_KEY": private_key,
        "VONAGE_API_HOST": env.get("VONAGE_API_HOST", "").strip() or "api.nexmo.com",
        "VONAGE_BRAND": brand,
        "VONAGE_TIMEOUT": _int(env, "VONAGE_TIMEOUT", 10, 1, 300, problems),
        "VONAGE_CODE_LENGTH": code_length,
        "VONAGE_PIN_EXPIRY": _int(env, "VONAGE_PIN_EXPIRY", 300, low, high, problems),
        "VONAGE_WORKFLOW_ID": _int(env, "VONAGE_WORKFLOW_ID", 1, *WORKFLOW_RANGE, problems),
        "VONAGE_WORKFLOW": tuple(workflow),
        "VONAGE_WHATSAPP_FROM": whatsapp_from,
        "VONAGE_LOCALE": env.get("VONAGE_LOCALE", "").strip().lower(),
    }


def _tokens(env: Mapping[str, str], provider: str, problems: list[str]) -> dict[str, Any]:
    """The signing key, earlier public keys and claims of the verification token."""
    key = None
    raw = env.get("OTP_TOKEN_PRIVATE_KEY", "").strip()
    if raw:
        pem = _pem("OTP_TOKEN_PRIVATE_KEY", raw, problems)
        if pem:
            try:
                key = load_private_key(pem)
            except SigningKeyError as exc:
                problems.append(f"OTP_TOKEN_PRIVATE_KEY {exc}")
    elif provider == "vonage":
        problems.append(f"missing OTP_TOKEN_PRIVATE_KEY (the key that signs verification tokens; make one with "
                        f"'{KEYGEN_COMMAND}' and set OTP_TOKEN_PRIVATE_KEY=signing-key.pem)")
    previous = []
    for item in _pem_list(env.get("OTP_TOKEN_PREVIOUS_KEYS", "").strip()):
        text = _pem("OTP_TOKEN_PREVIOUS_KEYS", item, problems)
        if text:
            try:
                previous.extend(load_public_keys(text))
            except SigningKeyError as exc:
                problems.append(f"OTP_TOKEN_PREVIOUS_KEYS {exc}")
    issuer = env.get("OTP_TOKEN_ISSUER", "").strip()
    if not issuer and provider == "vonage":
        problems.append("missing OTP_TOKEN_ISSUER (the tokens' iss claim: this service's public URL, "
                        "e.g. https://otp.example.com)")
    audience = tuple(a.strip() for a in env.get("OTP_TOKEN_AUDIENCE", "").split(",") if a.strip())
    return {
        "OTP_TOKEN_PRIVATE_KEY": key,
        "OTP_TOKEN_PREVIOUS_KEYS": tuple(previous),
        "OTP_TOKEN_ISSUER": issuer,
        "OTP_TOKEN_AUDIENCE": audience,
        "OTP_TOKEN_TTL": _int(env, "OTP_TOKEN_TTL", 300, *TOKEN_TTL_RANGE, problems),
    }


def _pem_list(value: str) -> list[str]:
    """PEM text as one item, or paths separated by commas."""
    if not value:
        return []
    if "-----BEGIN" in value:
        return [value]
    return [path.strip() for path in value.split(",") if path.strip()]


def _api_keys(environ: Mapping[str, str], problems: list[str]) -> dict[bytes, str]:
    """OTP_API_KEYS: ``name:sha256-hex`` pairs, comma-separated -> {digest: name}."""
    keys: dict[bytes, str] = {}
    for item in environ.get("OTP_API_KEYS", "").split(","):
        if not item.strip():
            continue
        name, _, digest = item.strip().partition(":")
        digest = digest.strip().lower()
        if not API_KEY_NAME.fullmatch(name.strip()) or not SHA256_HEX.fullmatch(digest):
            problems.append("OTP_API_KEYS entries must be name:sha256-hex as 'flask --app wsgi otp apikey NAME' "
                            f"prints them, got {name.strip()[:64]!r}")
            continue
        if name.strip() in keys.values():
            problems.append(f"OTP_API_KEYS names {name.strip()!r} twice")
        keys[bytes.fromhex(digest)] = name.strip()
    return keys


def _choices(environ: Mapping[str, str], name: str, allowed: tuple[str, ...], problems: list[str]) -> frozenset[str]:
    chosen = frozenset(c.strip().lower() for c in environ.get(name, "").split(",") if c.strip())
    unknown = sorted(chosen - set(allowed))
    if unknown:
        problems.append(f"{name} must be among {', '.join(allowed)}, got {', '.join(unknown)}")
    return chosen


def _captcha(environ: Mapping[str, str], problems: list[str]) -> dict[str, str]:
    provider = environ.get("OTP_CAPTCHA", "").strip().lower()
    secret = environ.get("OTP_CAPTCHA_SECRET", "").strip()
    if provider and provider not in CAPTCHAS:
        problems.append(f"OTP_CAPTCHA must be one of {', '.join(CAPTCHAS)} (or empty), got {provider!r}")
    elif provider and not secret:
        problems.append(f"missing OTP_CAPTCHA_SECRET (the {provider} secret key, required with OTP_CAPTCHA)")
    return {"OTP_CAPTCHA": provider, "OTP_CAPTCHA_SECRET": secret,
            "OTP_CAPTCHA_SITE_KEY": environ.get("OTP_CAPTCHA_SITE_KEY", "").strip()}


def _origins(environ: Mapping[str, str], problems: list[str]) -> tuple[str, ...]:
    origins = []
    for item in environ.get("OTP_ALLOWED_ORIGINS", "").split(","):
        origin = item.strip().rstrip("/").lower()
        if not origin:
            continue
        if not ORIGIN_PATTERN.fullmatch(origin):
            problems.append(f"OTP_ALLOWED_ORIGINS entries must be origins such as https://app.example.com, "
                            f"got {item.strip()!r}")
        origins.append(origin)
    return tuple(origins)


def store_url_from(environ: Mapping[str, str] | None = None) -> str:
    """OTP_STORE_URL alone, for the migration commands, which need no other setting."""
    return (os.environ if environ is None else environ).get("OTP_STORE_URL", "").strip() or "memory://"


def _records(env: Mapping[str, str], store_url: str, problems: list[str]) -> dict[str, Any]:
    """How long a SQL store keeps the record of each ended verification, and the key that hides its number."""
    days = _int(env, "OTP_RECORD_DAYS", 30, 0, 3650, problems)
    key = env.get("OTP_RECORD_KEY", "").strip()
    if store_url.lower().startswith(SQL_SCHEMES) and days and len(key) < 32:
        problems.append("OTP_RECORD_KEY must be at least 32 characters with a SQL store (it keys the hash that "
                        "records keep instead of numbers; make one with: python3 -c 'import secrets; "
                        "print(secrets.token_urlsafe(32))'), or set OTP_RECORD_DAYS=0 to keep no records")
    return {"OTP_RECORD_DAYS": days, "OTP_RECORD_KEY": key}


def log_format(environ: Mapping[str, str] | None = None) -> str:
    """OTP_LOG_FORMAT alone, for gunicorn.conf.py, which sets up logging before the app exists."""
    value = (os.environ if environ is None else environ).get("OTP_LOG_FORMAT", "").strip().lower()
    return value or "json"


def load_config(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Read and check the settings from ``environ`` (the process environment by default)."""
    env = os.environ if environ is None else environ
    problems: list[str] = []

    provider = env.get("OTP_PROVIDER", "vonage").strip().lower() or "vonage"
    if provider not in PROVIDERS:
        problems.append(f"OTP_PROVIDER must be one of {', '.join(PROVIDERS)}, got {provider!r}")

    store_url = store_url_from(env)
    if not store_url.lower().startswith(STORE_SCHEMES):
        problems.append(f"OTP_STORE_URL must start with one of {', '.join(STORE_SCHEMES)}")

    config: dict[str, Any] = {
        "OTP_PROVIDER": provider,
        "OTP_STORE_URL": store_url,
        **_records(env, store_url, problems),
        # Rate limits stay on `limits` storage: the store's Redis when it is one, else memory (one process).
        "OTP_RATELIMIT_STORAGE_URL": (env.get("OTP_RATELIMIT_STORAGE_URL", "").strip()
                                      or (store_url if store_url.lower().startswith(REDIS_SCHEMES) else "memory://")),
        **_vonage(env, provider, problems),
        "OTP_RATELIMIT_ENABLED": _bool(env, "OTP_RATELIMIT_ENABLED", True, problems),
        **_rate_limits(env, problems),
        "OTP_RESEND_COOLDOWN": _int(env, "OTP_RESEND_COOLDOWN", 30, 0, 3600, problems),
        "OTP_TRUSTED_PROXIES": _int(env, "OTP_TRUSTED_PROXIES", 0, 0, 10, problems),
        "OTP_ALLOWED_COUNTRIES": _countries(env, problems),
        "OTP_ALLOWED_NUMBER_TYPES": _choices(env, "OTP_ALLOWED_NUMBER_TYPES", NUMBER_KINDS, problems),
        "OTP_IPV6_PREFIX": _int(env, "OTP_IPV6_PREFIX", 64, 32, 128, problems),
        "OTP_API_KEYS": _api_keys(env, problems),
        **_captcha(env, problems),
        **_tokens(env, provider, problems),
        "OTP_COOKIE_SECURE": _bool(env, "OTP_COOKIE_SECURE", True, problems),
        # The demo page at /: on for development (console), off in production unless asked for.
        "OTP_DEMO_PAGE": _bool(env, "OTP_DEMO_PAGE", provider == "console", problems),
        "OTP_ALLOWED_ORIGINS": _origins(env, problems),
        "OTP_LOG_FORMAT": log_format(env),
        # prometheus_client's own variable: gunicorn.conf.py sets it so that /metrics sums every worker.
        "PROMETHEUS_MULTIPROC_DIR": env.get("PROMETHEUS_MULTIPROC_DIR", "").strip(),
    }
    # The channels of the workflow's delivery steps, in order: the token's amr and the next step's channel.
    config["OTP_CHANNELS"] = (config["VONAGE_WORKFLOW"] if config["VONAGE_VERIFY_API"] == "v2"
                              else LEGACY_WORKFLOWS.get(config["VONAGE_WORKFLOW_ID"], ("sms",)))
    if config["OTP_LOG_FORMAT"] not in LOG_FORMATS:
        problems.append(f"OTP_LOG_FORMAT must be json or text, got {config['OTP_LOG_FORMAT']!r}")
    if problems:
        raise ConfigError("invalid configuration: " + "; ".join(problems))
    return config
