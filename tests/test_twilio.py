"""OTP_PROVIDER=twilio: the whole flow through the service, Twilio Verify v2 mocked at the HTTP level."""

from __future__ import annotations

import logging
import urllib.parse

import pytest
import responses
from flask.testing import FlaskClient

from app.settings import ConfigError, load_settings

from .conftest import NUMBER, MakeApp
from .test_providers import TWILIO, TWILIO_SETTINGS, twilio_error


@pytest.fixture
def twilio() -> responses.RequestsMock:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def client(make_app: MakeApp) -> FlaskClient:
    return make_app({**TWILIO_SETTINGS, "OTP_RESEND_COOLDOWN": "0"}).test_client()


def verification(sid: str, status: str = "pending", channel: str = "sms") -> dict[str, object]:
    return {"sid": sid, "status": status, "to": NUMBER, "channel": channel}


def test_a_whole_verification_through_twilio(client: FlaskClient, twilio: responses.RequestsMock,
                                             caplog: pytest.LogCaptureFixture) -> None:
    twilio.add(responses.POST, f"{TWILIO}/Verifications", status=201, json=verification("VE1"))
    twilio.add(responses.POST, f"{TWILIO}/VerificationCheck", json=verification("VE1"))  # wrong: still pending
    twilio.add(responses.POST, f"{TWILIO}/Verifications", status=201, json=verification("VE1", channel="call"))
    twilio.add(responses.POST, f"{TWILIO}/VerificationCheck", json=verification("VE1", "approved"))

    with caplog.at_level(logging.DEBUG):
        started = client.post("/request-otp", json={"phoneNumber": NUMBER})
        vid = started.json["verificationId"]
        wrong = client.post("/check-otp", json={"verificationId": vid, "code": "000000"})
        resent = client.post("/resend-otp", json={"verificationId": vid})
        right = client.post("/check-otp", json={"verificationId": vid, "code": "123456"})

    assert started.status_code == 200 and started.json["expiresIn"] == 600
    assert (started.json["channel"], started.json["nextChannel"]) == ("sms", "voice")
    assert wrong.status_code == 401 and wrong.json["code"] == "wrong_code"
    assert resent.status_code == 200 and resent.json["channel"] == "voice"
    assert right.status_code == 200 and right.json["verified"] is True
    checks = [urllib.parse.parse_qs(c.request.body) for c in twilio.calls if c.request.url.endswith("Check")]
    assert all(c["VerificationSid"] == ["VE1"] for c in checks)
    assert "twilio-s3cret-token" not in caplog.text and "123456" not in caplog.text and NUMBER not in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("twilio") and r.levelno < logging.WARNING]


def test_a_second_start_while_one_is_pending_is_409_and_twilio_sends_nothing(
        client: FlaskClient, twilio: responses.RequestsMock) -> None:
    twilio.add(responses.POST, f"{TWILIO}/Verifications", status=201, json=verification("VE1"))
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200

    again = client.post("/request-otp", json={"phoneNumber": NUMBER}, environ_base={"REMOTE_ADDR": "203.0.113.5"})

    assert again.status_code == 409 and again.json["code"] == "verification_in_progress"
    assert "verificationId" not in again.json and len(twilio.calls) == 1


@pytest.mark.parametrize(("http", "code", "status", "answer_code"), [
    (429, 60202, 410, "too_many_attempts"), (404, 20404, 410, "code_expired"), (429, 20429, 503, "provider_throttled")])
def test_twilio_refusals_of_a_check_are_the_services_answers(client: FlaskClient, twilio: responses.RequestsMock,
                                                             http: int, code: int, status: int,
                                                             answer_code: str) -> None:
    twilio.add(responses.POST, f"{TWILIO}/Verifications", status=201, json=verification("VE1"))
    twilio.add(responses.POST, f"{TWILIO}/VerificationCheck", **twilio_error(http, code))  # type: ignore[arg-type]
    vid = client.post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]

    answer = client.post("/check-otp", json={"verificationId": vid, "code": "123456"})

    assert (answer.status_code, answer.json["code"]) == (status, answer_code)


def test_a_cancel_cancels_at_twilio(client: FlaskClient, twilio: responses.RequestsMock) -> None:
    twilio.add(responses.POST, f"{TWILIO}/Verifications", status=201, json=verification("VE1"))
    twilio.add(responses.POST, f"{TWILIO}/Verifications/VE1", json=verification("VE1", "canceled"))
    vid = client.post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]

    assert client.post("/cancel-otp", json={"verificationId": vid}).status_code == 200
    assert urllib.parse.parse_qs(twilio.calls[-1].request.body) == {"Status": ["canceled"]}


@pytest.mark.parametrize(("given", "missing"), [
    ({"TWILIO_ACCOUNT_SID": ""}, "TWILIO_ACCOUNT_SID"),
    ({"TWILIO_AUTH_TOKEN": ""}, "TWILIO_AUTH_TOKEN (or TWILIO_API_KEY_SID and TWILIO_API_KEY_SECRET)"),
    ({"TWILIO_VERIFY_SERVICE_SID": ""}, "TWILIO_VERIFY_SERVICE_SID"),
    ({"TWILIO_AUTH_TOKEN": "", "TWILIO_API_KEY_SID": "SK1"}, "TWILIO_API_KEY_SECRET"),
])
def test_twilio_settings_are_checked_at_startup_without_repeating_a_secret(given: dict[str, str],
                                                                          missing: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings({**TWILIO_SETTINGS, **given})

    assert f"missing {missing}" in str(exc.value) and "twilio-s3cret-token" not in str(exc.value)


def test_twilio_takes_the_proxy_and_ca_bundle_from_the_environment_as_it_starts(
        make_app: MakeApp, twilio: responses.RequestsMock, monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """requests' environment variables hold for Twilio's calls, read once at startup rather than per call."""
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not read by the mock")
    monkeypatch.setenv("HTTPS_PROXY", "http://egress.test:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    client = make_app({**TWILIO_SETTINGS, "OTP_RESEND_COOLDOWN": "0"}).test_client()
    monkeypatch.delenv("HTTPS_PROXY")
    twilio.add(responses.POST, f"{TWILIO}/Verifications", status=201, json=verification("VE1"))

    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200

    sent = twilio.calls[0].request.req_kwargs
    assert sent["proxies"]["https"] == "http://egress.test:3128"
    assert sent["verify"] == str(bundle)
