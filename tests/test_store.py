"""One store contract, run against the memory backend and a real Redis."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from app import create_app
from app.config import ConfigError
from app.errors import StoreError
from app.store import MemoryStore, RedisStore, Store, store_from_url

from .conftest import NUMBER, SETTINGS, FakeVonage, redis_or_fail


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["memory", "redis"])
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    client = redis_or_fail()
    prefix = f"otp-test:{uuid.uuid4().hex}:"
    yield RedisStore(redis.Redis.from_url("redis://127.0.0.1:6379/13", decode_responses=True), prefix)
    keys = list(client.scan_iter(match=prefix + "*"))
    if keys:
        client.delete(*keys)


def test_put_then_get(store: Store) -> None:
    store.put("+14155552671", "req-1", 60)

    assert store.get("+14155552671") == "req-1"
    assert store.get("+14155552672") is None


def test_put_replaces(store: Store) -> None:
    store.put("k", "old", 60)
    store.put("k", "new", 60)

    assert store.get("k") == "new"


def test_delete(store: Store) -> None:
    store.put("k", "v", 60)

    assert store.delete("k") is True
    assert store.get("k") is None
    assert store.delete("k") is False


def test_delete_with_expected_value_spares_a_newer_entry(store: Store) -> None:
    store.put("k", "newer", 60)

    assert store.delete("k", expected="older") is False
    assert store.get("k") == "newer"
    assert store.delete("k", expected="newer") is True
    assert store.get("k") is None


def test_checks_are_counted_per_request(store: Store) -> None:
    assert store.count_check("k") is None
    store.put("k", "req-1", 60)

    assert store.count_check("k") == ("req-1", 1)
    assert store.count_check("k") == ("req-1", 2)
    store.put("k", "req-1", 60)  # the same request stored again (a 409) keeps its count
    assert store.count_check("k") == ("req-1", 3)
    store.put("k", "req-2", 60)  # a new request starts from zero
    assert store.count_check("k") == ("req-2", 1)


def test_checks_counted_from_many_threads_are_not_lost(store: Store) -> None:
    store.put("k", "req-1", 60)
    threads = [threading.Thread(target=lambda: [store.count_check("k") for _ in range(25)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert store.count_check("k") == ("req-1", 201)


def test_ping(store: Store) -> None:
    store.ping()


def test_concurrent_writers_and_readers(store: Store) -> None:
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                store.put(f"k{n}-{i}", f"v{i}", 60)
                assert store.get(f"k{n}-{i}") == f"v{i}"
                assert store.delete(f"k{n}-{i}", expected=f"v{i}") is True
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
    store.put("k", "v", 30)

    clock.now += 29
    assert store.get("k") == "v"
    clock.now += 1
    assert store.get("k") is None
    assert store.delete("k") is False


def test_memory_sweeps_entries_nobody_reads() -> None:
    clock = FakeClock()
    store = MemoryStore(clock=clock)
    for i in range(MemoryStore.SWEEP_EVERY - 1):
        store.put(f"old{i}", "v", 10)
    clock.now += 11

    store.put("fresh", "v", 10)

    assert len(store) == 1


def test_redis_entries_carry_the_ttl() -> None:
    client = redis_or_fail()
    store = RedisStore(client, prefix="otp-test:ttl:")
    try:
        store.put("k", "v", 360)
        assert 355 <= client.ttl("otp-test:ttl:k") <= 360
    finally:
        client.delete("otp-test:ttl:k")


def test_redis_entries_expire() -> None:
    client = redis_or_fail()
    store = RedisStore(client, prefix="otp-test:exp:")
    store.put("k", "v", 60)
    client.pexpire("otp-test:exp:k", 1)  # let Redis itself expire it instead of sleeping a minute
    deadline = time.monotonic() + 2
    while client.exists("otp-test:exp:k") and time.monotonic() < deadline:
        time.sleep(0.01)

    assert store.get("k") is None


@pytest.mark.parametrize("op", [
    lambda s: s.put("k", "v", 60), lambda s: s.get("k"), lambda s: s.count_check("k"), lambda s: s.delete("k"),
    lambda s: s.delete("k", expected="v"), lambda s: s.ping(),
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


def _start_redis(port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = redis.Redis(port=port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            probe.ping()
            return proc
        except redis.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("redis-server did not start")


def test_service_answers_503_while_redis_is_down_and_recovers_by_itself(vonage: FakeVonage) -> None:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server must be installed to run the store tests under CI")
        pytest.skip("no redis-server binary")
    port = _free_port()
    server = _start_redis(port)
    client = create_app({**SETTINGS, "VONAGE_VERIFY_API": vonage.api, "OTP_STORE_URL": f"redis://127.0.0.1:{port}/0"}).test_client()
    try:
        vonage.start("ok", rid="req-before")
        assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200

        server.terminate()
        server.wait(10)
        down = client.post("/check-otp", json={"phoneNumber": NUMBER, "code": "123456"})
        assert down.status_code == 503
        assert down.json["code"] == "store_unavailable"
        assert client.get("/readyz").status_code == 503

        server = _start_redis(port)  # an empty Redis: the entry made before is gone with the old one
        assert client.get("/readyz").status_code == 200
        vonage.start("ok", rid="req-after")
        assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
        vonage.check("ok", rid="req-after")
        assert client.post("/check-otp", json={"phoneNumber": NUMBER, "code": "123456"}).status_code == 200
    finally:
        server.kill()
        server.wait(10)


def test_pending_verification_is_shared_by_two_apps_on_one_redis(
        clean_redis_pending: redis.Redis, vonage: FakeVonage) -> None:
    """Two app instances stand for two workers or two machines sharing one Redis."""
    settings = {**SETTINGS, "OTP_STORE_URL": "redis://127.0.0.1:6379/13", "VONAGE_VERIFY_API": vonage.api}
    first, second = create_app(settings).test_client(), create_app(settings).test_client()
    vonage.start("ok", rid="req-shared")
    vonage.check("ok", rid="req-shared")

    assert first.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    assert second.post("/check-otp", json={"phoneNumber": NUMBER, "code": "123456"}).status_code == 200
    assert first.post("/check-otp", json={"phoneNumber": NUMBER, "code": "123456"}).status_code == 404


def test_app_entries_live_as_long_as_the_code_plus_a_margin(clean_redis_pending: redis.Redis,
                                                            vonage: FakeVonage) -> None:
    settings = {**SETTINGS, "OTP_STORE_URL": "redis://127.0.0.1:6379/13", "VONAGE_PIN_EXPIRY": "120",
                "VONAGE_VERIFY_API": vonage.api}
    vonage.start("ok", rid="req-ttl")

    assert create_app(settings).test_client().post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200

    assert clean_redis_pending.hget(f"otp:pending:{NUMBER}", "rid") == "req-ttl"
    assert 175 <= clean_redis_pending.ttl(f"otp:pending:{NUMBER}") <= 180
