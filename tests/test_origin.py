"""Cross-site requests: a hostile page cannot make its visitors' browsers send codes; allowed frontends get CORS."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from app.settings import ConfigError

from .conftest import NUMBER, FakeVonage, MakeApp

EVIL = "https://evil.example"
APP = "https://app.example.com"


@pytest.fixture
def limited_client(settings: dict[str, str], make_app: MakeApp) -> FlaskClient:
    """Default send limits (10 per hour per client), and one allowed frontend."""
    return make_app({**settings, "OTP_ALLOWED_ORIGINS": f"{APP}/, http://localhost:3000"}).test_client()


@pytest.mark.parametrize("path", ["/request-otp", "/check-otp", "/resend-otp", "/cancel-otp"])
def test_a_form_posted_from_another_site_is_refused_before_limits_and_vonage(
        limited_client: FlaskClient, vonage: FakeVonage, path: str) -> None:
    vonage.start("ok")

    refused = [limited_client.post(path, data={"phoneNumber": NUMBER, "code": "123456"}, headers={"Origin": EVIL})
               for _ in range(12)]

    assert {r.status_code for r in refused} == {403}
    assert refused[0].json == {"code": "origin_not_allowed", "error": "Requests from this site are not allowed."}
    assert "Access-Control-Allow-Origin" not in refused[0].headers
    assert len(vonage.mock.calls) == 0
    # None of the twelve counted against the client's send limit (10 per hour).
    assert limited_client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200


@pytest.mark.parametrize("origin", ["null", "http://localhost.evil.example", "https://localhost", "file://",
                                    "http://localhost:5000", "nonsense"])
def test_look_alike_and_opaque_origins_are_refused(client: FlaskClient, vonage: FakeVonage, origin: str) -> None:
    resp = client.post("/request-otp", json={"phoneNumber": NUMBER}, headers={"Origin": origin})

    assert resp.status_code == 403 and resp.json["code"] == "origin_not_allowed"
    assert vonage.calls("start") == []


@pytest.mark.parametrize("headers", [{}, {"Origin": "http://localhost"}, {"Origin": "HTTP://LOCALHOST:80"}])
def test_no_origin_and_the_services_own_origin_pass(client: FlaskClient, vonage: FakeVonage,
                                                    headers: dict[str, str]) -> None:
    vonage.start("ok")

    assert client.post("/request-otp", json={"phoneNumber": NUMBER}, headers=headers).status_code == 200


def test_behind_a_proxy_the_own_origin_is_the_forwarded_scheme_and_the_host(client: FlaskClient,
                                                                           vonage: FakeVonage) -> None:
    vonage.start("ok")
    # gunicorn sets wsgi.url_scheme from X-Forwarded-Proto of the proxies it trusts; nginx passes Host.
    behind = "https://otp.example.com"  # the test client's wsgi.url_scheme and Host

    ok = client.post("/request-otp", json={"phoneNumber": NUMBER}, headers={"Origin": "https://otp.example.com"},
                     base_url=behind)
    plain = client.post("/request-otp", json={"phoneNumber": NUMBER}, headers={"Origin": "http://otp.example.com"},
                        base_url=behind)

    assert ok.status_code == 200 and plain.status_code == 403


def test_a_trusted_proxys_forwarded_host_names_the_own_origin(settings: dict[str, str],
                                                              vonage: FakeVonage, make_app: MakeApp) -> None:
    vonage.start("ok")
    forwarded = {"Origin": "https://otp.example.com", "X-Forwarded-Host": "otp.example.com"}
    trusting = make_app({**settings, "OTP_TRUSTED_PROXIES": "1"}).test_client()
    untrusting = make_app(settings).test_client()

    # gunicorn already turned X-Forwarded-Proto into the scheme; the proxy reached us as "internal:8000".
    ok = trusting.post("/request-otp", json={"phoneNumber": NUMBER}, headers=forwarded,
                       base_url="https://internal:8000")
    ignored = untrusting.post("/request-otp", json={"phoneNumber": NUMBER}, headers=forwarded,
                              base_url="https://internal:8000")

    assert ok.status_code == 200
    assert ignored.status_code == 403


def test_an_allowed_frontend_gets_cors_headers_and_no_credentials(limited_client: FlaskClient,
                                                                  vonage: FakeVonage) -> None:
    vonage.start("ok")
    vonage.check("ok")

    preflight = limited_client.options("/request-otp", headers={
        "Origin": APP, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    started = limited_client.post("/request-otp", json={"phoneNumber": NUMBER}, headers={"Origin": APP})
    checked = limited_client.post("/check-otp", json={"verificationId": started.json["verificationId"],
                                                     "code": "123456"}, headers={"Origin": APP})

    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == APP
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "content-type" in preflight.headers["Access-Control-Allow-Headers"].lower()
    assert "Access-Control-Allow-Credentials" not in preflight.headers
    assert started.status_code == 200 and checked.status_code == 200
    assert started.headers["Access-Control-Allow-Origin"] == APP
    assert "Retry-After" in started.headers["Access-Control-Expose-Headers"]
    assert vonage.calls("start") and len(vonage.calls("check")) == 1


def test_preflights_count_against_no_limit(limited_client: FlaskClient, vonage: FakeVonage) -> None:
    vonage.start("ok")
    for _ in range(12):
        limited_client.options("/request-otp", headers={"Origin": APP, "Access-Control-Request-Method": "POST"})

    assert limited_client.post("/request-otp", json={"phoneNumber": NUMBER}, headers={"Origin": APP}).status_code == 200


def test_without_allowed_origins_there_are_no_cors_headers(client: FlaskClient) -> None:
    resp = client.options("/request-otp", headers={"Origin": APP, "Access-Control-Request-Method": "POST"})

    assert "Access-Control-Allow-Origin" not in resp.headers


@pytest.mark.parametrize("value", ["app.example.com", "https://app.example.com/path", "ftp://x"])
def test_allowed_origins_must_be_origins(settings: dict[str, str], value: str, make_app: MakeApp) -> None:
    with pytest.raises(ConfigError, match="OTP_ALLOWED_ORIGINS"):
        make_app({**settings, "OTP_ALLOWED_ORIGINS": value})
