"""What operators and backends read: readiness per dependency, the version, which limit refused a request,
and the log line of a refused origin."""

from __future__ import annotations

import json
import logging
import os
import re
import socket
import subprocess
import sys
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
import redis
from flask.testing import FlaskClient

from app import __version__

from .conftest import NUMBER, REDIS_URL, SETTINGS, FakeVonage, MakeApp
from .test_providers import TWILIO_SETTINGS

ROOT = Path(__file__).resolve().parent.parent

# Builds a test client of an app with the given settings.
Clients = Callable[..., FlaskClient]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# --- readiness --------------------------------------------------------------------------------------
def test_readyz_names_each_dependency_when_all_answer(make_app: MakeApp) -> None:
    ready = make_app().test_client().get("/readyz")

    assert ready.status_code == 200
    assert ready.json == {"status": "ready", "store": "up", "limits": "up", "providers": {"vonage": "closed"}}


def test_readyz_is_503_when_the_rate_limit_storage_is_down_though_the_store_answers(make_app: MakeApp) -> None:
    app = make_app(OTP_RATELIMIT_STORAGE_URL=f"redis://127.0.0.1:{_closed_port()}/0", OTP_STORE_TIMEOUT="0.5")

    ready = app.test_client().get("/readyz")

    assert ready.status_code == 503
    assert ready.json["code"] == "store_unavailable" and ready.json["error"]
    assert (ready.json["status"], ready.json["store"], ready.json["limits"]) == ("not_ready", "up", "down")
    assert ready.headers["Retry-After"] == "5"


def test_readyz_is_503_when_the_store_is_down_and_says_the_limits_are_up(make_app: MakeApp) -> None:
    # The service starts while its store is down (a restart during an outage): /readyz says what is missing.
    app = make_app(OTP_STORE_URL=f"redis://127.0.0.1:{_closed_port()}/0", OTP_RATELIMIT_STORAGE_URL="memory://",
                   OTP_STORE_TIMEOUT="0.5")

    ready = app.test_client().get("/readyz")

    assert ready.status_code == 503
    assert (ready.json["code"], ready.json["store"], ready.json["limits"]) == ("store_unavailable", "down", "up")


def test_readyz_is_503_when_every_provider_breaker_is_open(make_app: MakeApp, redis_client: redis.Redis) -> None:
    app = make_app({**SETTINGS, **TWILIO_SETTINGS}, OTP_PROVIDER="vonage,twilio", OTP_STORE_URL=REDIS_URL,
                   OTP_FAILOVER_THRESHOLD="1")
    breaker = app.extensions["otp_lifecycle"].provider._breaker
    for name in ("vonage", "twilio"):
        breaker.failed(name)

    ready = app.test_client().get("/readyz")

    assert ready.status_code == 503
    assert ready.json["code"] == "providers_unavailable"
    assert ready.json["providers"] == {"vonage": "open", "twilio": "open"}
    assert (ready.json["store"], ready.json["limits"]) == ("up", "up")


# --- one version ------------------------------------------------------------------------------------
def test_one_version_in_the_package_the_openapi_document_the_metric_and_the_startup_line(
        make_app: MakeApp, caplog: pytest.LogCaptureFixture) -> None:
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    caplog.set_level(logging.INFO, logger="app")

    client = make_app(OTP_STORE_URL="memory://").test_client()

    assert __version__ == declared
    assert client.get("/openapi.json").json["info"]["version"] == declared
    assert f'otp_build_info{{version="{declared}"}} 1.0' in client.get("/metrics").get_data(as_text=True)
    [started] = [r for r in caplog.records if getattr(r, "event", "") == "started"]
    assert started.getMessage() == (f"otp-service {declared}: provider vonage (Verify legacy), store memory, "
                                    "limits storage memory, test numbers: 0")
    assert "VONAGE_API_SECRET" not in started.getMessage()


def test_rate_limit_series_exist_at_zero_before_any_hit() -> None:
    # A fresh process: this one's counters carry every earlier test's hits.
    script = ("from app import create_app\n"
              "app = create_app({'OTP_PROVIDER': 'console', 'OTP_ALLOWED_COUNTRIES': 'GB,IE'})\n"
              "print(app.test_client().get('/metrics').get_data(as_text=True))")
    exposed = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT,
                             env={"PATH": os.environ["PATH"]}).stdout

    for endpoint, scope in (("otp.request_otp", "send-cooldown"), ("otp.request_otp", "send-number"),
                            ("otp.check_otp", "check-ip"), ("otp.cancel_otp", "check-number")):
        assert f'otp_rate_limit_hits_total{{endpoint="{endpoint}",scope="{scope}"}} 0.0' in exposed
    assert 'otp_provider_latency_seconds_count{operation="start",provider="console"} 0.0' in exposed
    # With an allowlist the countries are known too: conversion per country is a rate from the start.
    for country in ("GB", "IE"):
        for outcome in ("started", "approved", "expired"):
            labels = f'channel="sms",country="{country}",outcome="{outcome}",provider="console"'
            assert f"otp_verifications_total{{{labels}}} 0.0" in exposed


# --- which limit refused ----------------------------------------------------------------------------
@pytest.fixture
def limited(make_app: MakeApp, settings: dict[str, str],
            clean_redis_pending: redis.Redis) -> Clients:
    """Clients of apps on the test Redis with the given limits (and the default cooldown unless one is given)."""
    def make(**limits: str) -> FlaskClient:
        base = {k: v for k, v in settings.items() if k != "OTP_RESEND_COOLDOWN"}
        return make_app({**base, "OTP_STORE_URL": REDIS_URL, **limits}).test_client()
    return make


def _start_and_end(client: FlaskClient, vonage: FakeVonage, rid: str) -> int:
    """Start a verification and cancel it, so that the number is free for the next one; the start's status."""
    vonage.start("ok", rid=rid)
    vonage.control("cancel", "ok", rid=rid)
    started = client.post("/request-otp", json={"phoneNumber": NUMBER})
    if started.status_code == 200:
        client.post("/cancel-otp", json={"verificationId": started.json["verificationId"]})
    else:
        vonage.may_go_unused("the start was refused before Vonage")
    return started.status_code


def test_the_cooldown_says_so_with_the_seconds_to_wait(limited: Clients, vonage: FakeVonage) -> None:
    client = limited(OTP_RESEND_COOLDOWN="40")
    assert _start_and_end(client, vonage, "req-1") == 200

    vonage.start("ok", rid="req-2")
    vonage.may_go_unused("the cooldown refuses before Vonage")
    again = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert again.status_code == 429 and again.json["limit"] == "cooldown"
    wait = int(again.headers["Retry-After"])
    assert 38 <= wait <= 40
    assert again.json["error"] == f"Wait {wait} seconds before asking for another code."
    assert set(again.json) == {"error", "code", "limit"}


def test_a_number_that_had_enough_codes_says_number(limited: Clients, vonage: FakeVonage) -> None:
    client = limited(OTP_RESEND_COOLDOWN="0", OTP_RATELIMIT_REQUEST_NUMBER="2/hour")
    assert [_start_and_end(client, vonage, f"req-{i}") for i in range(3)] == [200, 200, 429]

    refused = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert refused.json["limit"] == "number"
    assert refused.json["error"].startswith("Too many codes were asked for or tried for this phone number")
    assert re.search(r"try again in (59|60) minutes\.$", refused.json["error"])


def test_a_client_past_its_own_limit_says_client(limited: Clients, vonage: FakeVonage) -> None:
    client = limited(OTP_RATELIMIT_REQUEST_IP="1/minute")
    vonage.may_go_unused("the second start is refused before Vonage")
    assert _start_and_end(client, vonage, "req-1") == 200

    refused = client.post("/request-otp", json={"phoneNumber": "+14155552672"})

    assert refused.status_code == 429 and refused.json["limit"] == "client"
    assert "this address" in refused.json["error"]


def test_checks_past_the_numbers_limit_say_number_and_past_the_clients_say_client(
        limited: Clients, vonage: FakeVonage) -> None:
    client = limited(OTP_RATELIMIT_CHECK_NUMBER="1/minute", OTP_RATELIMIT_CHECK_IP="3/minute")
    vonage.start("ok")
    vonage.check("wrong")
    started = client.post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]

    answers = [client.post("/check-otp", json={"verificationId": started, "code": "1234"}) for _ in range(2)]
    unknown = [client.post("/check-otp", json={"verificationId": "x" * 43, "code": "1234"}) for _ in range(2)]

    assert [a.status_code for a in answers] == [401, 429] and answers[1].json["limit"] == "number"
    assert [a.status_code for a in unknown] == [404, 429] and unknown[1].json["limit"] == "client"


def test_an_api_key_past_its_limit_says_api_key(limited: Clients, vonage: FakeVonage) -> None:
    from app.callers import key_digest

    client = limited(OTP_API_KEYS=f"shop:{key_digest('otp_live_k').hex()}", OTP_RATELIMIT_KEY="1/minute")
    vonage.start("ok")
    headers = {"Authorization": "Bearer otp_live_k"}

    first = client.post("/request-otp", json={"phoneNumber": NUMBER}, headers=headers)
    second = client.post("/request-otp", json={"phoneNumber": "+14155552672"}, headers=headers)

    assert first.status_code == 200
    assert second.status_code == 429 and second.json["limit"] == "api_key"
    assert "API key" in second.json["error"]


def test_the_openapi_document_lists_every_limit_an_answer_can_name(client: FlaskClient) -> None:
    from app.limits.scopes import LIMIT_NAMES

    documented = client.get("/openapi.json").json["components"]["schemas"]["Error"]["properties"]["limit"]["enum"]
    assert set(LIMIT_NAMES.values()) <= set(documented)


# --- refused origins --------------------------------------------------------------------------------
def test_a_refused_origin_is_logged_with_the_origin_the_service_expected(
        make_app: MakeApp, caplog: pytest.LogCaptureFixture) -> None:
    client = make_app().test_client()
    caplog.set_level(logging.INFO, logger="app.web.guards")

    refused = client.post("/request-otp", json={"phoneNumber": NUMBER}, headers={"Origin": "http://localhost:18080"},
                          base_url="http://localhost")

    assert refused.status_code == 403
    [line] = [r for r in caplog.records if getattr(r, "event", "") == "origin_refused"]
    assert line.expected_origin == "http://localhost"  # type: ignore[attr-defined]
    assert "Origin http://localhost:18080; this service is http://localhost" in line.getMessage()
    assert json.dumps(refused.json).count("localhost") == 0  # the answer names neither
