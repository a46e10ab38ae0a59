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


def test_gunicorn_access_records_carry_no_credentials_and_keep_the_line() -> None:
    from datetime import timedelta
    from types import SimpleNamespace

    from gunicorn.config import Config
    from gunicorn.glogging import SafeAtoms

    from app.logs import AccessLogger

    key, cookie = "otp_live_k3y_never_logged", "otp_verification=V3ryS3cretVerificationId"
    request = SimpleNamespace(headers=[("HOST", "otp.example"), ("AUTHORIZATION", f"Bearer {key}"),
                                       ("COOKIE", cookie), ("X-FORWARDED-FOR", "198.51.100.7")])
    response = SimpleNamespace(status="401 UNAUTHORIZED", sent=57, headers=[
        ("X-Request-ID", "rid-1"), ("Set-Cookie", "otp_verification=V3ryS3cretVerificationId; Path=/; HttpOnly")])
    environ = {"REMOTE_ADDR": "127.0.0.1", "REQUEST_METHOD": "POST", "RAW_URI": "/check-otp",
               "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/check-otp", "QUERY_STRING": "",
               "HTTP_AUTHORIZATION": f"Bearer {key}", "HTTP_COOKIE": cookie, "wsgi.input": object()}

    # The service's access_log_format, and atoms an operator's format might name; gunicorn formats with %.
    access_format = ('%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms rid=%({x-request-id}o)s '
                     'auth=%({authorization}i)s cookie=%({http_cookie}e)s xff=%({X-Forwarded-For}i)s '
                     'set=%({set-cookie}o)s')
    config = Config()
    config.set("access_log_format", access_format)

    atoms = AccessLogger(config).atoms(response, request, environ, timedelta(milliseconds=12))

    assert not [name for name, value in atoms.items() if key in str(value) or "V3ryS3cret" in str(value)]
    # Of the headers, only those the format names are atoms: gunicorn made one of each for every request.
    assert {name for name in atoms if name.startswith("{") and not name.endswith("}e")} == {
        "{x-forwarded-for}i", "{x-request-id}o"}
    line = access_format % SafeAtoms(atoms)
    assert line == ('127.0.0.1 "POST /check-otp HTTP/1.1" 401 57 12ms rid=rid-1 auth=- cookie=- '
                    'xff=198.51.100.7 set=-')
