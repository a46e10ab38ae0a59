"""With the vonage provider, no code, secret, Authorization header or full number reaches the logs."""

from __future__ import annotations

import base64
import logging

import pytest
import requests
import responses

from app import create_app
from app.phone import mask

from .conftest import API_SECRET, CHECK_URL, NUMBER, SETTINGS, START_URL, answer_start


@pytest.mark.parametrize(("number", "masked"), [("+14155552671", "+1415*****71"),
                                                ("+447700900123", "+4477******23"),
                                                ("+3612345", "+3612*45")])
def test_mask(number: str, masked: str) -> None:
    assert mask(number) == masked


def test_full_flow_with_faults_logs_nothing_secret(vonage: responses.RequestsMock,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = create_app(dict(SETTINGS)).test_client()
    wrong, right = "918273", "564738"
    answer_start(vonage, request_id="req-log")
    vonage.add(responses.POST, CHECK_URL, json={"request_id": "req-log", "status": "16",
                                                "error_text": "The code inserted does not match"})
    vonage.add(responses.POST, CHECK_URL, status=500, json={"error": "internal"})
    vonage.add(responses.POST, CHECK_URL, body=requests.ConnectionError("refused"))
    vonage.add(responses.POST, CHECK_URL, json={"request_id": "req-log", "status": "5", "error_text": "oops"})
    vonage.add(responses.POST, CHECK_URL, json={"request_id": "req-log", "status": "0", "event_id": "e",
                                                "price": "0.1", "currency": "EUR"})

    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    statuses = [client.post("/check-otp", json={"phoneNumber": NUMBER, "code": code}).status_code
                for code in (wrong, wrong, wrong, wrong, right)]
    vonage.replace(responses.POST, START_URL, json={"status": "4", "error_text": "Bad Credentials"})
    assert client.post("/request-otp", json={"phoneNumber": "+447911123456"}).status_code == 503

    assert statuses == [401, 502, 503, 502, 200]
    text = caplog.text
    assert "+1415*****71" in text  # the log still says whose verification it was
    for secret in (wrong, right, API_SECRET, base64.b64encode(f"testkey:{API_SECRET}".encode()).decode(),
                   "Authorization", NUMBER, NUMBER[1:], "+447911123456", "447911123456"):
        assert secret not in text, secret
