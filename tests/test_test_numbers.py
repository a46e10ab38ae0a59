"""Test numbers (OTP_TEST_NUMBERS): fixed codes, nothing sent, the caller's limits only, a token that says so."""

from __future__ import annotations

import logging
from collections.abc import Callable

import jwt
import pytest
import redis
from flask.testing import FlaskClient

from app.settings import ConfigError, load_settings

from .conftest import REDIS_URL, SETTINGS, FakeVonage, MakeApp

# Twilio's magic number (a personal number to phonenumbers), Ofcom's drama range (invalid to phonenumbers).
MAGIC, DRAMA = "+15005550006", "+447700900123"
CODES = {MAGIC: "123456", DRAMA: "8642"}
LISTED = f"{MAGIC}=123456, +44 7700 900123=8642"

# Builds a test client of an app with the given settings.
Clients = Callable[..., FlaskClient]


@pytest.fixture
def testing(make_app: MakeApp, settings: dict[str, str],
            clean_redis_pending: redis.Redis) -> Clients:
    """Apps on the test Redis, with both test numbers, the default cooldown and Germany as the only country."""
    base = {k: v for k, v in settings.items() if k != "OTP_RESEND_COOLDOWN"}

    def make(**more: str) -> FlaskClient:
        return make_app({**base, "OTP_STORE_URL": REDIS_URL, "OTP_TEST_NUMBERS": LISTED,
                         "OTP_ALLOWED_COUNTRIES": "DE", **more}).test_client()
    return make


@pytest.fixture
def no_vonage(vonage: FakeVonage) -> FakeVonage:
    """A Vonage stand-in that answers nothing: any call to it fails the request (and the test)."""
    return vonage


@pytest.mark.parametrize("number", [MAGIC, DRAMA, "+1 (500) 555-0006"])
def test_a_test_number_is_verified_with_its_fixed_code_and_nothing_is_sent(
        testing: Clients, no_vonage: FakeVonage, number: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = testing()

    started = client.post("/request-otp", json={"phoneNumber": number, "nonce": "n-1"})

    assert started.status_code == 200, started.json
    listed = started.json["phoneNumber"]
    assert listed in CODES and started.json["channel"] == "test"
    assert started.json["message"] == "This is a test number: no code was sent. Enter its fixed code."
    wrong = client.post("/check-otp", json={"verificationId": started.json["verificationId"], "code": "0000"})
    assert wrong.status_code == 401 and wrong.json["code"] == "wrong_code"
    right = client.post("/check-otp", json={"verificationId": started.json["verificationId"], "code": CODES[listed]})
    assert right.status_code == 200
    claims = jwt.decode(right.json["token"], options={"verify_signature": False})
    assert "test" in claims["amr"] and claims["phone_number"] == listed and claims["nonce"] == "n-1"
    assert len(no_vonage.mock.calls) == 0  # no provider was asked anything
    logged = "\n".join(r.getMessage() + str(r.__dict__) for r in caplog.records)
    assert CODES[listed] not in logged


def test_a_test_number_spends_none_of_the_numbers_limits_or_cooldown(testing: Clients, no_vonage: FakeVonage) -> None:
    client = testing(OTP_RATELIMIT_REQUEST_NUMBER="1/hour", OTP_RATELIMIT_CHECK_NUMBER="2/hour",
                     OTP_RESEND_COOLDOWN="300")

    for _ in range(4):  # start, a wrong code, cancel; again at once: no cooldown, no per-number window
        started = client.post("/request-otp", json={"phoneNumber": MAGIC})
        assert started.status_code == 200, started.json
        verification = started.json["verificationId"]
        assert client.post("/check-otp", json={"verificationId": verification, "code": "9999"}).status_code == 401
        assert client.post("/cancel-otp", json={"verificationId": verification}).status_code == 200
    resend = client.post("/request-otp", json={"phoneNumber": MAGIC}).json["verificationId"]
    assert client.post("/resend-otp", json={"verificationId": resend}).status_code == 200


def test_a_test_numbers_caller_is_still_held_to_its_own_limit(testing: Clients, no_vonage: FakeVonage) -> None:
    client = testing(OTP_RATELIMIT_REQUEST_IP="2/minute")

    answers = [client.post("/request-otp", json={"phoneNumber": number}) for number in (MAGIC, DRAMA, MAGIC)]

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[2].json["limit"] == "client"


def test_too_many_wrong_codes_end_a_test_verification(testing: Clients, no_vonage: FakeVonage) -> None:
    client = testing()
    verification = client.post("/request-otp", json={"phoneNumber": MAGIC}).json["verificationId"]

    statuses = [client.post("/check-otp", json={"verificationId": verification, "code": "1111"}).status_code
                for _ in range(6)]

    assert statuses == [401] * 5 + [410]
    assert client.post("/check-otp", json={"verificationId": verification, "code": "123456"}).status_code == 404


def test_a_test_verification_started_on_one_worker_is_checked_on_another(
        testing: Clients, no_vonage: FakeVonage) -> None:
    first, second = testing(), testing()
    verification = first.post("/request-otp", json={"phoneNumber": DRAMA}).json["verificationId"]

    assert second.post("/check-otp", json={"verificationId": verification, "code": "8642"}).status_code == 200


def test_an_unlisted_number_of_the_same_kinds_is_still_refused(testing: Clients, no_vonage: FakeVonage) -> None:
    client = testing()

    assert client.post("/request-otp", json={"phoneNumber": "+15005550007"}).json["code"] == "country_not_allowed"
    assert client.post("/request-otp", json={"phoneNumber": "+447700900124"}).json["code"] == "invalid_phone_number"


def test_the_setting_names_a_bad_entry_without_quoting_any_code() -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings({**SETTINGS, "OTP_TEST_NUMBERS": "+15005550006=12, 15005550007=123456, +15005550006=999999"})

    text = str(refused.value)
    assert "entry 1 (+1500*****06) must be NUMBER=CODE" in text and "entry 2 must start with '+'" in text
    assert "999999" not in text and "123456" not in text
    settings = load_settings({**SETTINGS, "OTP_TEST_NUMBERS": LISTED})
    assert settings.OTP_TEST_NUMBERS == CODES
    assert "123456" not in repr(settings)
