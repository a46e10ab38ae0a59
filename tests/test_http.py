"""The HTTP surface outside the two verbs: probes, unknown routes, bad bodies, headers."""

from __future__ import annotations

import logging

import pytest
from flask import Flask
from flask.testing import FlaskClient

from .conftest import NUMBER, FakeVonage, MakeApp


def test_healthz(client: FlaskClient) -> None:
    resp = client.get("/healthz")

    assert resp.status_code == 200
    assert resp.json == {"status": "ok"}


def test_readyz_when_the_store_answers(client: FlaskClient) -> None:
    assert client.get("/readyz").status_code == 200


def test_readyz_and_requests_get_503_when_the_store_is_down(settings: dict[str, str],
                                                            vonage: FakeVonage, make_app: MakeApp) -> None:
    settings["OTP_STORE_URL"] = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    client = make_app(settings).test_client()

    ready = client.get("/readyz")
    check = client.post("/check-otp", json={"phoneNumber": NUMBER, "code": "123456"})

    assert ready.status_code == 503
    assert ready.json["code"] == "store_unavailable"
    assert check.status_code == 503
    assert check.json == {"error": check.json["error"], "code": "store_unavailable"}
    assert int(check.headers["Retry-After"]) > 0
    assert len(vonage.mock.calls) == 0


def test_unknown_route_is_json_404(client: FlaskClient) -> None:
    resp = client.get("/nowhere")

    assert resp.status_code == 404
    assert resp.json["code"] == "not_found"
    assert isinstance(resp.json["error"], str)


@pytest.mark.parametrize("path", ["/request-otp", "/check-otp"])
def test_wrong_method_is_json_405_with_allow(client: FlaskClient, path: str) -> None:
    resp = client.get(path)

    assert resp.status_code == 405
    assert resp.json["code"] == "method_not_allowed"
    assert "POST" in resp.headers["Allow"]


@pytest.mark.parametrize("body", ["{not json", '{"phoneNumber": ', "\xff\xfe"])
def test_malformed_json_is_400(client: FlaskClient, vonage: FakeVonage, body: str) -> None:
    resp = client.post("/request-otp", data=body, content_type="application/json")

    assert resp.status_code == 400
    assert resp.json["code"] == "invalid_json"
    assert len(vonage.mock.calls) == 0


@pytest.mark.parametrize("body", ['["+14155552671"]', '"+14155552671"', "42", "null"])
def test_json_that_is_not_an_object_is_400(client: FlaskClient, body: str) -> None:
    resp = client.post("/check-otp", data=body, content_type="application/json")

    assert resp.status_code == 400
    assert resp.json["code"] == "invalid_json"


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_body_over_16_kib_is_413(client: FlaskClient, vonage: FakeVonage, content_type: str) -> None:
    resp = client.post("/request-otp", data="a" * (16 * 1024 + 1), content_type=content_type)

    assert resp.status_code == 413
    assert resp.json["code"] == "payload_too_large"
    assert len(vonage.mock.calls) == 0


def test_unexpected_exception_is_a_generic_json_500(settings: dict[str, str], make_app: MakeApp) -> None:
    app = make_app(settings)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("internal detail /srv/app.py line 3")

    resp = app.test_client().get("/boom")

    assert resp.status_code == 500
    assert resp.json["code"] == "internal_error"
    assert "internal detail" not in resp.get_data(as_text=True)
    assert "Traceback" not in resp.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("get", "/healthz", {}),
        ("get", "/readyz", {}),
        ("get", "/nowhere", {}),
        ("post", "/request-otp", {"json": {"phoneNumber": NUMBER}}),
        ("post", "/request-otp", {"json": {}}),
        ("post", "/check-otp", {"json": {"phoneNumber": NUMBER, "code": "123456"}}),
    ],
)
def test_every_response_says_no_store(client: FlaskClient, vonage: FakeVonage, method: str,
                                      path: str, kwargs: dict[str, object]) -> None:
    if kwargs == {"json": {"phoneNumber": NUMBER}}:  # the one request here that reaches Vonage
        vonage.start("ok")

    resp = getattr(client, method)(path, **kwargs)

    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


def test_app_is_built_from_a_plain_dict(app: Flask) -> None:
    assert app.extensions["otp_settings"].VONAGE_TIMEOUT == 10
    assert app.extensions["otp_settings"].VONAGE_CODE_LENGTH == 6
    assert app.extensions["otp_settings"].VONAGE_PIN_EXPIRY == 300
    assert app.extensions["otp_settings"].VONAGE_API_HOST == "api.nexmo.com"


@pytest.mark.parametrize("path", ["/request-otp", "/check-otp", "/resend-otp", "/cancel-otp"])
def test_a_deeply_nested_body_is_400_and_counted_against_the_client(
        settings: dict[str, str], vonage: FakeVonage, path: str, caplog: pytest.LogCaptureFixture,
        make_app: MakeApp) -> None:
    client = make_app(settings | {"OTP_RATELIMIT_REQUEST_IP": "3/minute",
                                    "OTP_RATELIMIT_CHECK_IP": "3/minute"}).test_client()
    body = "[" * 5000 + "]" * 5000  # 10 KB, under the 16 KiB cap

    answers = [client.post(path, data=body, content_type="application/json") for _ in range(4)]

    assert [a.status_code for a in answers] == [400, 400, 400, 429]
    assert answers[0].json["code"] == "invalid_json"
    assert "Traceback" not in caplog.text and not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(vonage.mock.calls) == 0


@pytest.mark.parametrize(("settings", "status"), [
    ({"OTP_PROVIDER": "console"}, 200),  # development: on
    ({"OTP_PROVIDER": "console", "OTP_DEMO_PAGE": "false"}, 404),
    ({}, 404),  # the vonage provider: off unless asked for
    ({"OTP_DEMO_PAGE": "true"}, 200),
])
def test_the_demo_page_is_served_only_where_wanted(settings: dict[str, str], status: int, make_app: MakeApp) -> None:
    from .conftest import SETTINGS

    base = {k: v for k, v in SETTINGS.items() if k != "OTP_PROVIDER"}
    resp = make_app({**base, **settings}).test_client().get("/")

    assert resp.status_code == status
    if status == 404:
        assert resp.json["code"] == "not_found"  # like any unknown path
    else:
        assert resp.mimetype == "text/html" and b"Verify your phone number" in resp.data
