"""Many requests about one number at once, on every shared store: concurrent checks yield exactly one
token (the check cap never ends a verification while a check of it is at the provider), and concurrent
sends start one verification."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator

import pytest
import redis
import responses

from .conftest import NUMBER, REDIS_URL, FakeVonage, MakeApp, empty_sql, migrate

RECORD_KEY = "r" * 32


@pytest.fixture(params=["redis", "postgresql", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if request.param == "redis":
        request.getfixturevalue("clean_redis_pending")
        yield REDIS_URL
        return
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('concurrent') / 'otp.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    migrate(url)
    empty_sql(url)  # whatever an earlier test left, such as a live claim on the same number
    yield url
    empty_sql(url)


@pytest.mark.parametrize("api", ["legacy"])
def test_eight_concurrent_right_code_checks_yield_exactly_one_token(
        store_url: str, settings: dict[str, str], vonage: FakeVonage, make_app: MakeApp,
        clean_redis_pending: redis.Redis) -> None:
    app = make_app({**settings, "OTP_STORE_URL": store_url, "OTP_RECORD_KEY": RECORD_KEY,
                    "OTP_RATELIMIT_STORAGE_URL": REDIS_URL})
    vonage.start("ok")
    vonage.may_go_unused("whether a check comes after the end (no Vonage call) is the threads' race")
    lock, approved = threading.Lock(), []

    def vonage_checks(request: object) -> tuple[int, dict[str, str], str]:
        time.sleep(0.3)  # the first check is at Vonage while the others arrive
        with lock:
            first = not approved
            approved.append(True)
        answer = ({"request_id": "req-0001", "status": "0", "event_id": "e", "price": "0.1", "currency": "EUR"}
                  if first else {"request_id": "req-0001", "status": "6", "error_text": "verified already"})
        return 200, {}, json.dumps(answer)

    vonage.mock.add_callback(responses.POST, vonage.check_url(), callback=vonage_checks)
    vid = app.test_client().post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]
    barrier = threading.Barrier(8)
    answers: list[tuple[int, dict[str, object], str | None]] = []

    def check() -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post("/check-otp", json={"verificationId": vid, "code": "123456"})
        with lock:
            answers.append((resp.status_code, resp.json, resp.headers.get("Retry-After")))

    threads = [threading.Thread(target=check) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    tokens = [body["token"] for status, body, _ in answers if status == 200]
    assert len(tokens) == 1 and tokens[0]
    others = sorted((status, body["code"], retry) for status, body, retry in answers if status != 200)
    # Each waited while the first was at Vonage (or arrived after it) and found it over: never told to
    # retry, never the cap, never a cancel.
    assert others == [(404, "no_pending_verification", None)] * 7
    assert len(approved) == 1  # one check went to Vonage
    assert vonage.calls("cancel") == []


def test_ten_concurrent_sends_to_one_number_start_one_verification(
        store_url: str, settings: dict[str, str], vonage: FakeVonage, make_app: MakeApp,
        clean_redis_pending: redis.Redis) -> None:
    # Without limits: ten sends to one number at once would meet the per-number limit first.
    app = make_app({**settings, "OTP_STORE_URL": store_url, "OTP_RECORD_KEY": RECORD_KEY,
                    "OTP_RATELIMIT_ENABLED": "false"})
    starts: list[object] = []

    def vonage_start(request: object) -> tuple[int, dict[str, str], str]:
        time.sleep(0.2)  # the first send is at Vonage while the others arrive
        starts.append(request)
        if vonage.api == "legacy":
            return 200, {}, json.dumps({"request_id": "req-0001", "status": "0"})
        return 202, {}, json.dumps({"request_id": "req-0001"})

    vonage.mock.add_callback(responses.POST, vonage.start_url(), callback=vonage_start)
    barrier = threading.Barrier(10)
    lock = threading.Lock()
    answers: list[tuple[int, dict[str, object]]] = []

    def send() -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post("/request-otp", json={"phoneNumber": NUMBER})
        with lock:
            answers.append((resp.status_code, resp.json))

    threads = [threading.Thread(target=send) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(status for status, _ in answers) == [200] + [409] * 9
    assert all(body["code"] == "verification_in_progress" and "verificationId" not in body
               for status, body in answers if status == 409)
    assert len(starts) == 1  # one code went out
    started = next(body for status, body in answers if status == 200)
    store = app.extensions["otp_store"]
    latest = store.latest(NUMBER)
    assert latest is not None and latest.id == started["verificationId"] and latest.request_id == "req-0001"
