"""The console provider: the whole flow without a Vonage account, with Vonage's rules."""

from __future__ import annotations

import logging
import re

import pytest
from flask.testing import FlaskClient

from app import phone

from .conftest import NUMBER, MakeApp


@pytest.fixture
def console_client(make_app: MakeApp) -> FlaskClient:
    return make_app({"OTP_PROVIDER": "console", "OTP_RESEND_COOLDOWN": "0"}).test_client()


def printed_code(caplog: pytest.LogCaptureFixture, number: str = NUMBER) -> str:
    lines = [r.getMessage() for r in caplog.records if r.name == "app.console"]
    assert len(lines) == 1, lines
    assert number not in lines[0]  # the number masked, as in every log line
    match = re.search(re.escape(phone.mask(number)) + r" is (\d+)", lines[0])
    assert match, lines[0]
    return match.group(1)


def test_startup_says_loudly_that_codes_are_printed(caplog: pytest.LogCaptureFixture, make_app: MakeApp) -> None:
    with caplog.at_level(logging.INFO):
        make_app({"OTP_PROVIDER": "console"})

    assert any(r.levelno >= logging.WARNING and "console" in r.getMessage().lower() for r in caplog.records)


def test_whole_flow_with_the_printed_code(console_client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        started = console_client.post("/request-otp", json={"phoneNumber": NUMBER})
    assert started.status_code == 200
    code = printed_code(caplog)
    vid = started.json["verificationId"]

    assert re.fullmatch(r"[0-9]{6}", code)
    verified = console_client.post("/check-otp", json={"verificationId": vid, "code": code})
    assert verified.status_code == 200 and verified.json["token"].count(".") == 2
    assert console_client.post("/check-otp", json={"verificationId": vid, "code": code}).status_code == 404


def test_three_wrong_codes_end_the_attempt(console_client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        console_client.post("/request-otp", json={"phoneNumber": NUMBER})
    wrong = "1234567" if printed_code(caplog) != "1234567" else "7654321"

    answers = [console_client.post("/check-otp", json={"phoneNumber": NUMBER, "code": wrong}) for _ in range(3)]

    assert [a.status_code for a in answers] == [401, 401, 410]
    assert answers[2].json["code"] == "too_many_attempts"
    assert console_client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200


def test_second_request_while_pending_is_409(console_client: FlaskClient) -> None:
    assert console_client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    assert console_client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 409


def test_code_length_setting(caplog: pytest.LogCaptureFixture, make_app: MakeApp) -> None:
    client = make_app({"OTP_PROVIDER": "console", "VONAGE_CODE_LENGTH": "4"}).test_client()

    with caplog.at_level(logging.INFO):
        assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200

    assert re.fullmatch(r"[0-9]{4}", printed_code(caplog))


def test_resend_prints_the_same_code_again_until_no_step_is_left(caplog: pytest.LogCaptureFixture,
                                                                 make_app: MakeApp) -> None:
    console_client = make_app({"OTP_PROVIDER": "console", "OTP_RESEND_COOLDOWN": "0",
                                 "OTP_RATELIMIT_REQUEST_NUMBER": "10/minute"}).test_client()
    with caplog.at_level(logging.INFO):
        console_client.post("/request-otp", json={"phoneNumber": NUMBER})
        first = printed_code(caplog)
        caplog.clear()
        assert console_client.post("/resend-otp", json={"phoneNumber": NUMBER}).status_code == 200
        assert printed_code(caplog) == first
        assert console_client.post("/resend-otp", json={"phoneNumber": NUMBER}).status_code == 200
        refused = console_client.post("/resend-otp", json={"phoneNumber": NUMBER})

    assert refused.status_code == 409  # three deliveries, as Vonage allows
    assert console_client.post("/check-otp", json={"phoneNumber": NUMBER, "code": first}).status_code == 200


def test_cancel_ends_the_console_verification(console_client: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        vid = console_client.post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]
    code = printed_code(caplog)

    assert console_client.post("/cancel-otp", json={"phoneNumber": NUMBER}).status_code == 200
    assert console_client.post("/check-otp", json={"verificationId": vid, "code": code}).status_code == 404
    assert console_client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
