"""POST /check-otp: the pending entry is kept on a typo and on faults, removed when the attempt is over."""

from __future__ import annotations

import pytest
import requests
import responses
from flask import Flask
from flask.testing import FlaskClient

from .conftest import CHECK_URL, NUMBER, START_URL, answer_check, answer_start, basic_auth, calls_to, form_of


@pytest.fixture
def pending(client: FlaskClient, vonage: responses.RequestsMock) -> str:
    """A verification started for NUMBER, as Vonage's request id."""
    answer_start(vonage, request_id="req-0001")
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    return "req-0001"


def check(client: FlaskClient, code: str = "123456", number: str = NUMBER, form: bool = False):  # type: ignore[no-untyped-def]
    body = {"phoneNumber": number, "code": code}
    return client.post("/check-otp", data=body) if form else client.post("/check-otp", json=body)


def test_right_code_gets_200_and_cannot_be_used_twice(client: FlaskClient, vonage: responses.RequestsMock,
                                                      app: Flask, pending: str) -> None:
    answer_check(vonage, "0", request_id=pending)

    resp = check(client, "123456")

    assert resp.status_code == 200
    assert "message" in resp.json
    assert pending not in resp.get_data(as_text=True) and "123456" not in resp.get_data(as_text=True)
    [call] = calls_to(vonage, CHECK_URL)
    assert form_of(call) == {"request_id": pending, "code": "123456"}
    assert call.request.headers["Authorization"] == basic_auth()
    assert app.extensions["otp_store"].get(NUMBER) is None
    again = check(client, "123456")
    assert again.status_code == 404
    assert again.json["code"] == "no_pending_verification"
    assert len(calls_to(vonage, CHECK_URL)) == 1


def test_form_encoded_check_and_another_spelling_of_the_number(client: FlaskClient,
                                                                vonage: responses.RequestsMock,
                                                                pending: str) -> None:
    answer_check(vonage, "0", request_id=pending)

    resp = check(client, "123456", number="+1 415-555-2671", form=True)

    assert resp.status_code == 200


def test_wrong_code_gets_401_and_the_person_can_try_again(client: FlaskClient, vonage: responses.RequestsMock,
                                                          app: Flask, pending: str) -> None:
    answer_check(vonage, "16", request_id=pending)

    resp = check(client, "000000")

    assert resp.status_code == 401
    assert resp.json["code"] == "wrong_code"
    assert pending not in resp.get_data(as_text=True) and "000000" not in resp.get_data(as_text=True)
    assert app.extensions["otp_store"].get(NUMBER) == pending
    vonage.replace(responses.POST, CHECK_URL, json={"request_id": pending, "status": "0", "event_id": "e",
                                                    "price": "0.1", "currency": "EUR"})
    assert check(client, "123456").status_code == 200


@pytest.mark.parametrize(("status", "code"), [("17", "too_many_attempts"), ("6", "code_expired"),
                                              ("101", "code_expired")])
def test_finished_attempt_gets_410_and_a_new_code_can_be_requested(
        client: FlaskClient, vonage: responses.RequestsMock, app: Flask, pending: str, status: str,
        code: str) -> None:
    answer_check(vonage, status, request_id=pending)

    resp = check(client, "000000")

    assert resp.status_code == 410
    assert resp.json["code"] == code
    assert app.extensions["otp_store"].get(NUMBER) is None
    assert check(client, "000000").status_code == 404
    vonage.replace(responses.POST, START_URL, json={"request_id": "req-0002", "status": "0"})
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    assert app.extensions["otp_store"].get(NUMBER) == "req-0002"


def test_no_pending_verification_gets_404_without_calling_vonage(client: FlaskClient,
                                                                  vonage: responses.RequestsMock) -> None:
    resp = check(client, "123456")

    assert resp.status_code == 404
    assert resp.json["code"] == "no_pending_verification"
    assert len(vonage.calls) == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"code": "123456"}, "invalid_request"),
        ({"phoneNumber": NUMBER}, "invalid_request"),
        ({"phoneNumber": NUMBER, "code": 123456}, "invalid_request"),
        ({"phoneNumber": 14155552671, "code": "123456"}, "invalid_request"),
        ({"phoneNumber": NUMBER, "code": ""}, "invalid_request"),
        ({"phoneNumber": NUMBER, "code": "123"}, "invalid_code_format"),
        ({"phoneNumber": NUMBER, "code": "12345678901"}, "invalid_code_format"),
        ({"phoneNumber": NUMBER, "code": "12a456"}, "invalid_code_format"),
        ({"phoneNumber": NUMBER, "code": "١٢٣٤٥٦"}, "invalid_code_format"),
        ({"phoneNumber": NUMBER, "code": "123 456"}, "invalid_code_format"),
        ({"phoneNumber": "12345", "code": "123456"}, "invalid_phone_number"),
    ],
)
def test_bad_input_gets_400_and_never_reaches_vonage(client: FlaskClient, vonage: responses.RequestsMock,
                                                     pending: str, body: dict[str, object], code: str) -> None:
    resp = client.post("/check-otp", json=body)

    assert resp.status_code == 400
    assert resp.json["code"] == code
    assert calls_to(vonage, CHECK_URL) == []


@pytest.mark.parametrize(
    ("mock", "http"),
    [
        ({"body": requests.ConnectionError("refused")}, 503),
        ({"body": requests.ReadTimeout("timed out")}, 504),
        ({"status": 500, "json": {"error": "boom"}}, 502),
        ({"status": 503, "body": "down"}, 503),
        ({"status": 200, "body": "not json"}, 502),
        ({"json": {"request_id": "req-0001", "status": "5", "error_text": "internal"}}, 502),
        ({"json": {"request_id": "req-0001", "status": "1", "error_text": "throttled"}}, 503),
    ],
)
def test_faults_during_the_check_keep_the_entry(client: FlaskClient, vonage: responses.RequestsMock, app: Flask,
                                                pending: str, mock: dict[str, object], http: int) -> None:
    vonage.add(responses.POST, CHECK_URL, **mock)  # type: ignore[arg-type]

    resp = check(client, "123456")

    assert resp.status_code == http
    assert app.extensions["otp_store"].get(NUMBER) == pending
    vonage.replace(responses.POST, CHECK_URL, json={"request_id": pending, "status": "0", "event_id": "e",
                                                    "price": "0.1", "currency": "EUR"})
    assert check(client, "123456").status_code == 200


def test_leading_and_trailing_spaces_around_the_code_are_ignored(client: FlaskClient,
                                                                 vonage: responses.RequestsMock,
                                                                 pending: str) -> None:
    answer_check(vonage, "0", request_id=pending)

    assert check(client, " 123456 ").status_code == 200
    assert form_of(calls_to(vonage, CHECK_URL)[0])["code"] == "123456"
