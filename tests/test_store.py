"""One store contract, run against the memory backend and a real Redis."""

from __future__ import annotations

import os
import random
import shutil
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest.mock import ANY

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.errors import StoreError
from app.settings import ConfigError
from app.store import Pending, Store, store_from_url
from app.store.memory import MemoryStore
from app.store.redis import RedisStore
from app.store.sql import SqlStore

from .conftest import (
    NUMBER,
    REDIS_URL,
    SETTINGS,
    FakeVonage,
    MakeApp,
    empty_sql,
    migrate,
    redis_or_fail,
    start_redis_server,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'otp.db'}"
    migrate(url)
    return url


@pytest.fixture(scope="module")
def postgres_at_head(postgres_url: str) -> str:
    migrate(postgres_url)
    return postgres_url


BACKENDS = ["memory", "redis", "redis-cluster", "redis-sentinel", "postgresql", "sqlite"]


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """One store contract, run against every backend; each test starts from an empty store."""
    kind = request.param
    if kind == "memory":
        yield MemoryStore(record_days=30)
        return
    if kind in ("postgresql", "sqlite"):
        url = request.getfixturevalue("postgres_at_head" if kind == "postgresql" else "sqlite_url")
        empty_sql(url)
        sql = SqlStore.from_url(url, record_days=30, record_key=b"k" * 32)
        yield sql
        sql.close()
        empty_sql(url)  # a later module's test on the same database must not meet these claims
        return
    prefix = f"otp-test:{uuid.uuid4().hex}:"
    if kind == "redis":
        redis_or_fail()
        backend = RedisStore(redis.Redis.from_url(REDIS_URL, decode_responses=True), prefix, 30, b"k" * 32)
    else:
        url = request.getfixturevalue("redis_cluster_url" if kind == "redis-cluster" else "redis_sentinel_url")
        backend = RedisStore.from_url(url, prefix, record_days=30, record_key=b"k" * 32)
    yield backend
    backend.close()


def pending(vid: str = "vid-1", number: str = NUMBER, rid: str = "req-1", **extra: object) -> Pending:
    return Pending(vid, number, rid, **extra)  # type: ignore[arg-type]


def test_a_verification_nobody_ends_is_recorded_expired_once(store: Store) -> None:
    assert store.reserve(Pending("vid-x", NUMBER, "", address="203.0.113.9", caller="shop"), 1) is None
    store.move(Pending("vid-x", NUMBER, ""), "req-x", "vonage", 1)
    store.begin_check("vid-x", "c1", 0.01)
    store.count_delivery("vid-x", 2)
    store.create(pending("vid-live", number="+14155552672"), 60)
    time.sleep(1.3)

    first, again = store.expired(10), store.expired(10)

    assert [r.id for r in first] == ["vid-x"] and again == []
    [ran_out] = first
    assert (ran_out.outcome, ran_out.number, ran_out.country, ran_out.provider, ran_out.request_id) == (
        "expired", "+1415*****71", "US", "vonage", "req-x")
    assert (ran_out.deliveries, ran_out.checks, ran_out.address, ran_out.caller) == (2, 1, "203.0.113.9", "shop")
    assert ran_out.ended is not None and ran_out.ended - ran_out.started >= 1
    [kept] = store.lookup("vid-x")
    assert (kept.outcome, kept.request_id, kept.address) == ("expired", "req-x", "")  # no address once over
    assert [r.outcome for r in store.lookup("+14155552672")] == [""]  # still pending


def test_an_end_is_recorded_and_found_by_number_and_by_id(store: Store) -> None:
    for n, outcome in ((1, "approved"), (2, "cancelled")):
        store.reserve(Pending(f"vid-{n}", NUMBER, ""), 60)
        store.move(Pending(f"vid-{n}", NUMBER, ""), f"req-{n}", "twilio", 60)
        assert store.delete(Pending(f"vid-{n}", NUMBER, f"req-{n}"), outcome)
        time.sleep(0.01)  # ordered by start
    store.reserve(Pending("vid-3", NUMBER, ""), 60)
    # A start that sent nothing is released without an outcome: no record of it.
    store.delete(Pending("vid-3", NUMBER, ""))

    found = store.lookup(NUMBER)

    assert [(r.id, r.outcome, r.provider, r.request_id) for r in found] == [
        ("vid-2", "cancelled", "twilio", "req-2"), ("vid-1", "approved", "twilio", "req-1")]
    assert all(r.number == "+1415*****71" and r.ended for r in found)
    assert store.lookup("vid-3") == [] and store.lookup("+14155550000") == []
    assert store.expired(10) == []


def test_concurrent_sweeps_end_each_verification_once(store: Store) -> None:
    for i in range(20):
        store.reserve(Pending(f"vid-{i}", f"+1415555{i:04d}", ""), 1)
    time.sleep(1.3)
    swept: list[str] = []

    def sweep() -> None:
        while batch := store.expired(3):
            swept.extend(r.id for r in batch)

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(swept) == sorted(f"vid-{i}" for i in range(20))


def test_create_then_get_by_id(store: Store) -> None:
    store.create(pending("vid-1", nonce="n-1"), 60)

    assert store.get("vid-1") == Pending("vid-1", NUMBER, "req-1", "n-1", checks=0, deliveries=1)
    assert store.get("vid-2") is None


def test_latest_names_the_newest_verification_of_a_number(store: Store) -> None:
    assert store.latest(NUMBER) is None
    store.create(pending("vid-1", rid="req-1"), 60)
    store.create(pending("vid-2", rid="req-2"), 60)

    latest = store.latest(NUMBER)
    assert latest is not None and (latest.id, latest.request_id) == ("vid-2", "req-2")
    assert store.get("vid-1") is not None  # the earlier one stays findable by its own id
    assert store.latest("+14155550000") is None


def test_delete_removes_the_verification_and_its_index(store: Store) -> None:
    first = pending("vid-1")
    store.create(first, 60)

    assert store.delete(first) is True
    assert store.get("vid-1") is None
    assert store.latest(NUMBER) is None
    assert store.delete(first) is False


def test_ending_an_older_verification_keeps_the_newer_one_indexed(store: Store) -> None:
    older, newer = pending("vid-1", rid="req-1"), pending("vid-2", rid="req-2")
    store.create(older, 60)
    store.create(newer, 60)

    assert store.delete(older) is True

    latest = store.latest(NUMBER)
    assert latest is not None and latest.id == "vid-2"


HOLD = 30.0


def test_checks_and_deliveries_are_counted_per_verification(store: Store) -> None:
    assert store.begin_check("vid-1", "c1", HOLD) is None
    store.create(pending("vid-1"), 60)
    store.create(pending("vid-2", rid="req-2"), 60)

    assert store.begin_check("vid-1", "c1", HOLD) == pending("vid-1", checks=1)
    store.settle("vid-1", "c1")
    assert store.begin_check("vid-1", "c2", HOLD) == pending("vid-1", checks=2)
    store.count_delivery("vid-1", 2)
    store.count_delivery("vid-1", 2)  # sent again after a lost answer: still the second delivery
    assert store.begin_check("vid-2", "c3", HOLD) == pending("vid-2", rid="req-2", checks=1)
    assert store.get("vid-1") == pending("vid-1", checks=2, deliveries=2)
    store.count_delivery("vid-1", 3)
    assert store.get("vid-1") == pending("vid-1", checks=2, deliveries=3)


def test_one_check_at_a_time_holds_a_verification(store: Store) -> None:
    store.create(pending("vid-1"), 60)

    assert store.begin_check("vid-1", "first", HOLD) == pending("vid-1", checks=1)
    # While the first is at the provider, a second (or a cancel) is refused, and nothing of it is counted.
    assert store.begin_check("vid-1", "second", HOLD) == pending("vid-1", checks=1, busy=True)
    assert store.begin_check("vid-1", "cancel", HOLD, count=False) == pending("vid-1", checks=1, busy=True)
    store.settle("vid-1", "second")  # not the holder: releases nothing
    assert store.begin_check("vid-1", "third", HOLD) == pending("vid-1", checks=1, busy=True)

    store.settle("vid-1", "first")
    assert store.begin_check("vid-1", "cancel", HOLD, count=False) == pending("vid-1", checks=1)
    store.settle("vid-1", "cancel")
    assert store.begin_check("vid-1", "fourth", HOLD) == pending("vid-1", checks=2)


def test_a_hold_given_back_takes_its_count_back(store: Store) -> None:
    store.create(pending("vid-1"), 60)
    store.begin_check("vid-1", "typo", HOLD)
    store.settle("vid-1", "typo")

    # A check refused after its hold (its limits, a malformed code) never reached the provider.
    assert store.begin_check("vid-1", "refused", HOLD) == pending("vid-1", checks=2)
    store.settle("vid-1", "refused", uncount=True)
    store.settle("vid-1", "refused", uncount=True)  # sent again: the hold is no longer its own

    assert store.get("vid-1") == pending("vid-1", checks=1)
    assert store.begin_check("vid-1", "next", HOLD) == pending("vid-1", checks=2)
    store.settle("vid-1", "other", uncount=True)  # not the holder: neither released nor uncounted
    assert store.begin_check("vid-1", "after", HOLD) == pending("vid-1", checks=2, busy=True)
    [record] = store.lookup("vid-1")  # the operator's record counts what the verification counts
    assert record.checks == 2


def test_a_lost_check_marks_the_verification_for_every_later_check(store: Store) -> None:
    store.create(pending("vid-1"), 60)

    store.begin_check("vid-1", "timed-out", HOLD)
    store.settle("vid-1", "timed-out", lost=True)  # a 504: the provider may have approved it
    store.begin_check("vid-1", "typo", HOLD)
    store.settle("vid-1", "typo")  # a wrong code settles its own check only

    later = store.begin_check("vid-1", "right", HOLD)
    assert later == pending("vid-1", checks=3, unsettled=True)
    assert store.get("vid-1") == pending("vid-1", checks=3, unsettled=True)


def test_a_hold_that_runs_out_was_a_lost_check(store: Store) -> None:
    store.create(pending("vid-1"), 60)

    first = store.begin_check("vid-1", "killed", 0.05)  # its worker dies: nobody settles it
    time.sleep(0.2)
    second = store.begin_check("vid-1", "next", HOLD)
    store.settle("vid-1", "killed")  # too late to release anything: the hold is the next one's
    third = store.begin_check("vid-1", "third", HOLD)

    assert first == pending("vid-1", checks=1)
    assert second == pending("vid-1", checks=2, unsettled=True)
    assert third is not None and third.busy


def test_a_moved_verification_is_bound_to_the_new_providers_code(store: Store) -> None:
    store.create(Pending("vid-1", NUMBER, "req-1", challenge="country", provider="vonage"), 60)
    store.count_delivery("vid-1", 2)
    store.begin_check("vid-1", "c1", HOLD)
    store.settle("vid-1", "c1", lost=True)  # a check of the old code whose answer was lost

    store.move(Pending("vid-1", NUMBER, "req-1"), "VE-new", "twilio", 660)
    store.move(Pending("gone", NUMBER, "req-2"), "VE-other", "twilio", 660)  # nothing to move: nothing created

    moved = store.get("vid-1")
    assert moved == Pending("vid-1", NUMBER, "VE-new", checks=1, deliveries=1, unsettled=False, challenge="country",
                            provider="twilio")
    assert store.latest(NUMBER) == moved and store.get("gone") is None


def test_the_challenge_and_the_provider_of_a_start_stay_with_the_verification(store: Store) -> None:
    store.create(Pending("vid-1", NUMBER, "req-1", challenge="country", provider="twilio"), 60)
    store.count_delivery("vid-1", 2)

    checked = store.begin_check("vid-1", "c1", HOLD)
    assert checked is not None and (checked.challenge, checked.provider) == ("country", "twilio")
    found, latest = store.get("vid-1"), store.latest(NUMBER)
    assert found is not None and (found.challenge, found.provider, found.deliveries) == ("country", "twilio", 2)
    assert latest is not None and (latest.challenge, latest.provider) == ("country", "twilio")


def test_settling_or_counting_an_expired_verification_does_not_bring_it_back(store: Store) -> None:
    store.settle("gone", "c1", lost=True)
    store.count_delivery("gone", 2)

    assert store.get("gone") is None


def test_of_checks_racing_from_many_threads_one_holds_and_is_counted(store: Store) -> None:
    store.create(pending("vid-1"), 60)
    barrier = threading.Barrier(8)
    held: list[Pending | None] = []

    def check(name: str) -> None:
        barrier.wait()
        held.append(store.begin_check("vid-1", name, HOLD))

    threads = [threading.Thread(target=check, args=(f"c{n}",)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(h.busy for h in held if h is not None) == [False] + [True] * 7
    assert {h.checks for h in held if h is not None} == {1}


def test_of_racing_ends_one_wins(store: Store) -> None:
    entry = pending("vid-1")
    store.create(entry, 60)
    barrier = threading.Barrier(8)
    results: list[bool] = []

    def end() -> None:
        barrier.wait()
        results.append(store.delete(entry, "approved"))

    threads = [threading.Thread(target=end) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(results) == [False] * 7 + [True]


def test_ping(store: Store) -> None:
    store.ping()


def test_concurrent_writers_and_readers(store: Store) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                entry = pending(f"vid{n}-{i}", number=f"+1415555{n:02d}{i:02d}", rid=f"req{i}")
                store.create(entry, 60)
                assert store.get(entry.id) == entry
                assert store.latest(entry.number) == entry
                assert store.delete(entry) is True
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert errors == []


def test_memory_entries_expire() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    entry = pending("vid-1")
    store.create(entry, 30)

    clock.now += 29
    assert store.get("vid-1") == entry
    clock.now += 1
    assert store.get("vid-1") is None
    assert store.latest(NUMBER) is None
    assert store.begin_check("vid-1", "c1", HOLD) is None
    assert store.delete(entry) is False


def test_memory_entries_nobody_reads_are_ended_by_the_sweep() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock, record_days=1)
    for i in range(5):
        store.create(pending(f"old{i}", number=f"+1415555{i:04d}"), 10)
    clock.now += 11
    store.create(pending("fresh"), 10)

    swept = store.expired(3) + store.expired(3) + store.expired(3)

    assert sorted(r.id for r in swept) == [f"old{i}" for i in range(5)]
    assert {r.outcome for r in swept} == {"expired"} and len(store) == 1
    assert [r.outcome for r in store.lookup("+14155550000")] == ["expired"]


def test_redis_entries_carry_the_ttl() -> None:
    client = redis_or_fail()
    store = RedisStore(client, prefix="otp-test:ttl:")
    try:
        store.create(pending("vid-1"), 360)
        assert 355 <= client.ttl("otp-test:ttl:v:{vid-1}") <= 360
        assert 355 <= client.ttl(f"otp-test:ttl:n:{NUMBER}") <= 360
    finally:
        client.delete("otp-test:ttl:v:{vid-1}", f"otp-test:ttl:n:{NUMBER}")


def test_a_moved_redis_entry_lives_as_long_as_its_new_code() -> None:
    client = redis_or_fail()
    store = RedisStore(client, prefix="otp-test:mv:")
    try:
        store.create(pending("vid-1"), 60)
        store.move(pending("vid-1"), "VE-new", "twilio", 660)
        assert 655 <= client.ttl("otp-test:mv:v:{vid-1}") <= 660
        assert 655 <= client.ttl(f"otp-test:mv:n:{NUMBER}") <= 660
    finally:
        client.delete("otp-test:mv:v:{vid-1}", f"otp-test:mv:n:{NUMBER}")


def test_a_redis_reservation_and_its_answer_survive_a_redis_that_forgot_its_scripts() -> None:
    """On one Redis a reservation and the start's answer are one script each: after a restart (SCRIPT
    FLUSH here) they load it again, and write every key a reservation and a move write."""
    client = redis_or_fail()
    store, keys = RedisStore(client, prefix="otp-test:rs:"), ["otp-test:rs:v:{vid-1}", f"otp-test:rs:n:{NUMBER}",
                                                               "otp-test:rs:r:{vid-1}", "otp-test:rs:x"]
    try:
        client.script_flush()
        assert store.reserve(pending("vid-1", rid=""), 30) is None
        assert store.reserve(pending("vid-2", rid=""), 30) == pending("vid-1", rid="", started=ANY)
        assert client.exists("otp-test:rs:v:{vid-2}", "otp-test:rs:r:{vid-2}") == 0  # the refused one is gone
        assert client.zscore("otp-test:rs:x", "vid-1") == pytest.approx(time.time() + 30, abs=2)
        client.script_flush()
        store.move(pending("vid-1", rid=""), "req-9", "vonage", 600)
        assert store.latest(NUMBER) == pending("vid-1", rid="req-9", provider="vonage", started=ANY)
        assert 595 <= client.ttl(f"otp-test:rs:n:{NUMBER}") <= 600
        assert client.hget("otp-test:rs:r:{vid-1}", "rid") == "req-9"
        assert client.zscore("otp-test:rs:x", "vid-1") == pytest.approx(time.time() + 600, abs=2)
    finally:
        client.delete(*keys, "otp-test:rs:r:{vid-2}", "otp-test:rs:v:{vid-2}")


def test_redis_entries_expire() -> None:
    client = redis_or_fail()
    store = RedisStore(client, prefix="otp-test:exp:")
    store.create(pending("vid-1"), 60)
    client.pexpire("otp-test:exp:v:{vid-1}", 1)  # let Redis itself expire it instead of sleeping a minute
    client.pexpire(f"otp-test:exp:n:{NUMBER}", 1)
    deadline = time.monotonic() + 2
    while client.exists("otp-test:exp:v:{vid-1}") and time.monotonic() < deadline:
        time.sleep(0.01)

    assert store.get("vid-1") is None
    assert store.begin_check("vid-1", "c1", HOLD) is None


@pytest.mark.parametrize("op", [
    lambda s: s.create(pending(), 60), lambda s: s.get("vid-1"), lambda s: s.latest(NUMBER),
    lambda s: s.begin_check("vid-1", "c1", 30), lambda s: s.settle("vid-1", "c1"),
    lambda s: s.count_delivery("vid-1", 2), lambda s: s.delete(pending()), lambda s: s.ping(),
    lambda s: s.reserve(pending(), 60),
])
def test_redis_down_raises_store_error(op: Callable[[Store], object]) -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1/0")

    with pytest.raises(StoreError):
        op(store)


@pytest.mark.parametrize("url", ["memcached://x", "postgres://x", "nothing"])
def test_unknown_scheme_fails_at_startup(url: str) -> None:
    with pytest.raises(ConfigError, match="OTP_STORE_URL"):
        store_from_url(url)


def test_store_is_chosen_by_scheme() -> None:
    assert isinstance(store_from_url("memory://"), MemoryStore)
    assert isinstance(store_from_url("redis://127.0.0.1:6379/13"), RedisStore)
    assert isinstance(store_from_url("rediss://127.0.0.1:6379/13"), RedisStore)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_service_answers_503_while_redis_is_down_and_recovers_by_itself(vonage: FakeVonage,
                                                                        tmp_path: Path, make_app: MakeApp) -> None:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server must be installed to run the store tests under CI")
        pytest.skip("no redis-server binary")
    port = _free_port()
    server = start_redis_server(port, tmp_path)
    client = make_app({**SETTINGS, "VONAGE_VERIFY_API": vonage.api, "OTP_STORE_URL": f"redis://127.0.0.1:{port}/0"}).test_client()
    try:
        vonage.start("ok", rid="req-before")
        assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200

        server.terminate()
        server.wait(10)
        down = client.post("/check-otp", json={"code": "123456"})
        assert down.status_code == 503
        assert down.json["code"] == "store_unavailable"
        assert client.get("/readyz").status_code == 503

        # An empty Redis: the entry made before is gone with the old one.
        server = start_redis_server(port, tmp_path)
        assert client.get("/readyz").status_code == 200
        vonage.start("ok", rid="req-after")
        assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
        vonage.check("ok", rid="req-after")
        assert client.post("/check-otp", json={"code": "123456"}).status_code == 200
    finally:
        server.kill()
        server.wait(10)


def test_pending_verification_is_shared_by_two_apps_on_one_redis(
        clean_redis_pending: redis.Redis, vonage: FakeVonage, make_app: MakeApp) -> None:
    """Two app instances stand for two workers or two machines sharing one Redis."""
    settings = {**SETTINGS, "OTP_STORE_URL": "redis://127.0.0.1:6379/13", "VONAGE_VERIFY_API": vonage.api}
    first, second = make_app(settings).test_client(), make_app(settings).test_client()
    vonage.start("ok", rid="req-shared")
    vonage.check("ok", rid="req-shared")

    started = first.post("/request-otp", json={"phoneNumber": NUMBER})
    assert started.status_code == 200
    vid = started.json["verificationId"]
    assert second.post("/check-otp", json={"verificationId": vid, "code": "123456"}).status_code == 200
    assert first.post("/check-otp", json={"verificationId": vid, "code": "123456"}).status_code == 404


def test_app_entries_live_as_long_as_the_code_plus_a_margin(clean_redis_pending: redis.Redis,
                                                            vonage: FakeVonage, make_app: MakeApp) -> None:
    settings = {**SETTINGS, "OTP_STORE_URL": "redis://127.0.0.1:6379/13", "VONAGE_PIN_EXPIRY": "120",
                "VONAGE_VERIFY_API": vonage.api}
    vonage.start("ok", rid="req-ttl")

    started = make_app(settings).test_client().post("/request-otp", json={"phoneNumber": NUMBER})
    assert started.status_code == 200

    record = f"otp:v:{{{started.json['verificationId']}}}"
    fields = clean_redis_pending.hgetall(record)
    assert float(fields.pop("started")) > 0
    assert fields == {"number": NUMBER, "rid": "req-ttl", "nonce": "", "checks": "0", "deliveries": "1",
                      "unsettled": "0", "challenge": "", "provider": "vonage", "address": "127.0.0.1", "caller": ""}
    assert clean_redis_pending.get(f"otp:n:{NUMBER}") == started.json["verificationId"]
    assert 175 <= clean_redis_pending.ttl(record) <= 180


@pytest.mark.parametrize("backend", ["redis_cluster_url", "redis_sentinel_url"])
def test_a_whole_flow_on_a_cluster_and_behind_a_sentinel(backend: str, vonage: FakeVonage,
                                                         request: pytest.FixtureRequest, make_app: MakeApp) -> None:
    """The store and the rate limits (which default to the store's URL) on the same deployment."""
    url = request.getfixturevalue(backend)
    app = make_app({**SETTINGS, "VONAGE_VERIFY_API": vonage.api, "OTP_STORE_URL": url,
                      "OTP_RATELIMIT_REQUEST_NUMBER": "1/hour"})
    owner, stranger = app.test_client(), app.test_client()
    vonage.start("ok", rid=f"req-{backend}")
    vonage.check("wrong", rid=f"req-{backend}")
    vonage.check("ok", rid=f"req-{backend}")
    number = f"+1415{random.randint(200, 999)}{random.randint(1000, 9999)}"

    started = owner.post("/request-otp", json={"phoneNumber": number})
    assert started.status_code == 200
    assert stranger.post("/check-otp", json={"phoneNumber": number, "code": "123456"}).status_code == 400
    assert owner.post("/check-otp", json={"code": "000000"}).status_code == 401
    verified = owner.post("/check-otp", json={"code": "123456"})
    assert verified.status_code == 200 and verified.json["phoneNumber"] == number
    # The limits were counted there too: the number's one send an hour is spent.
    assert owner.post("/request-otp", json={"phoneNumber": number}).status_code == 429
    app.extensions["otp_store"].close()


class LosesOneAnswer(redis.Connection):
    """A connection whose next answer is lost after Redis carried the command out, as in a stall."""

    armed = False

    def read_response(self, *args: Any, **kwargs: Any) -> Any:
        response = super().read_response(*args, **kwargs)
        if LosesOneAnswer.armed:
            LosesOneAnswer.armed = False
            raise redis.TimeoutError("the answer was lost")
        return response


def test_a_delete_redis_py_sends_again_after_a_lost_answer_still_says_it_ended_the_verification() -> None:
    redis_or_fail()
    pool = redis.ConnectionPool.from_url(REDIS_URL, connection_class=LosesOneAnswer, decode_responses=True,
                                         retry=Retry(NoBackoff(), 1))
    client = redis.Redis(connection_pool=pool)
    store = RedisStore(client, prefix="otp-test:once:")
    try:
        store.create(pending("vid-warm"), 60)
        store.delete(pending("vid-warm"))  # the scripts are loaded
        store.create(pending("vid-1"), 60)

        LosesOneAnswer.armed = True  # Redis deletes it; its answer is lost; redis-py sends the script again
        assert store.delete(pending("vid-1")) is True  # "I ended it", not "someone else did"
        assert LosesOneAnswer.armed is False
        assert store.delete(pending("vid-1")) is False  # another request's delete is told the truth
    finally:
        client.delete(*client.keys("otp-test:once:*") or ["-"])
        client.close()
        pool.disconnect()


def test_one_setting_bounds_the_store_and_the_limits_storage(make_app: MakeApp) -> None:
    app = make_app(OTP_STORE_URL=REDIS_URL, OTP_STORE_TIMEOUT="0.5")
    store = app.extensions["otp_store"].client.connection_pool
    limits = app.extensions["otp_limits"].storage.get_connection().connection_pool

    for pool in (store, limits):
        assert pool.connection_kwargs["socket_timeout"] == 0.5
        assert pool.connection_kwargs["socket_connect_timeout"] == 0.5
        assert pool.timeout == 0.5  # the wait for a pooled connection


@pytest.mark.parametrize("value", ["two", "0", "-1", "31"])
def test_the_store_timeout_refuses_what_is_not_a_bound(value: str, make_app: MakeApp) -> None:
    with pytest.raises(ConfigError, match="OTP_STORE_TIMEOUT"):
        make_app(OTP_STORE_TIMEOUT=value)


def test_the_store_timeout_says_what_it_allows(make_app: MakeApp) -> None:
    with pytest.raises(ConfigError, match="OTP_STORE_TIMEOUT must be a number, got 'two'"):
        make_app(OTP_STORE_TIMEOUT="two")
    with pytest.raises(ConfigError, match="OTP_STORE_TIMEOUT must be between 0.1 and 30, got 0"):
        make_app(OTP_STORE_TIMEOUT="0")


def test_a_store_that_is_down_answers_503_before_any_sms(vonage: FakeVonage, make_app: MakeApp) -> None:
    # Redis as the store is down while the limits count elsewhere: nothing may be sent that cannot be kept.
    app = make_app(OTP_STORE_URL="redis://127.0.0.1:1/0", OTP_RATELIMIT_STORAGE_URL="memory://")

    resp = app.test_client().post("/request-otp", json={"phoneNumber": NUMBER})

    assert (resp.status_code, resp.json["code"]) == (503, "store_unavailable")
    assert len(vonage.mock.calls) == 0  # Vonage was never asked


def test_a_number_is_reserved_by_one_verification_at_a_time(store: Store) -> None:
    first = pending("vid-1", rid="")

    assert store.reserve(first, 60) is None
    assert store.reserve(first, 60) is None  # sent again after a lost answer: the same answer
    assert store.reserve(pending("vid-2", rid=""), 60) == first  # the number's live one, nothing written
    assert store.get("vid-2") is None

    store.move(first, "req-1", "vonage", 60)  # the provider's request recorded
    assert store.reserve(pending("vid-3", rid=""), 60) == pending("vid-1", provider="vonage")
    assert store.delete(store.get("vid-1"), "approved") is True  # type: ignore[arg-type]
    assert store.reserve(pending("vid-4", rid=""), 60) is None  # the number is free once it ended
    assert store.latest(NUMBER) == pending("vid-4", rid="")
