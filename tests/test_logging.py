"""With the vonage provider, no code, secret, Authorization header, verification id, token or full number
reaches the logs."""

from __future__ import annotations

import base64
import logging

import pytest
import requests

from app.phone import mask

from .conftest import API_SECRET, NUMBER, FakeVonage, MakeApp


@pytest.mark.parametrize(("number", "masked"), [("+14155552671", "+1415*****71"),
                                                ("+447700900123", "+4477******23"),
                                                ("+3612345", "+3612*45")])
def test_mask(number: str, masked: str) -> None:
    assert mask(number) == masked


def test_full_flow_with_faults_logs_nothing_secret(settings: dict[str, str], vonage: FakeVonage,
                                                   caplog: pytest.LogCaptureFixture, make_app: MakeApp) -> None:
    caplog.set_level(logging.DEBUG)
    client = make_app(settings).test_client()
    wrong, right = "918273", "564738"
    vonage.start("ok", rid="req-log")
    vonage.check("wrong", rid="req-log")
    vonage.raw("check", rid="req-log", status=500, json={"error": "internal"})
    vonage.raw("check", rid="req-log", body=requests.ConnectionError("refused"))
    vonage.raw("check", rid="req-log", status=503, body="down")
    vonage.check("ok", rid="req-log")
    if vonage.api == "legacy":  # legacy asks what became of a check whose answer was lost; v2 cannot
        vonage.search("IN PROGRESS", rid="req-log")

    vid = client.post("/request-otp", json={"phoneNumber": NUMBER, "nonce": "nonce-7f3a"}).json["verificationId"]
    answers = [client.post("/check-otp", json={"phoneNumber": NUMBER, "code": code})
               for code in (wrong, wrong, wrong, wrong, right)]
    statuses = [a.status_code for a in answers]
    token = answers[-1].json["token"]
    vonage.mock.replace("POST", vonage.start_url(), status=401, json={"title": "Bad Credentials"})
    assert client.post("/request-otp", json={"phoneNumber": "+447911123456"}).status_code == 503

    assert statuses == [401, 502, 503, 503, 200]
    text = caplog.text
    assert "+1415*****71" in text  # the log still says whose verification it was
    assert "HTTP 401" in text  # and why Vonage refused us
    for secret in (wrong, right, API_SECRET, base64.b64encode(f"testkey:{API_SECRET}".encode()).decode(),
                   "Authorization", NUMBER, NUMBER[1:], "+447911123456", "447911123456", vid, token,
                   token.split(".")[2], "nonce-7f3a"):
        assert secret not in text, secret
