"""POST /request-otp against the real SDK, with Vonage answered by `responses`, for legacy and v2."""

from __future__ import annotations

from http.client import RemoteDisconnected

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from urllib3.exceptions import ProtocolError

from .conftest import NUMBER, SDK_NUMBER, FakeVonage, MakeApp, basic_auth, cookie_vid, pending_rid


def test_accepted_request_answers_200_and_stores_the_request(client: FlaskClient, vonage: FakeVonage,
                                                             app: Flask) -> None:
    vonage.start("ok", rid="req-abc")

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == 200
    assert "message" in resp.json
    assert resp.json["expiresIn"] == 300
    [call] = vonage.calls("start")
    assert call.request.headers["Authorization"] == basic_auth()
    assert vonage.sent_number(call) == SDK_NUMBER
    assert pending_rid(app) == "req-abc"
    assert "req-abc" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("api", ["legacy"])
def test_legacy_start_is_a_form_with_the_settings(client: FlaskClient, vonage: FakeVonage) -> None:
    vonage.start("ok")

    client.post("/request-otp", json={"phoneNumber": NUMBER})

    [call] = vonage.calls("start")
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert vonage.sent(call) == {"number": SDK_NUMBER, "brand": "AcmeTest", "code_length": "6",
                                 "pin_expiry": "300", "workflow_id": "1"}


@pytest.mark.parametrize("api", ["v2"])
def test_v2_start_is_json_with_the_settings(settings: dict[str, str], vonage: FakeVonage, make_app: MakeApp) -> None:
    settings.update(VONAGE_WORKFLOW="sms,voice", VONAGE_LOCALE="en-gb", VONAGE_CODE_LENGTH="8",
                    VONAGE_PIN_EXPIRY="120")
    vonage.start("ok")

    resp = make_app(settings).test_client().post("/request-otp", json={"phoneNumber": NUMBER})

    [call] = vonage.calls("start")
    assert call.request.headers["Content-Type"] == "application/json"
    assert vonage.sent(call) == {"brand": "AcmeTest", "locale": "en-gb", "channel_timeout": 120, "code_length": 8,
                                 "workflow": [{"channel": "sms", "to": SDK_NUMBER},
                                              {"channel": "voice", "to": SDK_NUMBER}]}
    assert resp.json["expiresIn"] == 240  # the request lives through both channels


@pytest.mark.parametrize("api", ["v2"])
def test_v2_whatsapp_channel_carries_its_sender(settings: dict[str, str], vonage: FakeVonage,
                                                make_app: MakeApp) -> None:
    settings.update(VONAGE_WORKFLOW="whatsapp,sms", VONAGE_WHATSAPP_FROM="447700900001")
    vonage.start("ok")

    make_app(settings).test_client().post("/request-otp", json={"phoneNumber": NUMBER})

    assert vonage.sent(vonage.calls("start")[0])["workflow"][0] == {"channel": "whatsapp", "to": SDK_NUMBER,
                                                                      "from": "447700900001"}


def test_sdk_calls_carry_the_configured_timeout(settings: dict[str, str], vonage: FakeVonage,
                                                make_app: MakeApp) -> None:
    settings["VONAGE_TIMEOUT"] = "3"
    vonage.start("ok")

    assert make_app(settings).test_client().post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    timeout = vonage.calls("start")[0].request.req_kwargs["timeout"]
    assert timeout.total == 3  # connecting and the wait for the answer together (urllib3.Timeout)


@pytest.mark.parametrize("api", ["legacy"])
def test_legacy_settings_reach_the_start_request(settings: dict[str, str], vonage: FakeVonage,
                                                 make_app: MakeApp) -> None:
    settings.update(VONAGE_CODE_LENGTH="4", VONAGE_PIN_EXPIRY="120", VONAGE_WORKFLOW_ID="6",
                    VONAGE_BRAND="Other Brand", VONAGE_API_HOST="eu.example.test:8443")
    vonage.mock.add("POST", "https://eu.example.test:8443/verify/json", json={"request_id": "r", "status": "0"})

    resp = make_app(settings).test_client().post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == 200
    assert vonage.sent(vonage.mock.calls[0]) == {"number": SDK_NUMBER, "brand": "Other Brand", "code_length": "4",
                                                 "pin_expiry": "120", "workflow_id": "6"}


def test_form_encoded_body_is_accepted(client: FlaskClient, vonage: FakeVonage) -> None:
    vonage.start("ok")

    resp = client.post("/request-otp", data={"phoneNumber": NUMBER})

    assert resp.status_code == 200
    assert vonage.sent_number(vonage.calls("start")[0]) == SDK_NUMBER


@pytest.mark.parametrize("spelling", ["+1 (415) 555-2671", "+1-415-555-2671", " +14155552671 ", "+1.415.555.2671",
                                      # typed with an Arabic keyboard's digits, and in an East Asian IME's full width
                                      "+\u0661\u0664\u0661\u0665\u0665\u0665\u0665\u0662\u0666\u0667\u0661",
                                      "\uff0b\uff11 \uff14\uff11\uff15 \uff15\uff15\uff15 \uff12\uff16\uff17\uff11"])
def test_number_is_normalised_to_e164(client: FlaskClient, vonage: FakeVonage, app: Flask, spelling: str) -> None:
    vonage.start("ok", rid="req-n")

    assert client.post("/request-otp", json={"phoneNumber": spelling}).status_code == 200
    assert vonage.sent_number(vonage.calls("start")[0]) == SDK_NUMBER
    assert pending_rid(app) == "req-n"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "invalid_request"),
        ({"phoneNumber": ""}, "invalid_request"),
        ({"phoneNumber": None}, "invalid_request"),
        ({"phoneNumber": 14155552671}, "invalid_request"),
        ({"phoneNumber": ["+14155552671"]}, "invalid_request"),
        ({"phoneNumber": "12345"}, "invalid_phone_number"),
        ({"phoneNumber": "+999"}, "invalid_phone_number"),
        ({"phoneNumber": "+44 20"}, "invalid_phone_number"),
        ({"phoneNumber": "14155552671"}, "invalid_phone_number"),
        ({"phoneNumber": "not a number"}, "invalid_phone_number"),
        ({"phoneNumber": "+1" + "4" * 100}, "invalid_phone_number"),
    ],
)
def test_bad_numbers_get_400_and_never_reach_vonage(client: FlaskClient, vonage: FakeVonage,
                                                     body: dict[str, object], code: str) -> None:
    resp = client.post("/request-otp", json=body)

    assert resp.status_code == 400
    assert resp.json["code"] == code
    assert isinstance(resp.json["error"], str) and resp.json["error"]
    assert len(vonage.mock.calls) == 0


def test_form_without_phone_number_gets_400(client: FlaskClient, vonage: FakeVonage) -> None:
    resp = client.post("/request-otp", data={"phone": NUMBER})

    assert resp.status_code == 400
    assert resp.json["code"] == "invalid_request"
    assert "phoneNumber" in resp.json["error"]
    assert len(vonage.mock.calls) == 0


def test_form_body_with_an_unencoded_plus_gets_a_hint(client: FlaskClient, vonage: FakeVonage) -> None:
    resp = client.post("/request-otp", data="phoneNumber=+14155552671",
                       content_type="application/x-www-form-urlencoded")

    assert resp.status_code == 400
    assert resp.json["code"] == "invalid_phone_number"
    assert "%2B" in resp.json["error"]
    assert len(vonage.mock.calls) == 0


def test_concurrent_request_gets_409_and_the_first_code_stays_checkable(client: FlaskClient,
                                                                        vonage: FakeVonage) -> None:
    vonage.start("ok", rid="req-first")  # the only start Vonage sees: the second is answered from the store
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == 409
    assert resp.json["code"] == "verification_in_progress"
    assert "req-first" not in resp.get_data(as_text=True)
    vonage.check("ok", rid="req-first")
    assert client.post("/check-otp", json={"phoneNumber": NUMBER, "code": "123456"}).status_code == 200
    assert vonage.sent(vonage.calls("check", "req-first")[0])["code"] == "123456"


def test_a_start_whose_answer_was_lost_stays_with_the_caller_that_asked(client: FlaskClient, vonage: FakeVonage,
                                                                         app: Flask) -> None:
    """Vonage accepted a start whose answer never arrived: its caller holds the verification, nobody else."""
    vonage.raw("start", body=requests.ReadTimeout("read timed out"))
    vonage.start("in_progress", rid="req-lost")  # asked again by the check: the request in progress

    lost = client.post("/request-otp", json={"phoneNumber": NUMBER})
    stranger = app.test_client().post("/request-otp", json={"phoneNumber": NUMBER})

    assert (lost.status_code, lost.json["code"]) == (504, "upstream_timeout")
    assert lost.json["verificationId"] == cookie_vid(client)  # the code may arrive: checking it works
    assert (stranger.status_code, stranger.json["code"]) == (409, "verification_in_progress")
    assert "verificationId" not in stranger.json
    vonage.check("ok", rid="req-lost")
    checked = client.post("/check-otp", json={"code": "123456"})
    assert checked.status_code == 200 and checked.json["verificationId"] == lost.json["verificationId"]
    assert "req-lost" not in lost.get_data(as_text=True) + checked.get_data(as_text=True)


@pytest.mark.parametrize(
    ("outcome", "http", "code"),
    [
        ("bad_number", 422, "number_not_supported"),
        ("throttled", 503, "provider_throttled"),
        ("account", 503, "service_unavailable"),
        ("upstream", 502, "upstream_error"),
    ],
)
def test_vonage_refusals_map_to_http_answers(client: FlaskClient, vonage: FakeVonage, app: Flask, outcome: str,
                                             http: int, code: str) -> None:
    vonage.start(outcome)

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == http
    assert resp.json["code"] == code
    assert "status" not in resp.json["error"] and "problem" not in resp.json["error"]
    # Vonage's own failure (5xx) may have come after it sent: the caller keeps the verification then.
    assert pending_rid(app) == ("" if outcome == "upstream" else None)
    assert ("verificationId" in resp.json) is (outcome == "upstream")


@pytest.mark.parametrize("api", ["legacy"])
@pytest.mark.parametrize(
    ("status", "http", "code"),
    [("3", 422, "number_not_supported"), ("7", 422, "number_not_supported"), ("15", 422, "number_not_supported"),
     ("29", 422, "number_not_supported"), ("1", 503, "provider_throttled"), ("4", 503, "service_unavailable"),
     ("8", 503, "service_unavailable"), ("9", 503, "service_unavailable"), ("5", 502, "upstream_error"),
     ("2", 502, "upstream_error"), ("42", 502, "upstream_error")],
)
def test_every_legacy_status(client: FlaskClient, vonage: FakeVonage, status: str, http: int, code: str) -> None:
    vonage.raw("start", json={"status": status, "error_text": "SECRET-DETAIL from Vonage"})

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert (resp.status_code, resp.json["code"]) == (http, code)
    assert "SECRET-DETAIL" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("api", ["v2"])
@pytest.mark.parametrize(
    ("http_status", "expected", "code"),
    [(422, 422, "number_not_supported"), (401, 503, "service_unavailable"), (402, 503, "service_unavailable"),
     (403, 503, "service_unavailable"), (429, 503, "provider_throttled"), (400, 502, "upstream_error"),
     (500, 502, "upstream_error"), (503, 503, "upstream_unavailable")],
)
def test_every_v2_start_status(client: FlaskClient, vonage: FakeVonage, http_status: int, expected: int,
                               code: str) -> None:
    vonage.raw("start", status=http_status, json={"title": "SECRET-DETAIL", "detail": "from Vonage"})

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert (resp.status_code, resp.json["code"]) == (expected, code)
    assert "SECRET-DETAIL" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("outcome", ["throttled", "account"])
def test_unavailable_answers_carry_retry_after(client: FlaskClient, vonage: FakeVonage, outcome: str) -> None:
    vonage.start(outcome)

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert int(resp.headers["Retry-After"]) > 0


@pytest.mark.parametrize("api", ["legacy"])
def test_credential_details_go_to_the_log_only(client: FlaskClient, vonage: FakeVonage,
                                               caplog: pytest.LogCaptureFixture) -> None:
    vonage.raw("start", json={"status": "4", "error_text": "Bad Credentials"})

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == 503
    assert "Credentials" not in resp.get_data(as_text=True)
    assert "status=4" in caplog.text and "Bad Credentials" in caplog.text


@pytest.mark.parametrize(
    ("fault", "http", "code", "kept"),
    [
        # A connection that went down after the request went out, or no answer: Vonage may have sent.
        (requests.ConnectionError("connection refused"), 503, "upstream_unavailable", True),
        (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))),
         503, "upstream_unavailable", True),
        (requests.ConnectionError(ProtocolError("Connection aborted.", RemoteDisconnected("closed"))),
         503, "upstream_unavailable", True),
        (requests.ReadTimeout("read timed out"), 504, "upstream_timeout", True),
        # No connection was ever made: nothing was sent, the number is free again.
        (requests.ConnectTimeout("connect timed out"), 504, "upstream_timeout", False),
    ],
)
def test_network_faults_on_start(client: FlaskClient, vonage: FakeVonage, app: Flask, fault: Exception, http: int,
                                 code: str, kept: bool) -> None:
    vonage.raw("start", body=fault)

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == http
    assert resp.json["code"] == code
    assert pending_rid(app) == ("" if kept else None)
    assert ("verificationId" in resp.json) is kept


@pytest.mark.parametrize(
    ("http_status", "body", "content_type", "expected", "code"),
    [
        (200, "<html>gateway</html>", "text/html", 502, "upstream_error"),
        (200, "", "application/json", 502, "upstream_error"),
        (200, "[1, 2]", "application/json", 502, "upstream_error"),
        (500, '{"error": "internal"}', "application/json", 502, "upstream_error"),
        (502, "Bad Gateway", "text/plain", 502, "upstream_error"),
        (503, "Service Unavailable", "text/plain", 503, "upstream_unavailable"),
        (401, '{"error_title": "Unauthorized"}', "application/json", 503, "service_unavailable"),
        (429, '{"error_title": "Too Many"}', "application/json", 503, "provider_throttled"),
    ],
)
def test_bad_http_answers_on_start(client: FlaskClient, vonage: FakeVonage, http_status: int, body: str,
                                   content_type: str, expected: int, code: str) -> None:
    vonage.raw("start", status=http_status, body=body, content_type=content_type)

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == expected
    assert resp.json["code"] == code
    assert resp.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("api", ["legacy"])
def test_legacy_success_without_a_request_id_is_502(client: FlaskClient, vonage: FakeVonage) -> None:
    vonage.raw("start", json={"status": "0"})

    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 502


def test_proxy_and_ca_bundle_from_the_environment_are_used(settings: dict[str, str], vonage: FakeVonage,
                                                           monkeypatch: pytest.MonkeyPatch, tmp_path,
                                                           make_app: MakeApp) -> None:  # type: ignore[no-untyped-def]
    """requests' environment variables hold, though they are read once at startup rather than per call."""
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not read by the mock")
    monkeypatch.setenv("HTTPS_PROXY", "http://egress.test:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    client = make_app(settings).test_client()
    monkeypatch.delenv("HTTPS_PROXY")
    vonage.start("ok")

    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200

    sent = vonage.calls("start")[0].request.req_kwargs
    assert sent["proxies"]["https"] == "http://egress.test:3128"
    assert sent["verify"] == str(bundle)
