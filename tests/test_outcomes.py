"""Every outcome recorded: an expired code's end event, metric and record on each store, and the operator's
support commands (``flask otp lookup`` and ``flask otp cancel``) through Flask's CLI runner."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from flask import Flask
from sqlalchemy import text

from app.cli import otp
from app.store.sql_engine import engine_for

from .conftest import NUMBER, REDIS_URL, FakeVonage, MakeApp, empty_sql, migrate

RECORD_KEY = "r" * 40


def _run_out_memory(app: Flask, verification_id: str) -> None:
    app.extensions["otp_store"]._data[verification_id].expires_at = 0


def _run_out_redis(app: Flask, verification_id: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(f"otp:v:{{{verification_id}}}")  # as its TTL would
    client.zadd("otp:x", {verification_id: time.time() - 1})
    client.close()


def _run_out_sql(app: Flask, verification_id: str) -> None:
    engine = engine_for(app.extensions["otp_settings"].OTP_STORE_URL, pool_size=1)
    with engine.begin() as connection:
        connection.execute(text("UPDATE otp_pending SET expires_at = 0 WHERE id = :id"), {"id": verification_id})
    engine.dispose()


@pytest.fixture(params=["memory", "redis", "sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[tuple[dict[str, str], Callable[..., None]]]:
    """Settings of a store, and how to make one of its verifications run out now."""
    kind = request.param
    if kind == "memory":
        yield {"OTP_STORE_URL": "memory://"}, _run_out_memory
    elif kind == "redis":
        request.getfixturevalue("clean_redis_pending")
        yield {"OTP_STORE_URL": REDIS_URL}, _run_out_redis
    else:
        url = f"sqlite:///{tmp_path / 'otp.db'}" if kind == "sqlite" else request.getfixturevalue("postgres_url")
        migrate(url)
        empty_sql(url)
        yield {"OTP_STORE_URL": url, "OTP_RATELIMIT_STORAGE_URL": "memory://"}, _run_out_sql
        if kind == "postgresql":
            empty_sql(url)


def test_a_code_nobody_types_ends_expired_with_its_event_metric_and_record(
        backend: tuple[dict[str, str], Callable[..., None]], settings: dict[str, str], vonage: FakeVonage,
        make_app: MakeApp, caplog: pytest.LogCaptureFixture) -> None:
    store_settings, run_out = backend
    app = make_app({**settings, **store_settings, "OTP_RECORD_KEY": RECORD_KEY, "OTP_TRUSTED_PROXIES": "1"})
    vonage.start("ok", rid="req-exp")
    started = app.test_client().post("/request-otp", json={"phoneNumber": NUMBER},
                                     headers={"X-Forwarded-For": "198.51.100.7"})
    verification = started.json["verificationId"]
    run_out(app, verification)
    metric = {"outcome": "expired", "country": "US", "channel": "sms", "provider": "vonage"}
    before = _counter(app, **metric)
    caplog.set_level(logging.INFO, logger="app.lifecycle")

    swept = app.extensions["otp_lifecycle"].outcomes.sweep()

    assert swept == 1 and app.extensions["otp_lifecycle"].outcomes.sweep() == 0
    [ended] = [r for r in caplog.records if getattr(r, "event", "") == "verification_ended"]
    fields = {k: getattr(ended, k) for k in ("outcome", "number", "provider", "provider_request_id", "channel",
                                             "client", "checks", "deliveries")}
    assert fields == {"outcome": "expired", "number": "+1415*****71", "provider": "vonage",
                      "provider_request_id": "req-exp", "channel": "sms", "client": "198.51.100.7", "checks": 0,
                      "deliveries": 1}
    assert NUMBER not in ended.getMessage()
    assert _counter(app, **metric) == before + 1
    found = app.test_cli_runner().invoke(otp, ["lookup", verification])
    assert found.exit_code == 0, found.output
    assert f"{verification}  expired" in found.output and "req-exp" in found.output
    late = app.test_client().post("/check-otp", json={"verificationId": verification, "code": "1234"})
    assert late.status_code == 404


def _counter(app: Flask, **labels: str) -> float:
    exposed = app.test_client().get("/metrics").get_data(as_text=True)
    wanted = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    for line in exposed.splitlines():
        if line.startswith(f"otp_verifications_total{{{wanted}}} "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


@pytest.fixture
def redis_app(settings: dict[str, str], make_app: MakeApp, clean_redis_pending: redis.Redis) -> Flask:
    return make_app({**settings, "OTP_STORE_URL": REDIS_URL, "OTP_RECORD_KEY": RECORD_KEY,
                     "OTP_TEST_NUMBERS": "+447700900123=8642"})


def test_lookup_by_number_shows_each_verification_newest_first_and_nothing_secret(
        redis_app: Flask, vonage: FakeVonage) -> None:
    client = redis_app.test_client()
    vonage.start("ok", rid="req-a")
    vonage.check("ok", rid="req-a")
    first = client.post("/request-otp", json={"phoneNumber": NUMBER, "nonce": "nonce-secret"}).json["verificationId"]
    assert client.post("/check-otp", json={"verificationId": first, "code": "123456"}).status_code == 200
    vonage.start("ok", rid="req-b")
    second = client.post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]

    shown = redis_app.test_cli_runner().invoke(otp, ["lookup", "+1 415 555 2671"])

    assert shown.exit_code == 0, shown.output
    assert shown.output.index(f"{second}  pending") < shown.output.index(f"{first}  approved")
    assert "+1415*****71 (US)" in shown.output and "vonage, request req-b" in shown.output
    assert "deliveries  1 (sms)" in shown.output and "checks      1" in shown.output
    for secret in (NUMBER, "123456", "nonce-secret"):
        assert secret not in shown.output


def test_a_test_numbers_lookup_never_shows_its_code(redis_app: Flask) -> None:
    client = redis_app.test_client()
    verification = client.post("/request-otp", json={"phoneNumber": "+447700900123"}).json["verificationId"]

    shown = redis_app.test_cli_runner().invoke(otp, ["lookup", "+447700900123"])

    assert f"{verification}  pending" in shown.output and "a test number" in shown.output
    assert "8642" not in shown.output


def test_cancel_ends_a_verification_at_its_provider_and_says_so(redis_app: Flask, vonage: FakeVonage,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    vonage.start("ok", rid="req-c")
    vonage.control("cancel", "ok", rid="req-c")
    verification = redis_app.test_client().post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]
    caplog.set_level(logging.INFO, logger="app.lifecycle")
    runner = redis_app.test_cli_runner()

    done = runner.invoke(otp, ["cancel", verification])

    assert done.exit_code == 0 and f"Cancelled {verification} (vonage, request req-c)" in done.output
    assert len(vonage.calls("cancel", rid="req-c")) == 1
    [ended] = [r for r in caplog.records if getattr(r, "event", "") == "verification_ended"]
    assert (ended.outcome, ended.client) == ("cancelled", "operator")  # type: ignore[attr-defined]
    assert f"{verification}  cancelled" in runner.invoke(otp, ["lookup", verification]).output
    again = runner.invoke(otp, ["cancel", verification])
    assert again.exit_code == 1 and "no pending verification has this id" in again.output


def test_lookup_refuses_what_is_neither_a_number_nor_an_id_and_says_when_nothing_is_known(redis_app: Flask) -> None:
    runner = redis_app.test_cli_runner()
    # An id may begin with '-': it is still the argument.
    dashed = runner.invoke(otp, ["lookup", "-g" + "x" * 41])
    assert dashed.exit_code == 0 and "Nothing known" in dashed.output
    assert "no pending verification" in runner.invoke(otp, ["cancel", "-g" + "x" * 41]).output

    assert runner.invoke(otp, ["lookup", "hello"]).exit_code == 2
    nothing = runner.invoke(otp, ["lookup", "+14155550000"])
    assert nothing.exit_code == 0 and "Nothing known" in nothing.output
