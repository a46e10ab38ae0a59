"""The shared send budgets: unconverted deliveries per country, per 10,000-number block and overall.

One contract for the budget stores (memory, and Redis: one server and a Cluster), then the service: a
verified code gives its slot back, and concurrent sends cannot overshoot a budget.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis
from flask.testing import FlaskClient
from limits.storage import storage_from_string

from app.limits.budgets import BUDGET_PREFIX, Budget, BudgetStore, MemoryBudgets, budgets_for

from .conftest import REDIS_URL, FakeVonage, MakeApp, redis_or_fail


@pytest.fixture(params=["memory", "redis", "cluster"])
def budgets(request: pytest.FixtureRequest) -> Iterator[BudgetStore]:
    if request.param == "memory":
        yield MemoryBudgets()
        return
    url = REDIS_URL if request.param == "redis" else request.getfixturevalue("redis_cluster_url")
    if request.param == "redis":
        redis_or_fail()
    storage = storage_from_string(url)
    store = budgets_for(storage)
    yield store
    client = storage.get_connection()  # type: ignore[attr-defined]
    for key in list(client.scan_iter(match=f"{BUDGET_PREFIX}*")) if request.param == "redis" else []:
        client.delete(key)
    client.close()


def budget(name: str, limit: int = 2, seconds: int = 60) -> Budget:
    return Budget("send-test", f"{BUDGET_PREFIX}test:{name}:{time.time_ns()}", limit, seconds)


def test_a_budget_takes_slots_up_to_its_limit_then_names_itself_and_when_it_frees(budgets: BudgetStore) -> None:
    one = budget("one", limit=2, seconds=60)

    assert budgets.take([one], "a#1") == [] and budgets.take([one], "b#1") == []
    [(full, frees)] = budgets.take([one], "c#1")

    assert full == one and time.time() + 55 < frees <= time.time() + 60


def test_slots_are_taken_in_every_budget_or_in_none(budgets: BudgetStore) -> None:
    roomy, tight = budget("roomy", limit=5), budget("tight", limit=1)
    assert budgets.take([roomy, tight], "a#1") == []

    assert [b for b, _ in budgets.take([roomy, tight], "b#1")] == [tight]
    # The refused delivery took nothing in the roomy budget: four more fit there.
    assert all(budgets.take([roomy], f"m{i}#1") == [] for i in range(4))
    assert budgets.take([roomy], "z#1") != []


def test_a_slot_given_back_makes_room_and_only_its_own(budgets: BudgetStore) -> None:
    one = budget("one", limit=2)
    budgets.take([one], "a#1")
    budgets.take([one], "b#1")

    budgets.give_back([one], ["a#1", "never-taken#1"])

    assert budgets.take([one], "c#1") == []
    assert budgets.take([one], "d#1") != []


def test_slots_older_than_the_window_free_themselves() -> None:
    budgets = MemoryBudgets()
    one = budget("one", limit=1, seconds=1)
    budgets.take([one], "a#1")

    budgets._slots[one.key]["a#1"] -= 2  # as if taken two seconds ago

    assert budgets.take([one], "b#1") == []


# --- the service ---------------------------------------------------------------------------------
def send(client: FlaskClient, number: str, address: str) -> int:
    return client.post("/request-otp", json={"phoneNumber": number}, environ_base={"REMOTE_ADDR": address}).status_code


@pytest.fixture
def redis_settings(settings: dict[str, str], clean_redis_pending: redis.Redis) -> dict[str, str]:
    return {**settings, "OTP_STORE_URL": REDIS_URL}


@pytest.mark.parametrize("api", ["legacy"])
@pytest.mark.parametrize("store", ["memory", "redis"])
def test_a_verified_code_gives_its_slot_back_and_an_unverified_one_keeps_it(
        store: str, settings: dict[str, str], vonage: FakeVonage, make_app: MakeApp,
        request: pytest.FixtureRequest) -> None:
    base = request.getfixturevalue("redis_settings") if store == "redis" else settings
    client = make_app(base, OTP_RATELIMIT_COUNTRY="2/hour").test_client()
    vonage.start("ok")
    vonage.check("ok")

    # Two people in one country type their codes back: the country's budget is whole again.
    for i in range(2):
        started = client.post("/request-otp", json={"phoneNumber": f"+1415555{i:04d}"},
                              environ_base={"REMOTE_ADDR": f"198.51.100.{i}"})
        assert started.status_code == 200
        checked = client.post("/check-otp", json={"verificationId": started.json["verificationId"], "code": "123456"})
        assert checked.status_code == 200
    # Two codes nobody types back spend it: the next send needs a solved challenge.
    assert [send(client, f"+1415556{i:04d}", f"198.51.100.{10 + i}") for i in range(3)] == [200, 200, 428]


@pytest.mark.parametrize("api", ["legacy"])
@pytest.mark.parametrize("store", ["memory", "redis"])
def test_concurrent_sends_cannot_overshoot_a_budget(store: str, settings: dict[str, str], vonage: FakeVonage,
                                                    make_app: MakeApp, request: pytest.FixtureRequest) -> None:
    base = request.getfixturevalue("redis_settings") if store == "redis" else settings
    client_app = make_app(base, OTP_RATELIMIT_PREFIX="5/hour")
    vonage.start("ok")
    statuses: list[int] = []
    start = threading.Barrier(20)

    def one(i: int) -> None:
        client = client_app.test_client()
        start.wait()
        statuses.append(send(client, f"+1415555{2600 + i:04d}", f"203.0.113.{i}"))

    threads = [threading.Thread(target=one, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    # Every send of the block took its slot before Vonage was asked: five went out, the rest were asked to
    # solve a challenge first.
    assert sorted(statuses) == [200] * 5 + [428] * 15
    assert len(vonage.calls("start")) == 5


@pytest.mark.parametrize("api", ["legacy"])
def test_a_send_and_a_resend_take_their_budgets_and_log_no_error(settings: dict[str, str], vonage: FakeVonage,
                                                                  make_app: MakeApp,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    import logging

    client = make_app(settings).test_client()
    vonage.start("ok")
    vonage.control("next", "ok")
    with caplog.at_level(logging.INFO):
        vid = client.post("/request-otp", json={"phoneNumber": "+14155550001"}).json["verificationId"]
        assert client.post("/resend-otp", json={"verificationId": vid}).status_code == 200

    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
