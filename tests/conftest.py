"""Fixtures: an app on test settings, its client, Vonage mocked at the HTTP level, and Redis."""

from __future__ import annotations

import base64
import os
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
import responses
from flask import Flask
from flask.testing import FlaskClient

from app import create_app

API_KEY = "testkey"
API_SECRET = "s3cret-Value-9f8e"
NUMBER = "+14155552671"
SDK_NUMBER = "14155552671"
START_URL = "https://api.nexmo.com/verify/json"
CHECK_URL = "https://api.nexmo.com/verify/check/json"
REDIS_URL = "redis://127.0.0.1:6379/13"

SETTINGS = {
    "OTP_PROVIDER": "vonage",
    "VONAGE_API_KEY": API_KEY,
    "VONAGE_API_SECRET": API_SECRET,
    "VONAGE_BRAND": "AcmeTest",
    "OTP_STORE_URL": "memory://",
    # The contract tests send several codes to one number; the cooldown has tests of its own.
    "OTP_RESEND_COOLDOWN": "0",
}


@pytest.fixture
def settings() -> dict[str, str]:
    return dict(SETTINGS)


@pytest.fixture
def app(settings: dict[str, str]) -> Flask:
    return create_app(settings)


def make_client(settings: dict[str, str]) -> FlaskClient:
    return create_app(settings).test_client()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def vonage() -> Iterator[responses.RequestsMock]:
    """The Vonage API at the HTTP level: the real SDK runs; an unregistered URL is a connection error."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def answer_start(mock: responses.RequestsMock, status: str = "0", request_id: str = "req-0001",
                 **extra: Any) -> None:
    body: dict[str, Any] = {"status": status, **extra}
    if request_id:
        body["request_id"] = request_id
    mock.add(responses.POST, START_URL, json=body)


def answer_check(mock: responses.RequestsMock, status: str = "0", request_id: str = "req-0001") -> None:
    body: dict[str, Any] = {"request_id": request_id, "status": status}
    if status == "0":
        body.update(event_id="evt-1", price="0.10000000", currency="EUR")
    else:
        body["error_text"] = f"status {status} text"
    mock.add(responses.POST, CHECK_URL, json=body)


def form_of(call: Any) -> dict[str, str]:
    """The form fields the SDK sent in one recorded call."""
    return dict(urllib.parse.parse_qsl(call.request.body))


def basic_auth() -> str:
    return "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()


def calls_to(mock: responses.RequestsMock, url: str) -> list[Any]:
    return [c for c in mock.calls if c.request.url == url]


def redis_or_fail() -> redis.Redis:
    """A client for the test database; under CI a missing Redis fails the test instead of skipping it."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail("Redis must answer at 127.0.0.1:6379 under CI")
        pytest.skip("no Redis at 127.0.0.1:6379")
    return client


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis_or_fail()
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own, removed afterwards."""
    prefix = f"otp-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def clean_redis_pending(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """The app's pending entries and rate-limit counters in the test database, removed before and after."""
    def wipe() -> None:
        keys = [*redis_client.scan_iter(match="otp:pending:*"), *redis_client.scan_iter(match="LIMITS:*")]
        if keys:
            redis_client.delete(*keys)

    wipe()
    yield redis_client
    wipe()
