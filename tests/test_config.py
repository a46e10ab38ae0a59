"""Settings: defaults, validation, and one message naming every missing secret."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from app.settings import ConfigError, load_settings

from .conftest import MakeApp


def test_defaults_for_the_console_provider() -> None:
    config = load_settings({"OTP_PROVIDER": "console"}).model_dump()

    assert config == {
        "OTP_PROVIDER": ("console",), "OTP_FAILOVER_THRESHOLD": 5, "OTP_FAILOVER_COOLDOWN": 30,
        "OTP_STORE_URL": "memory://", "OTP_STORE_TIMEOUT": 2, "VONAGE_VERIFY_API": "legacy",
        "VONAGE_API_KEY": "", "VONAGE_API_SECRET": "", "VONAGE_APPLICATION_ID": "", "VONAGE_PRIVATE_KEY": "",
        "VONAGE_API_HOST": "api.nexmo.com", "VONAGE_BRAND": "Verify",
        "VONAGE_TIMEOUT": 10, "VONAGE_CODE_LENGTH": 6, "VONAGE_PIN_EXPIRY": 300, "VONAGE_WORKFLOW_ID": 1,
        "VONAGE_WORKFLOW": ("sms",), "VONAGE_WHATSAPP_FROM": "", "VONAGE_LOCALE": "",
        "OTP_RATELIMIT_ENABLED": True, "OTP_RATELIMIT_REQUEST_IP": "10/hour",
        "OTP_RATELIMIT_REQUEST_NUMBER": "3/10 minutes;10/day", "OTP_RATELIMIT_CHECK_IP": "30/5 minutes",
        "OTP_RATELIMIT_CHECK_NUMBER": "10/10 minutes", "OTP_RESEND_COOLDOWN": 30, "OTP_BODY_TIMEOUT": 10,
        "OTP_TRUSTED_PROXIES": 0,
        "OTP_ALLOWED_COUNTRIES": frozenset(), "OTP_LOG_FORMAT": "json", "PROMETHEUS_MULTIPROC_DIR": "",
        "OTP_TOKEN_PRIVATE_KEY": None, "OTP_TOKEN_PREVIOUS_KEYS": (), "OTP_TOKEN_ISSUER": "",
        "OTP_TOKEN_AUDIENCE": (), "OTP_TOKEN_TTL": 300, "OTP_COOKIE_SECURE": True, "OTP_ALLOWED_ORIGINS": (),
        "OTP_ALLOWED_NUMBER_TYPES": frozenset(), "OTP_IPV6_PREFIX": 64,
        "OTP_API_KEYS": {}, "OTP_TEST_NUMBERS": {},
        "OTP_CAPTCHA": "", "OTP_CAPTCHA_SECRET": "", "OTP_CAPTCHA_SITE_KEY": "",
        "OTP_RATELIMIT_REQUEST_NUMBER_TOTAL": "20/day", "OTP_RATELIMIT_KEY": "600/minute",
        "OTP_RATELIMIT_COUNTRY": "200/hour", "OTP_RATELIMIT_PREFIX": "10/hour", "OTP_RATELIMIT_GLOBAL": "2000/hour",
        "OTP_RATELIMIT_STORAGE_URL": "memory://", "OTP_RECORD_DAYS": 30, "OTP_RECORD_KEY": "",
        "OTP_SWEEP_SECONDS": 10,
        "OTP_DEMO_PAGE": True, "OTP_RATELIMIT_REQUEST_NETWORK": "30/hour", "OTP_RATELIMIT_REFUSED_IP": "20/10 minutes",
        "OTP_RATELIMIT_SPEND_CAP": "500/hour;2000/day", "OTP_CHALLENGE_DIFFICULTY": 100_000, "OTP_CHALLENGE_KEY": "",
        "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": "", "TWILIO_API_KEY_SID": "", "TWILIO_API_KEY_SECRET": "",
        "TWILIO_VERIFY_SERVICE_SID": "", "TWILIO_VERIFY_URL": "https://verify.twilio.com", "TWILIO_TIMEOUT": 5,
        "TWILIO_WORKFLOW": ("sms", "voice"), "TWILIO_CODE_TTL": 600,
    }


def test_vonage_is_the_default_provider_and_needs_both_secrets() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings({})

    assert "VONAGE_API_KEY, VONAGE_API_SECRET" in str(exc.value)


@pytest.mark.parametrize(("given", "missing"), [({"VONAGE_API_KEY": "k"}, "VONAGE_API_SECRET"),
                                                ({"VONAGE_API_SECRET": "s"}, "VONAGE_API_KEY"),
                                                ({"VONAGE_API_KEY": " ", "VONAGE_API_SECRET": "s"},
                                                 "VONAGE_API_KEY")])
def test_one_missing_secret_is_named(given: dict[str, str], missing: str) -> None:
    with pytest.raises(ConfigError, match=f"missing {missing} "):
        load_settings(given)


def test_every_problem_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings({"VONAGE_TIMEOUT": "soon", "VONAGE_CODE_LENGTH": "5", "VONAGE_BRAND": "B" * 19,
                     "OTP_STORE_URL": "mysql://db", "VONAGE_PIN_EXPIRY": "10"})

    message = str(exc.value)
    for name in ("VONAGE_API_KEY", "VONAGE_TIMEOUT", "VONAGE_CODE_LENGTH", "VONAGE_BRAND", "OTP_STORE_URL",
                 "VONAGE_PIN_EXPIRY"):
        assert name in message


@pytest.mark.parametrize(("name", "value"), [("OTP_PROVIDER", "sinch"), ("VONAGE_WORKFLOW_ID", "8"),
                                             ("VONAGE_TIMEOUT", "0"), ("VONAGE_TIMEOUT", "2.5"),
                                             ("VONAGE_PIN_EXPIRY", "3601")])
def test_out_of_range_values_are_refused(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings({"OTP_PROVIDER": "console", name: value})


def test_secret_values_never_appear_in_config_errors() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings({"VONAGE_API_KEY": "k", "VONAGE_API_SECRET": "hunter2", "OTP_STORE_URL": "ftp://u:pw@h"})

    assert "hunter2" not in str(exc.value)
    assert "pw@" not in str(exc.value)


def test_create_app_fails_with_the_config_message(make_app: MakeApp) -> None:
    with pytest.raises(ConfigError, match="VONAGE_API_KEY, VONAGE_API_SECRET"):
        make_app({"OTP_PROVIDER": "vonage"})


def test_the_vonage_logger_is_kept_to_errors(settings: dict[str, str], make_app: MakeApp) -> None:
    logging.getLogger("vonage").setLevel(logging.DEBUG)
    try:
        make_app(settings)
        assert logging.getLogger("vonage").getEffectiveLevel() >= logging.ERROR
    finally:
        logging.getLogger("vonage").setLevel(logging.NOTSET)


def test_sdk_lines_below_error_are_dropped_even_when_its_level_is_lowered_later(
        settings: dict[str, str], caplog: pytest.LogCaptureFixture, make_app: MakeApp) -> None:
    make_app(settings)
    caplog.set_level(logging.DEBUG, logger="vonage")

    logging.getLogger("vonage").debug("headers: Authorization: Basic c2VjcmV0")
    logging.getLogger("vonage").warning("Http Response Error! Status code: 400; content: '{...}'")
    logging.getLogger("vonage").error("something the SDK itself cannot handle")

    assert "Authorization" not in caplog.text and "Http Response Error" not in caplog.text
    assert "cannot handle" in caplog.text


@pytest.mark.parametrize("api", ["v2"])
def test_ordinary_v2_outcomes_leave_only_the_services_own_lines(
        client: object, vonage: object, caplog: pytest.LogCaptureFixture) -> None:
    vonage.start("ok")  # type: ignore[attr-defined]
    vonage.check("wrong")  # type: ignore[attr-defined]
    vonage.control("next", "refused")  # type: ignore[attr-defined]
    with caplog.at_level(logging.DEBUG):
        client.post("/request-otp", json={"phoneNumber": "+14155552671"})  # type: ignore[attr-defined]
        client.post("/check-otp", json={"code": "000000"})  # type: ignore[attr-defined]
        client.post("/request-otp", json={"phoneNumber": "+14155552671"}, environ_base={  # type: ignore[attr-defined]
            "REMOTE_ADDR": "192.0.2.1"})
        client.post("/resend-otp", json={})  # type: ignore[attr-defined]

    assert [r for r in caplog.records if r.name.startswith("vonage")] == []
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
    assert {"wrong_code", "in_progress"} <= {getattr(r, "outcome", None) for r in caplog.records}


def test_every_setting_is_documented_in_the_readme_and_env_example() -> None:
    root = Path(__file__).resolve().parent.parent
    readme = (root / "README.md").read_text()
    example = (root / ".env.example").read_text()
    # prometheus_client's own variable is set by gunicorn.conf.py, not by the operator.
    names = set(load_settings({"OTP_PROVIDER": "console"}).model_dump()) - {"PROMETHEUS_MULTIPROC_DIR"}

    assert [n for n in sorted(names) if f"`{n}`" not in readme] == []
    assert [n for n in sorted(names) if not re.search(rf"^#? ?{n}=", example, re.MULTILINE)] == []


def test_the_settings_repr_shows_no_secret(tmp_path: Path) -> None:
    settings = load_settings({"OTP_PROVIDER": "console", "VONAGE_API_SECRET": "hunter2",
                              "OTP_CAPTCHA": "turnstile", "OTP_CAPTCHA_SECRET": "captcha-s3cret",
                              "OTP_STORE_URL": "redis://:store-pw@127.0.0.1:6379/0"})

    shown = repr(settings) + str(settings)
    assert settings.VONAGE_API_SECRET == "hunter2"
    assert "hunter2" not in shown and "captcha-s3cret" not in shown and "store-pw" not in shown


def test_a_secret_is_never_repeated_in_a_refusal() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings({"OTP_PROVIDER": "console", "OTP_RECORD_KEY": "short-secret",
                       "OTP_STORE_URL": "postgresql://u:db-pw@h/otp", "OTP_RATELIMIT_STORAGE_URL": "ftp://u:lim-pw@h"})

    assert "OTP_RECORD_KEY" in str(exc.value) and "OTP_RATELIMIT_STORAGE_URL" in str(exc.value)
    for secret in ("short-secret", "db-pw", "lim-pw"):
        assert secret not in str(exc.value)


@pytest.mark.parametrize("url", ["async+redis://127.0.0.1:6379", "nosuch://host", "memcached://127.0.0.1:11211"])
def test_a_rate_limit_storage_the_service_cannot_count_on_stops_startup(url: str) -> None:
    with pytest.raises(ConfigError, match="OTP_RATELIMIT_STORAGE_URL must start with one of memory://, redis://"):
        load_settings({"OTP_PROVIDER": "console", "OTP_RATELIMIT_STORAGE_URL": url})
