"""Settings, declared once with pydantic-settings: the only reader of the process environment.

Each field is named as its environment variable. An empty value means the default. Every problem is
reported at once, in one ConfigError naming each variable and what it allows, never a secret's value:
fields that hold secrets (or URLs that may carry a password) are also left out of the repr. Rules that
depend on another setting (the Verify API's ranges, the secrets a provider needs) are checked by the
dependent field's validator, against the settings declared above it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from limits import parse_many
from limits import storage as limits_storage
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict

from ..errors import ConfigError
from ..store import BACKENDS, backend_of
from ..tokens import KEYGEN_COMMAND, PrivateKey, PublicKey
from .providers import ProviderName, channels, provider_channels, provider_list
from .rules import (
    CAPTCHAS,
    STRUCTURED,
    api_rule_problem,
    credential_problems,
    private_key_pem,
    problem,
    signing_key,
    structured,
    twilio_problems,
)
from .source import ENVIRON, Environ, log_format, store_url_from

__all__ = ["ConfigError", "ProviderName", "Settings", "channels", "load_settings", "log_format", "provider_channels",
           "store_url_from"]


Csv = Annotated[tuple[str, ...], NoDecode]
CsvSet = Annotated[frozenset[str], NoDecode]
RateLimit = Annotated[str, Field(validate_default=True)]
RATE_LIMIT_NAMES = ("OTP_RATELIMIT_REQUEST_IP", "OTP_RATELIMIT_REQUEST_NUMBER", "OTP_RATELIMIT_REQUEST_NUMBER_TOTAL",
                    "OTP_RATELIMIT_CHECK_IP", "OTP_RATELIMIT_CHECK_NUMBER", "OTP_RATELIMIT_KEY",
                    "OTP_RATELIMIT_COUNTRY", "OTP_RATELIMIT_PREFIX", "OTP_RATELIMIT_GLOBAL",
                    "OTP_RATELIMIT_REQUEST_NETWORK", "OTP_RATELIMIT_SPEND_CAP", "OTP_RATELIMIT_REFUSED_IP")
# The limits storages the service counts on: memory and Redis, where the send budgets keep slots too.
LIMITS_SCHEMES: tuple[str, ...] = tuple(s for s in ("memory", "redis", "rediss", "redis+unix", "redis+sentinel",
                                                    "redis+cluster")
                                        if s in limits_storage.SCHEMES)  # type: ignore[attr-defined]
CONSOLE_ONLY = (ProviderName.CONSOLE,)


def _data(info: ValidationInfo, name: str, default: Any = None) -> Any:
    """A setting declared above the one being checked; ``default`` when it was itself refused."""
    return info.data.get(name, default)


class Settings(BaseSettings):
    """Every setting of the service, checked."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", arbitrary_types_allowed=True, validate_default=False)

    # The providers starts try, in order: the next one when a provider certainly did not send.
    OTP_PROVIDER: Annotated[tuple[ProviderName, ...], NoDecode] = (ProviderName.VONAGE,)
    OTP_FAILOVER_THRESHOLD: int = Field(5, ge=1, le=1000)
    OTP_FAILOVER_COOLDOWN: int = Field(30, ge=1, le=3600)
    OTP_STORE_URL: str = Field("memory://", repr=False)
    # Seconds any one store or rate-limit storage operation may take (Redis and PostgreSQL): past it, 503.
    OTP_STORE_TIMEOUT: float = Field(2, ge=0.1, le=30)
    OTP_RECORD_DAYS: int = Field(30, ge=0, le=3650)
    OTP_SWEEP_SECONDS: float = Field(10, ge=0, le=3600)  # how often each process ends expired verifications
    OTP_RECORD_KEY: str = Field("", repr=False, validate_default=True)
    OTP_RATELIMIT_STORAGE_URL: str = Field("", repr=False, validate_default=True)
    VONAGE_VERIFY_API: Literal["legacy", "v2"] = "legacy"
    VONAGE_API_KEY: str = ""
    VONAGE_API_SECRET: str = Field("", repr=False)
    VONAGE_APPLICATION_ID: str = ""
    VONAGE_PRIVATE_KEY: str = Field("", repr=False, validate_default=True)
    VONAGE_API_HOST: str = "api.nexmo.com"
    VONAGE_BRAND: str = Field("Verify", validate_default=True)
    VONAGE_TIMEOUT: int = Field(10, ge=1, le=300)
    VONAGE_CODE_LENGTH: int = Field(6, ge=0, le=99, validate_default=True)
    VONAGE_PIN_EXPIRY: int = Field(300, validate_default=True)
    VONAGE_WORKFLOW_ID: int = Field(1, ge=1, le=7)
    VONAGE_WORKFLOW: Csv = ("sms",)
    VONAGE_WHATSAPP_FROM: str = Field("", validate_default=True)
    VONAGE_LOCALE: str = ""
    # Twilio Verify: the account and its token (or an API key), the service and its code lifetime at Twilio.
    TWILIO_ACCOUNT_SID: str = ""
    TWILIO_AUTH_TOKEN: str = Field("", repr=False)
    TWILIO_API_KEY_SID: str = ""
    TWILIO_API_KEY_SECRET: str = Field("", repr=False)
    TWILIO_VERIFY_SERVICE_SID: str = Field("", validate_default=True)
    TWILIO_VERIFY_URL: str = "https://verify.twilio.com"
    TWILIO_TIMEOUT: int = Field(5, ge=1, le=60)
    TWILIO_WORKFLOW: Csv = ("sms", "voice")
    TWILIO_CODE_TTL: int = Field(600, ge=60, le=86_400)
    OTP_RATELIMIT_ENABLED: bool = True
    OTP_RATELIMIT_REQUEST_IP: RateLimit = "10/hour"
    OTP_RATELIMIT_REQUEST_NUMBER: RateLimit = "3/10 minutes;10/day"
    OTP_RATELIMIT_REQUEST_NUMBER_TOTAL: RateLimit = "20/day"
    OTP_RATELIMIT_CHECK_IP: RateLimit = "30/5 minutes"
    OTP_RATELIMIT_CHECK_NUMBER: RateLimit = "10/10 minutes"
    OTP_RATELIMIT_KEY: RateLimit = "600/minute"
    OTP_RATELIMIT_COUNTRY: RateLimit = "200/hour"
    OTP_RATELIMIT_PREFIX: RateLimit = "10/hour"
    OTP_RATELIMIT_GLOBAL: RateLimit = "2000/hour"
    # Requests refused for their caller (no valid API key, a foreign Origin) per client: past it, 429.
    OTP_RATELIMIT_REFUSED_IP: RateLimit = "20/10 minutes"
    # Unconverted sends per IPv4 /24 and IPv6 /48 (carrier NATs, home delegations): past it, a challenge.
    OTP_RATELIMIT_REQUEST_NETWORK: RateLimit = "30/hour"
    # The bill's last brake: unconverted deliveries in all, which even a solved challenge cannot pass.
    OTP_RATELIMIT_SPEND_CAP: RateLimit = "500/hour;2000/day"
    # The proof-of-work past a budget: ALTCHA's maxnumber (a client tries half of it on average; about a
    # second of a mid-range phone's work at the default), and the key that signs challenges ('': derived).
    OTP_CHALLENGE_DIFFICULTY: int = Field(100_000, ge=1_000, le=1_000_000)
    OTP_CHALLENGE_KEY: str = Field("", repr=False)
    OTP_RESEND_COOLDOWN: int = Field(30, ge=0, le=3600)
    # Seconds a request's body may take to arrive (under gunicorn's gevent workers): past it, 408.
    OTP_BODY_TIMEOUT: int = Field(10, ge=1, le=120)
    OTP_TRUSTED_PROXIES: int = Field(0, ge=0, le=10)
    OTP_ALLOWED_COUNTRIES: CsvSet = frozenset()
    OTP_ALLOWED_NUMBER_TYPES: CsvSet = frozenset()
    OTP_IPV6_PREFIX: int = Field(64, ge=32, le=128)
    OTP_API_KEYS: Annotated[dict[bytes, str], NoDecode] = Field(default_factory=dict)
    OTP_TEST_NUMBERS: Annotated[dict[str, str], NoDecode] = Field(default_factory=dict, repr=False)
    OTP_CAPTCHA: str = ""
    OTP_CAPTCHA_SECRET: str = Field("", repr=False, validate_default=True)
    OTP_CAPTCHA_SITE_KEY: str = ""
    OTP_TOKEN_PRIVATE_KEY: PrivateKey | None = Field(None, repr=False, validate_default=True)
    OTP_TOKEN_PREVIOUS_KEYS: Annotated[tuple[PublicKey, ...], NoDecode] = ()
    OTP_TOKEN_ISSUER: str = Field("", validate_default=True)
    OTP_TOKEN_AUDIENCE: Csv = ()
    OTP_TOKEN_TTL: int = Field(300, ge=30, le=3600)
    OTP_COOKIE_SECURE: bool = True
    # The demo page at /: on for development (console), off in production unless asked for.
    OTP_DEMO_PAGE: bool = Field(None, validate_default=True)
    OTP_ALLOWED_ORIGINS: Annotated[tuple[str, ...], NoDecode] = ()
    OTP_LOG_FORMAT: Literal["json", "text"] = "json"
    # prometheus_client's own variable: gunicorn.conf.py sets it so that /metrics sums every worker.
    PROMETHEUS_MULTIPROC_DIR: str = ""

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], *args: Any,
                                   **kwargs: Any) -> tuple[PydanticBaseSettingsSource, ...]:
        return (Environ(settings_cls),)

    # --- one field at a time ------------------------------------------------------------------------
    @field_validator("OTP_PROVIDER", mode="before")
    @classmethod
    def _providers(cls, value: object) -> object:
        return provider_list(value) if isinstance(value, str) else value

    @field_validator("VONAGE_VERIFY_API", "OTP_LOG_FORMAT", "OTP_CAPTCHA", "VONAGE_LOCALE",
                     mode="before")
    @classmethod
    def _lowercase(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @field_validator(*STRUCTURED, mode="before")
    @classmethod
    def _structured(cls, value: object, info: ValidationInfo) -> object:
        return structured(str(info.field_name), value) if isinstance(value, str) else value

    @field_validator("OTP_STORE_URL")
    @classmethod
    def _store_url(cls, value: str) -> str:
        if backend_of(value) is None:
            raise ValueError(f"OTP_STORE_URL must start with one of {', '.join(f'{s}://' for s in BACKENDS)}")
        return value

    @field_validator(*RATE_LIMIT_NAMES)
    @classmethod
    def _rate_limit(cls, value: str, info: ValidationInfo) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(f"{info.field_name} must be a rate limit such as '10/hour' or '3/10 minutes;10/day', "
                             f"got {value!r}") from None
        return value

    @field_validator("OTP_CHALLENGE_KEY")
    @classmethod
    def _challenge_key(cls, value: str) -> str:
        if value and len(value) < 32:
            raise ValueError("OTP_CHALLENGE_KEY must be at least 32 characters (or empty: derived from the token "
                             "signing key)")
        return value

    @field_validator("OTP_CAPTCHA")
    @classmethod
    def _captcha(cls, value: str) -> str:
        if value and value not in CAPTCHAS:
            raise ValueError(f"OTP_CAPTCHA must be one of {', '.join(CAPTCHAS)} (or empty), got {value!r}")
        return value

    # --- rules that depend on settings declared above ---------------------------------------------------
    @field_validator("OTP_RECORD_KEY")
    @classmethod
    def _record_key(cls, value: str, info: ValidationInfo) -> str:
        if backend_of(_data(info, "OTP_STORE_URL", "")) == "sql" and _data(info, "OTP_RECORD_DAYS") and len(value) < 32:
            raise ValueError("OTP_RECORD_KEY must be at least 32 characters with a SQL store (it keys the hash that "
                             "records keep instead of numbers; make one with: python3 -c 'import secrets; "
                             "print(secrets.token_urlsafe(32))'), or set OTP_RECORD_DAYS=0 to keep no records")
        return value

    @field_validator("OTP_RATELIMIT_STORAGE_URL")
    @classmethod
    def _limits_url(cls, value: str, info: ValidationInfo) -> str:
        if not value:
            # Rate limits stay on `limits` storage: the store's Redis when it is one, else memory (one process).
            store = _data(info, "OTP_STORE_URL", "")
            return str(store) if backend_of(store) == "redis" else "memory://"
        scheme = value.split("://", 1)[0].lower() if "://" in value else ""
        if scheme not in LIMITS_SCHEMES:
            schemes = ", ".join(f"{s}://" for s in LIMITS_SCHEMES)
            raise ValueError(f"OTP_RATELIMIT_STORAGE_URL must start with one of {schemes}")
        return value

    @field_validator("VONAGE_PRIVATE_KEY")
    @classmethod
    def _vonage_credentials(cls, value: str, info: ValidationInfo) -> str:
        problems: list[str] = []
        key = private_key_pem(value, problems)
        if ProviderName.VONAGE in _data(info, "OTP_PROVIDER", ()):
            problems += credential_problems(_data(info, "VONAGE_VERIFY_API", "legacy"), info.data, bool(value))
        if problems:
            raise ValueError("; ".join(problems))
        return key

    @field_validator("TWILIO_VERIFY_SERVICE_SID")
    @classmethod
    def _twilio_credentials(cls, value: str, info: ValidationInfo) -> str:
        if ProviderName.TWILIO in _data(info, "OTP_PROVIDER", ()) and (problems := twilio_problems(info.data, value)):
            raise ValueError("; ".join(problems))
        return value

    @field_validator("VONAGE_BRAND", "VONAGE_CODE_LENGTH", "VONAGE_PIN_EXPIRY")
    @classmethod
    def _api_rules(cls, value: Any, info: ValidationInfo) -> Any:
        problem = api_rule_problem(str(info.field_name), value, _data(info, "VONAGE_VERIFY_API", "legacy"))
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("VONAGE_WHATSAPP_FROM")
    @classmethod
    def _whatsapp_from(cls, value: str, info: ValidationInfo) -> str:
        if (_data(info, "VONAGE_VERIFY_API") == "v2" and "whatsapp" in _data(info, "VONAGE_WORKFLOW", ())
                and not re.fullmatch(r"[1-9][0-9]{6,14}|[A-Za-z0-9]{3,11}", value)):
            raise ValueError("VONAGE_WHATSAPP_FROM must be the WhatsApp Business number (digits, no '+') or a "
                             "3-11 character sender name when VONAGE_WORKFLOW has whatsapp")
        return value

    @field_validator("OTP_CAPTCHA_SECRET")
    @classmethod
    def _captcha_secret(cls, value: str, info: ValidationInfo) -> str:
        provider = _data(info, "OTP_CAPTCHA")
        if provider and not value:
            raise ValueError(f"missing OTP_CAPTCHA_SECRET (the {provider} secret key, required with OTP_CAPTCHA)")
        return value

    @field_validator("OTP_TOKEN_PRIVATE_KEY", mode="before")
    @classmethod
    def _signing_key(cls, value: object, info: ValidationInfo) -> object:
        if value is None or value == "":
            if _data(info, "OTP_PROVIDER") not in (CONSOLE_ONLY, None):
                raise ValueError(f"missing OTP_TOKEN_PRIVATE_KEY (the key that signs verification tokens; make one "
                                 f"with '{KEYGEN_COMMAND}' and set OTP_TOKEN_PRIVATE_KEY=signing-key.pem)")
            return None
        return signing_key(value) if isinstance(value, str) else value

    @field_validator("OTP_TOKEN_ISSUER")
    @classmethod
    def _issuer(cls, value: str, info: ValidationInfo) -> str:
        if not value and _data(info, "OTP_PROVIDER") not in (CONSOLE_ONLY, None):
            raise ValueError("missing OTP_TOKEN_ISSUER (the tokens' iss claim: this service's public URL, "
                             "e.g. https://otp.example.com)")
        return value

    @field_validator("OTP_DEMO_PAGE", mode="before")
    @classmethod
    def _demo_page(cls, value: object, info: ValidationInfo) -> object:
        return _data(info, "OTP_PROVIDER") == CONSOLE_ONLY if value is None else value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Read and check the settings from ``environ`` (the process environment by default)."""
    token = ENVIRON.set(os.environ if environ is None else environ)
    try:
        return Settings()
    except ValidationError as exc:
        problems = [problem(e, Settings.model_fields) for e in exc.errors(include_url=False)]
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from None
    finally:
        ENVIRON.reset(token)
