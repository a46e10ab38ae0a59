"""The providers' breakers: the same rules in one process and, shared by every client, in Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from app.breaker import Admission, Breaker, Change, MemoryBreaker, breaker_for
from app.breaker.redis import PREFIX, RedisBreaker
from app.store.memory import MemoryStore
from app.store.redis import RedisStore

from .conftest import REDIS_URL, redis_or_fail

COOLDOWN = 1


@pytest.fixture(params=["memory", "redis"])
def make_breaker(request: pytest.FixtureRequest) -> Iterator[Callable[[int], Breaker]]:
    """Breakers of one kind; the Redis ones share one server, as workers do."""
    if request.param == "memory":
        yield lambda threshold: MemoryBreaker(threshold, COOLDOWN)
        return
    client = redis_or_fail()
    yield lambda threshold: RedisBreaker(client, threshold, COOLDOWN)
    client.delete(*client.keys(PREFIX + "*") or ["-"])
    client.close()


@pytest.fixture
def name() -> str:
    return f"provider-{uuid.uuid4().hex[:8]}"


def test_consecutive_failures_open_it_and_a_success_resets_the_count(make_breaker: Callable[[int], Breaker],
                                                                     name: str) -> None:
    breaker = make_breaker(3)
    assert [breaker.failed(name), breaker.failed(name)] == [None, None]
    assert breaker.succeeded(name) is None  # closed all along: nothing changed
    assert [breaker.failed(name), breaker.failed(name)] == [None, None]
    assert breaker.admit(name).admission is Admission.CLOSED and breaker.admit(name).failures == 2

    assert breaker.failed(name) is Change.TRIPPED
    admitted = breaker.admit(name)
    assert admitted.admission is Admission.OPEN and 0 < admitted.retry_in <= COOLDOWN
    assert breaker.state(name) == "open"
    assert breaker.failed(name) is None  # already open: no second change


def test_after_the_cooldown_one_start_tries_it_and_its_outcome_decides(make_breaker: Callable[[int], Breaker],
                                                                       name: str) -> None:
    breaker = make_breaker(1)
    assert breaker.failed(name) is Change.TRIPPED
    time.sleep(COOLDOWN + 0.05)
    assert breaker.state(name) == "half_open"

    assert breaker.admit(name).admission is Admission.TRIAL
    assert breaker.admit(name).admission is Admission.OPEN  # the others keep skipping while the trial runs
    assert breaker.failed(name) is Change.REOPENED
    assert breaker.admit(name).admission is Admission.OPEN and breaker.state(name) == "open"

    time.sleep(COOLDOWN + 0.05)
    assert breaker.admit(name).admission is Admission.TRIAL
    assert breaker.succeeded(name) is Change.RECOVERED
    assert breaker.admit(name).admission is Admission.CLOSED and breaker.state(name) == "closed"


def test_a_trial_that_never_reports_frees_its_claim_after_a_cooldown(make_breaker: Callable[[int], Breaker],
                                                                     name: str) -> None:
    breaker = make_breaker(1)
    breaker.failed(name)
    time.sleep(COOLDOWN + 0.05)
    assert breaker.admit(name).admission is Admission.TRIAL  # its worker dies here
    time.sleep(COOLDOWN + 0.05)
    assert breaker.admit(name).admission is Admission.TRIAL


def test_breakers_are_per_provider(make_breaker: Callable[[int], Breaker], name: str) -> None:
    breaker = make_breaker(1)
    breaker.failed(name)
    assert breaker.admit(name + "-other").admission is Admission.CLOSED


def test_in_redis_a_fleet_learns_once_and_claims_one_trial() -> None:
    name = f"provider-{uuid.uuid4().hex[:8]}"
    clients = [redis.Redis.from_url(REDIS_URL) for _ in range(8)]  # one per worker, as gunicorn would have
    redis_or_fail()
    try:
        workers = [RedisBreaker(c, 2, COOLDOWN) for c in clients]
        assert workers[0].failed(name) is None
        assert workers[1].failed(name) is Change.TRIPPED  # two workers' failures are consecutive failures
        assert {w.admit(name).admission for w in workers} == {Admission.OPEN}
        time.sleep(COOLDOWN + 0.05)
        with ThreadPoolExecutor(len(workers)) as pool:
            admitted = list(pool.map(lambda w: w.admit(name).admission, workers))
        assert admitted.count(Admission.TRIAL) == 1 and admitted.count(Admission.OPEN) == len(workers) - 1
    finally:
        clients[0].delete(PREFIX + name)
        for client in clients:
            client.close()


def test_a_redis_that_does_not_answer_opens_nothing() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    breaker = RedisBreaker(client, 1, COOLDOWN)
    assert breaker.failed("vonage") is None
    assert breaker.admit("vonage").admission is Admission.CLOSED
    assert breaker.state("vonage") == "unknown"


def test_the_breakers_live_in_the_stores_redis_else_the_limits_else_in_memory() -> None:
    from limits.storage import MemoryStorage, RedisStorage

    redis_or_fail()
    store = RedisStore.from_url(REDIS_URL)
    storage = RedisStorage(REDIS_URL)
    try:
        assert isinstance(breaker_for(store, MemoryStorage(), 5, 30), RedisBreaker)
        assert isinstance(breaker_for(MemoryStore(), storage, 5, 30), RedisBreaker)
        assert isinstance(breaker_for(MemoryStore(), MemoryStorage(), 5, 30), MemoryBreaker)
    finally:
        store.close()
