"""POST /request-otp against the real SDK, with Vonage answered by `responses`."""

from __future__ import annotations

from http.client import RemoteDisconnected

import pytest
import requests
import responses
from flask import Flask
from flask.testing import FlaskClient
from urllib3.exceptions import ProtocolError

from .conftest import (
    CHECK_URL,
    NUMBER,
    SDK_NUMBER,
    START_URL,
    answer_check,
    answer_start,
    basic_auth,
    calls_to,
    form_of,
    make_client,
)


def test_accepted_request_sends_the_form_and_basic_auth(client: FlaskClient, vonage: responses.RequestsMock,
                                                         app: Flask) -> None:
    answer_start(vonage, request_id="req-abc")

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == 200
    assert "message" in resp.json
    assert resp.json["expiresIn"] == 300
    [call] = vonage.calls
    assert call.request.headers["Authorization"] == basic_auth()
    assert call.request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert form_of(call) == {"number": SDK_NUMBER, "brand": "AcmeTest", "code_length": "6",
                             "pin_expiry": "300", "workflow_id": "1"}
    assert app.extensions["otp_store"].get(NUMBER) == "req-abc"
    assert "req-abc" not in resp.get_data(as_text=True)


def test_sdk_calls_carry_the_configured_timeout(settings: dict[str, str], vonage: responses.RequestsMock) -> None:
    settings["VONAGE_TIMEOUT"] = "3"
    client = make_client(settings)
    answer_start(vonage)

    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    assert vonage.calls[0].request.req_kwargs["timeout"] == 3


def test_settings_reach_the_start_request(settings: dict[str, str], vonage: responses.RequestsMock) -> None:
    settings.update(VONAGE_CODE_LENGTH="4", VONAGE_PIN_EXPIRY="120", VONAGE_WORKFLOW_ID="6",
                    VONAGE_BRAND="Other Brand", VONAGE_API_HOST="eu.example.test:8443")
    mock_url = "https://eu.example.test:8443/verify/json"
    vonage.add(responses.POST, mock_url, json={"request_id": "r", "status": "0"})

    resp = make_client(settings).post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == 200
    assert form_of(vonage.calls[0]) == {"number": SDK_NUMBER, "brand": "Other Brand", "code_length": "4",
                                        "pin_expiry": "120", "workflow_id": "6"}


def test_form_encoded_body_is_accepted(client: FlaskClient, vonage: responses.RequestsMock) -> None:
    answer_start(vonage)

    resp = client.post("/request-otp", data={"phoneNumber": NUMBER})

    assert resp.status_code == 200
    assert form_of(vonage.calls[0])["number"] == SDK_NUMBER


@pytest.mark.parametrize("spelling", ["+1 (415) 555-2671", "+1-415-555-2671", " +14155552671 ", "+1.415.555.2671"])
def test_number_is_normalised_to_e164(client: FlaskClient, vonage: responses.RequestsMock, app: Flask,
                                      spelling: str) -> None:
    answer_start(vonage, request_id="req-n")

    assert client.post("/request-otp", json={"phoneNumber": spelling}).status_code == 200
    assert form_of(vonage.calls[0])["number"] == SDK_NUMBER
    assert app.extensions["otp_store"].get(NUMBER) == "req-n"


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
def test_bad_numbers_get_400_and_never_reach_vonage(client: FlaskClient, vonage: responses.RequestsMock,
                                                     body: dict[str, object], code: str) -> None:
    resp = client.post("/request-otp", json=body)

    assert resp.status_code == 400
    assert resp.json["code"] == code
    assert isinstance(resp.json["error"], str) and resp.json["error"]
    assert len(vonage.calls) == 0


def test_form_without_phone_number_gets_400(client: FlaskClient, vonage: responses.RequestsMock) -> None:
    resp = client.post("/request-otp", data={"phone": NUMBER})

    assert resp.status_code == 400
    assert resp.json["code"] == "invalid_request"
    assert "phoneNumber" in resp.json["error"]
    assert len(vonage.calls) == 0


def test_form_body_with_an_unencoded_plus_gets_a_hint(client: FlaskClient, vonage: responses.RequestsMock) -> None:
    resp = client.post("/request-otp", data="phoneNumber=+14155552671",
                       content_type="application/x-www-form-urlencoded")

    assert resp.status_code == 400
    assert resp.json["code"] == "invalid_phone_number"
    assert "%2B" in resp.json["error"]
    assert len(vonage.calls) == 0


def test_concurrent_request_gets_409_and_the_first_code_stays_checkable(
        client: FlaskClient, vonage: responses.RequestsMock, app: Flask) -> None:
    answer_start(vonage, request_id="req-first")
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    vonage.replace(responses.POST, START_URL,
                   json={"request_id": "req-first", "status": "10", "error_text": "Concurrent verifications"})

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == 409
    assert resp.json["code"] == "verification_in_progress"
    assert "req-first" not in resp.get_data(as_text=True)
    answer_check(vonage, "0", request_id="req-first")
    assert client.post("/check-otp", json={"phoneNumber": NUMBER, "code": "123456"}).status_code == 200
    assert form_of(calls_to(vonage, CHECK_URL)[0]) == {"request_id": "req-first", "code": "123456"}


def test_409_restores_a_lost_entry_from_vonages_answer(client: FlaskClient, vonage: responses.RequestsMock,
                                                       app: Flask) -> None:
    """A first request that timed out after Vonage accepted it left no entry; the 409 brings it back."""
    answer_start(vonage, status="10", request_id="req-lost")

    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 409
    assert app.extensions["otp_store"].get(NUMBER) == "req-lost"


@pytest.mark.parametrize(
    ("status", "http", "code"),
    [
        ("3", 422, "number_not_supported"),
        ("7", 422, "number_not_supported"),
        ("15", 422, "number_not_supported"),
        ("29", 422, "number_not_supported"),
        ("1", 503, "provider_throttled"),
        ("4", 503, "service_unavailable"),
        ("8", 503, "service_unavailable"),
        ("9", 503, "service_unavailable"),
        ("5", 502, "upstream_error"),
        ("2", 502, "upstream_error"),
        ("42", 502, "upstream_error"),
    ],
)
def test_vonage_statuses_map_to_http_answers(client: FlaskClient, vonage: responses.RequestsMock, app: Flask,
                                             status: str, http: int, code: str) -> None:
    answer_start(vonage, status=status, request_id="", error_text="SECRET-DETAIL from Vonage")

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == http
    assert resp.json["code"] == code
    assert "SECRET-DETAIL" not in resp.get_data(as_text=True)
    assert app.extensions["otp_store"].get(NUMBER) is None


@pytest.mark.parametrize("status", ["1", "4", "8", "9"])
def test_unavailable_answers_carry_retry_after(client: FlaskClient, vonage: responses.RequestsMock,
                                               status: str) -> None:
    answer_start(vonage, status=status, request_id="")

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert int(resp.headers["Retry-After"]) > 0


def test_credential_details_go_to_the_log_only(client: FlaskClient, vonage: responses.RequestsMock,
                                               caplog: pytest.LogCaptureFixture) -> None:
    answer_start(vonage, status="4", request_id="", error_text="Bad Credentials")

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == 503
    assert "Credentials" not in resp.get_data(as_text=True)
    assert "status=4" in caplog.text and "Bad Credentials" in caplog.text


@pytest.mark.parametrize(
    ("fault", "http", "code"),
    [
        (requests.ConnectionError("connection refused"), 503, "upstream_unavailable"),
        (requests.ConnectionError(ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))),
         503, "upstream_unavailable"),
        (requests.ConnectionError(ProtocolError("Connection aborted.", RemoteDisconnected("closed"))),
         503, "upstream_unavailable"),
        (requests.ReadTimeout("read timed out"), 504, "upstream_timeout"),
        (requests.ConnectTimeout("connect timed out"), 504, "upstream_timeout"),
    ],
)
def test_network_faults_on_start(client: FlaskClient, vonage: responses.RequestsMock, app: Flask,
                                 fault: Exception, http: int, code: str) -> None:
    vonage.add(responses.POST, START_URL, body=fault)

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == http
    assert resp.json["code"] == code
    assert app.extensions["otp_store"].get(NUMBER) is None


@pytest.mark.parametrize(
    ("http_status", "body", "content_type", "expected", "code"),
    [
        (200, "<html>gateway</html>", "text/html", 502, "upstream_error"),
        (200, "", "application/json", 502, "upstream_error"),
        (200, "[1, 2]", "application/json", 502, "upstream_error"),
        (200, '{"status": "0"}', "application/json", 502, "upstream_error"),
        (500, '{"error": "internal"}', "application/json", 502, "upstream_error"),
        (502, "Bad Gateway", "text/plain", 502, "upstream_error"),
        (503, "Service Unavailable", "text/plain", 503, "upstream_unavailable"),
        (401, '{"error_title": "Unauthorized"}', "application/json", 503, "service_unavailable"),
        (429, '{"error_title": "Too Many"}', "application/json", 503, "provider_throttled"),
    ],
)
def test_bad_http_answers_on_start(client: FlaskClient, vonage: responses.RequestsMock, http_status: int,
                                   body: str, content_type: str, expected: int, code: str) -> None:
    vonage.add(responses.POST, START_URL, status=http_status, body=body, content_type=content_type)

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == expected
    assert resp.json["code"] == code
    assert resp.headers["Content-Type"] == "application/json"
