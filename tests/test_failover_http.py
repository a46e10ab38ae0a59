"""OTP_PROVIDER=vonage,twilio through the service and the real SDKs: Vonage (legacy and v2) first, Twilio
second, both mocked at the HTTP level on one `responses` mock."""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import responses
from flask.testing import FlaskClient
from prometheus_client import REGISTRY
from urllib3.exceptions import NewConnectionError

from .conftest import NUMBER, SETTINGS, FakeVonage, MakeApp
from .test_providers import TWILIO, TWILIO_SETTINGS, twilio_error

REFUSED = {"body": requests.ConnectionError(NewConnectionError(None, "refused"))}  # type: ignore[arg-type]


@pytest.fixture
def both(api: str) -> Iterator[FakeVonage]:
    """Vonage's answers and Twilio's on one mock: every answer registered must be asked for."""
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield FakeVonage(api, mock)


@pytest.fixture
def client(make_app: MakeApp, api: str) -> FlaskClient:
    return make_app({**SETTINGS, **TWILIO_SETTINGS, "OTP_PROVIDER": "vonage,twilio", "VONAGE_VERIFY_API": api,
                     "OTP_FAILOVER_THRESHOLD": "2"}).test_client()


def twilio_starts(mock: responses.RequestsMock, sid: str = "VE1", **answer: Any) -> None:
    mock.add(responses.POST, f"{TWILIO}/Verifications", **(answer or {
        "status": 201, "json": {"sid": sid, "status": "pending", "to": NUMBER, "channel": "sms"}}))


def vonage_starts(vonage: FakeVonage, **answer: Any) -> None:
    vonage.mock.add(responses.POST, vonage.start_url(), **answer)


def calls_to(vonage: FakeVonage, url: str) -> int:
    return sum(1 for c in vonage.mock.calls if c.request.url.split("?")[0] == url)


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# Vonage's answers after which it certainly sent nothing, in each API's dialect.
DID_NOT_SEND = {
    "refused": lambda v: vonage_starts(v, **REFUSED),
    "http_503": lambda v: vonage_starts(v, status=503, json={"title": "Service Unavailable"}),
    "throttled": lambda v: v.start("throttled"),
    "account": lambda v: v.start("account"),
}


@pytest.mark.parametrize("fault", DID_NOT_SEND)
def test_a_start_vonage_certainly_did_not_send_is_made_on_twilio_in_the_same_request(
        client: FlaskClient, both: FakeVonage, fault: str, caplog: pytest.LogCaptureFixture) -> None:
    DID_NOT_SEND[fault](both)
    twilio_starts(both.mock)
    both.mock.add(responses.POST, f"{TWILIO}/VerificationCheck", json={"sid": "VE1", "status": "approved"})
    before = sum(metric("otp_failovers_total", from_provider="vonage", to_provider="twilio", reason=r)
                 for r in ("upstream_unavailable", "provider_throttled", "service_unavailable"))

    with caplog.at_level(logging.INFO):
        started = client.post("/request-otp", json={"phoneNumber": NUMBER})
        checked = client.post("/check-otp", json={"verificationId": started.json["verificationId"], "code": "123456"})

    assert started.status_code == 200 and started.json["expiresIn"] == 600
    assert checked.status_code == 200 and checked.json["verified"] is True
    check = [c for c in both.mock.calls if c.request.url.endswith("VerificationCheck")][0]
    assert urllib.parse.parse_qs(check.request.body)["VerificationSid"] == ["VE1"]
    after = sum(metric("otp_failovers_total", from_provider="vonage", to_provider="twilio", reason=r)
                for r in ("upstream_unavailable", "provider_throttled", "service_unavailable"))
    assert after - before == 1
    assert [r.to_provider for r in caplog.records if getattr(r, "event", "") == "provider_failover"] == ["twilio"]
    assert NUMBER not in caplog.text and "123456" not in caplog.text


MAY_HAVE_SENT = {
    "read_timeout": (lambda v: vonage_starts(v, body=requests.ReadTimeout("read timed out")), 504),
    "dropped": (lambda v: vonage_starts(v, body=requests.ConnectionError("Connection aborted: RemoteDisconnected")),
                503),
    "http_500": (lambda v: vonage_starts(v, status=500, json={"title": "Internal Error"}), 502),
    "upstream": (lambda v: v.start("upstream"), 502),
}


@pytest.mark.parametrize("fault", MAY_HAVE_SENT)
def test_a_start_that_may_have_reached_vonage_is_never_repeated_on_twilio(client: FlaskClient, both: FakeVonage,
                                                                          fault: str) -> None:
    register, status = MAY_HAVE_SENT[fault]
    register(both)

    answer = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert answer.status_code == status  # as with Vonage alone
    assert not [c for c in both.mock.calls if "twilio" in c.request.url]


def test_a_number_vonage_refuses_goes_nowhere_else(client: FlaskClient, both: FakeVonage) -> None:
    both.start("bad_number")

    answer = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert answer.status_code == 422 and answer.json["code"] == "number_not_supported"
    assert not [c for c in both.mock.calls if "twilio" in c.request.url]


def test_an_outage_opens_vonages_breaker_and_starts_go_to_twilio_directly(client: FlaskClient,
                                                                           both: FakeVonage) -> None:
    vonage_starts(both, **REFUSED)
    vonage_starts(both, status=503, json={"title": "Service Unavailable"})
    for n in range(4):
        twilio_starts(both.mock, sid=f"VE{n}")

    answers = [client.post("/request-otp", json={"phoneNumber": f"+1415555267{n}"}) for n in range(4)]

    assert [a.status_code for a in answers] == [200] * 4
    assert calls_to(both, both.start_url()) == 2  # the threshold is 2: the last two never asked Vonage
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["providers"] == {"vonage": "open", "twilio": "closed"}
    exposed = client.get("/metrics").get_data(as_text=True)
    assert 'otp_provider_state{provider="vonage",state="open"} 1.0' in exposed
    assert 'otp_failovers_total{from_provider="vonage",reason="open",to_provider="twilio"}' in exposed


def test_every_provider_down_is_503_with_retry_after_and_nothing_stored(client: FlaskClient,
                                                                        both: FakeVonage) -> None:
    for _ in range(2):
        vonage_starts(both, **REFUSED)
        twilio_starts(both.mock, **twilio_error(503, 20503))

    answers = [client.post("/request-otp", json={"phoneNumber": NUMBER}) for _ in range(3)]

    assert [a.status_code for a in answers] == [503] * 3
    assert answers[2].json["code"] == "providers_unavailable" and int(answers[2].headers["Retry-After"]) >= 1
    assert client.get("/readyz").json["code"] == "providers_unavailable"
    assert client.application.extensions["otp_store"].latest(NUMBER) is None


def test_a_resend_vonage_cannot_take_is_a_new_code_from_twilio_for_the_same_verification(
        client: FlaskClient, both: FakeVonage) -> None:
    both.start()
    started = client.post("/request-otp", json={"phoneNumber": NUMBER})
    vid = started.json["verificationId"]
    both.mock.add(responses.POST, both.next_url(), **REFUSED)
    both.mock.add(responses.POST if both.api == "legacy" else responses.DELETE, both.cancel_url(), **REFUSED)
    twilio_starts(both.mock, sid="VE9")
    both.mock.add(responses.POST, f"{TWILIO}/VerificationCheck", json={"sid": "VE9", "status": "approved"})

    resent = client.post("/resend-otp", json={"verificationId": vid})
    checked = client.post("/check-otp", json={"verificationId": vid, "code": "123456"})

    assert resent.status_code == 200, resent.json
    assert resent.json["newCode"] is True and resent.json["expiresIn"] == 600 and resent.json["channel"] == "sms"
    assert checked.status_code == 200 and checked.json["verified"] is True


def test_an_ordinary_resend_says_it_is_the_same_code(client: FlaskClient, both: FakeVonage) -> None:
    both.start()
    vid = client.post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]
    both.control("next")

    resent = client.post("/resend-otp", json={"verificationId": vid})

    assert resent.status_code == 200 and resent.json["newCode"] is False and "expiresIn" not in resent.json


def test_both_providers_settings_are_checked_at_startup(make_app: MakeApp) -> None:
    from app.settings import ConfigError

    with pytest.raises(ConfigError, match="TWILIO_ACCOUNT_SID"):
        make_app(SETTINGS, OTP_PROVIDER="vonage,twilio")
    with pytest.raises(ConfigError, match="stands alone"):
        make_app(SETTINGS, OTP_PROVIDER="console,vonage")
    with pytest.raises(ConfigError, match="twice"):
        make_app(SETTINGS, OTP_PROVIDER="vonage,vonage")
