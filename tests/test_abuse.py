"""Abuse and privacy: rate limits on a real Redis, SMS-pumping screens, attempt limits, headers, logs."""

from __future__ import annotations

import base64
import logging
import urllib.parse

import pytest
import redis
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from .conftest import API_KEY, API_SECRET, NUMBER, REDIS_URL, FakeVonage, MakeApp

# Numbers of distinct 10,000-blocks, so that only the per-prefix test meets the per-prefix limit.
NUMBERS = [f"+1415{200 + i:03d}2671" for i in range(40)]


@pytest.fixture
def redis_settings(settings: dict[str, str], clean_redis_pending: redis.Redis) -> dict[str, str]:
    """The service on the test Redis with the default limits and cooldown."""
    settings = {**settings, "OTP_STORE_URL": REDIS_URL}
    del settings["OTP_RESEND_COOLDOWN"]
    return settings


@pytest.fixture
def client(redis_settings: dict[str, str], make_app: MakeApp) -> FlaskClient:
    return make_app(redis_settings).test_client()


@pytest.fixture
def vonage_ok(vonage: FakeVonage) -> FakeVonage:
    """Vonage accepts every start and cancel; checks answer 'wrong code'."""
    vonage.start("ok", rid="req-abuse")
    vonage.check("wrong", rid="req-abuse")
    vonage.control("cancel", "ok", rid="req-abuse")
    vonage.may_go_unused("one Vonage for every flood and refusal: each test counts the calls it expects")
    return vonage


def test_a_flood_from_one_client_gets_429_and_vonage_sees_only_the_limit(
        client: FlaskClient, vonage_ok: FakeVonage) -> None:
    answers = [client.post("/request-otp", json={"phoneNumber": n}) for n in NUMBERS[:25]]

    assert [a.status_code for a in answers] == [200] * 10 + [429] * 15
    limited = answers[10]
    assert limited.json["code"] == "rate_limited"
    assert 3500 <= int(limited.headers["Retry-After"]) <= 3601  # the 10/hour window
    assert len(vonage_ok.calls("start")) == 10


def test_invalid_numbers_count_against_the_client_too(client: FlaskClient,
                                                     vonage_ok: FakeVonage,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    statuses = [client.post("/request-otp", json={"phoneNumber": "+1 415 555"}).status_code for _ in range(12)]

    assert statuses == [400] * 10 + [429] * 2
    assert len(vonage_ok.mock.calls) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_forty_guesses_at_one_code_are_stopped_long_before_forty(
        client: FlaskClient, vonage_ok: FakeVonage) -> None:
    vid = client.post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]

    answers = [client.post("/check-otp", json={"verificationId": vid, "code": f"{i:06d}"}) for i in range(40)]

    statuses = [a.status_code for a in answers]
    # Five checks reach Vonage, the sixth ends the verification, then nothing is pending, then the
    # per-client limit (30 per 5 minutes) answers 429.
    assert statuses[:5] == [401] * 5
    assert statuses[5] == 410 and answers[5].json["code"] == "too_many_attempts"
    assert statuses[6:30] == [404] * 24
    assert statuses[30:] == [429] * 10
    assert int(answers[30].headers["Retry-After"]) > 0
    assert len(vonage_ok.calls("check", "req-abuse")) == 5


def test_past_five_checks_the_vonage_request_is_cancelled(client: FlaskClient,
                                                          vonage_ok: FakeVonage) -> None:
    client.post("/request-otp", json={"phoneNumber": NUMBER})
    answers = [client.post("/check-otp", json={"phoneNumber": NUMBER, "code": f"{i:06d}"}) for i in range(6)]

    assert len(vonage_ok.calls("cancel", "req-abuse")) == 1
    assert answers[-1].status_code == 410
    assert answers[-1].json == {"code": "too_many_attempts",
                                "error": "This code was checked too many times. Please request a new code."}


def test_a_refused_cancel_still_ends_the_verification(client: FlaskClient,
                                                      vonage_ok: FakeVonage) -> None:
    vonage_ok.mock.remove(vonage_ok.mock.registered()[-1])
    vonage_ok.control("cancel", "refused", rid="req-abuse")
    vid = client.post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]
    answers = [client.post("/check-otp", json={"verificationId": vid, "code": "000000"}) for _ in range(7)]

    assert [a.status_code for a in answers] == [401] * 5 + [410, 404]


def test_guessing_across_numbers_is_bounded_per_client(client: FlaskClient,
                                                       vonage_ok: FakeVonage) -> None:
    answers = [client.post("/check-otp", json={"phoneNumber": n, "code": "123456", "verificationId": f"{i:043d}"})
               for i, n in enumerate(NUMBERS[:35])]

    assert [a.status_code for a in answers] == [404] * 30 + [429] * 5


def test_other_spellings_of_a_number_share_its_limit(redis_settings: dict[str, str],
                                                     vonage_ok: FakeVonage, make_app: MakeApp) -> None:
    redis_settings["OTP_RESEND_COOLDOWN"] = "0"
    app = make_app(redis_settings)
    client, store = app.test_client(), app.extensions["otp_store"]
    spellings = ["+14155552671", "+1 415 555 2671", "+1 (415) 555-2671", "+1.415.555.2671"]

    def send(spelling: str) -> TestResponse:
        answer = client.post("/request-otp", json={"phoneNumber": spelling})
        if answer.status_code == 200:  # its code was used: the number is free for the next one
            store.delete(store.get(answer.json["verificationId"]), "approved")
        return answer

    answers = [send(s) for s in spellings]

    assert [a.status_code for a in answers] == [200, 200, 200, 429]  # 3 per 10 minutes per number
    assert len(vonage_ok.calls("start")) == 3


def test_resend_inside_the_cooldown_gets_429_and_one_vonage_call(client: FlaskClient,
                                                                  vonage_ok: FakeVonage) -> None:
    first = client.post("/request-otp", json={"phoneNumber": NUMBER})
    second = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert first.status_code == 200
    assert second.status_code == 429
    assert second.json["code"] == "rate_limited"
    assert 1 <= int(second.headers["Retry-After"]) <= 31
    assert len(vonage_ok.calls("start")) == 1


def test_a_send_that_failed_at_vonage_does_not_start_the_cooldown(client: FlaskClient,
                                                                  vonage: FakeVonage) -> None:
    vonage.start("throttled")  # Vonage said it sent nothing (a failure that may have sent keeps the number)
    vonage.start("ok", rid="req-abuse")

    answers = [client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code for _ in range(3)]

    assert answers == [503, 200, 429]
    assert len(vonage.calls("start")) == 2


def _post_from(client: FlaskClient, number: str, forwarded_for: str) -> int:
    return client.post("/request-otp", json={"phoneNumber": number}, headers={"X-Forwarded-For": forwarded_for},
                       environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code


def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(client: FlaskClient,
                                                                  vonage_ok: FakeVonage) -> None:
    statuses = [_post_from(client, NUMBERS[i], f"203.0.113.{i}") for i in range(12)]

    assert statuses == [200] * 10 + [429] * 2


def test_forwarded_for_names_the_client_behind_one_trusted_proxy(redis_settings: dict[str, str],
                                                                 vonage_ok: FakeVonage, make_app: MakeApp) -> None:
    client = make_app({**redis_settings, "OTP_TRUSTED_PROXIES": "1"}).test_client()

    distinct = [_post_from(client, NUMBERS[i], f"203.0.113.{i}") for i in range(12)]
    # The proxy appends the address it saw; anything the client put before it is not trusted.
    same = [_post_from(client, NUMBERS[12 + i], f"198.51.100.{i}, 203.0.113.99") for i in range(12)]

    assert distinct == [200] * 12
    assert same == [200] * 10 + [429] * 2


@pytest.mark.parametrize("number", ["+19005550123", "+18002345678", "+449012345678"])
def test_premium_and_toll_free_numbers_never_cost_an_sms(client: FlaskClient, vonage_ok: FakeVonage,
                                                         number: str) -> None:
    resp = client.post("/request-otp", json={"phoneNumber": number})

    assert resp.status_code == 422
    assert resp.json["code"] == "number_not_supported"
    assert vonage_ok.calls("start") == []


def test_numbers_outside_the_allowed_countries_are_refused(redis_settings: dict[str, str],
                                                           vonage_ok: FakeVonage, make_app: MakeApp) -> None:
    client = make_app({**redis_settings, "OTP_ALLOWED_COUNTRIES": "GB,fr"}).test_client()

    refused = client.post("/request-otp", json={"phoneNumber": NUMBER})
    allowed = client.post("/request-otp", json={"phoneNumber": "+33612345678"})

    assert refused.status_code == 422
    assert refused.json["code"] == "country_not_allowed"
    assert allowed.status_code == 200
    assert [vonage_ok.sent_number(c) for c in vonage_ok.calls("start")] == ["33612345678"]


@pytest.mark.parametrize("path", ["/request-otp", "/check-otp"])
def test_limiter_storage_down_fails_closed(settings: dict[str, str], path: str, vonage_ok: FakeVonage,
                                           make_app: MakeApp) -> None:
    client = make_app({**settings, "OTP_STORE_URL": "redis://127.0.0.1:1/0"}).test_client()

    resp = client.post(path, json={"phoneNumber": NUMBER, "code": "123456"})

    assert resp.status_code == 503
    assert resp.json["code"] == "store_unavailable"
    assert len(vonage_ok.mock.calls) == 0


def test_limits_can_be_switched_off(redis_settings: dict[str, str], vonage_ok: FakeVonage, make_app: MakeApp) -> None:
    client = make_app({**redis_settings, "OTP_RATELIMIT_ENABLED": "false"}).test_client()

    statuses = [client.post("/request-otp", json={"phoneNumber": n}).status_code for n in NUMBERS[:12]]

    assert statuses == [200] * 12


def test_limits_are_shared_by_every_app_on_the_same_redis(redis_settings: dict[str, str],
                                                          vonage_ok: FakeVonage, make_app: MakeApp) -> None:
    first, second = make_app(redis_settings).test_client(), make_app(redis_settings).test_client()

    statuses = [(first if i % 2 else second).post("/request-otp", json={"phoneNumber": NUMBERS[i]}).status_code
                for i in range(11)]

    assert statuses == [200] * 10 + [429]


def test_security_headers_on_every_answer(client: FlaskClient, vonage_ok: FakeVonage) -> None:
    for resp in (client.get("/healthz"), client.get("/nowhere"),
                 client.post("/request-otp", json={"phoneNumber": NUMBER}),
                 client.post("/request-otp", json={"phoneNumber": NUMBER})):  # the last one is a 429
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
        assert "default-src 'none'" in resp.headers["Content-Security-Policy"]


def test_abuse_flow_logs_no_code_secret_or_full_number(client: FlaskClient, vonage_ok: FakeVonage,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    vonage_ok.raw("check", rid="req-abuse", status=500, body="boom")
    client.post("/request-otp", json={"phoneNumber": NUMBER})
    client.post("/request-otp", json={"phoneNumber": NUMBER})  # cooldown: 429
    codes = [f"{740000 + i}" for i in range(12)]
    for code in codes:
        client.post("/check-otp", json={"phoneNumber": NUMBER, "code": code})

    text = caplog.text
    assert "rate limit hit" in text
    for secret in [*codes, API_SECRET, base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode(), NUMBER,
                   NUMBER[1:], urllib.parse.quote(NUMBER)]:
        assert secret not in text, secret
