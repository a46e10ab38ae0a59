"""Past a shared budget a send needs a solved proof-of-work challenge (ALTCHA), never a lockout.

The challenges are real and solved here by the altcha library, at the default difficulty.
"""

from __future__ import annotations

import base64
import datetime
import json
from typing import Any

import pytest
import redis
import responses
from altcha import solve_challenge_v1
from flask.testing import FlaskClient
from limits.storage import MemoryStorage

from app.challenge import Challenges

from .conftest import REDIS_URL, FakeVonage, MakeApp


def solution(client: FlaskClient) -> str:
    """Fetch a challenge as the widget does and solve it as a browser would: the payload to post as altcha."""
    challenge = client.get("/challenge").json
    assert challenge is not None and challenge["maxNumber"] == 100_000  # the default difficulty
    solved = solve_challenge_v1(challenge["challenge"], challenge["salt"], challenge["algorithm"],
                                challenge["maxNumber"])
    assert solved is not None
    payload = {name: challenge[name] for name in ("algorithm", "challenge", "salt", "signature")}
    return base64.b64encode(json.dumps({**payload, "number": solved.number}).encode()).decode()


def send(client: FlaskClient, number: str, address: str = "198.51.100.1", **body: Any) -> Any:
    return client.post("/request-otp", json={"phoneNumber": number, **body}, environ_base={"REMOTE_ADDR": address})


@pytest.fixture(params=["memory", "redis"])
def settings_for(request: pytest.FixtureRequest, settings: dict[str, str]) -> dict[str, str]:
    if request.param == "redis":
        request.getfixturevalue("clean_redis_pending")
        return {**settings, "OTP_STORE_URL": REDIS_URL}
    return settings


@pytest.mark.parametrize("api", ["legacy"])
def test_a_country_past_its_budget_asks_a_new_client_for_a_challenge_and_serves_it_with_a_solution(
        settings_for: dict[str, str], vonage: FakeVonage, make_app: MakeApp) -> None:
    client = make_app(settings_for, OTP_RATELIMIT_COUNTRY="2/hour").test_client()
    vonage.start("ok")
    assert [send(client, f"+1415555{i:04d}", f"198.51.100.{i}").status_code for i in range(2)] == [200, 200]

    refused = send(client, "+14155550100", "203.0.113.7")
    served = send(client, "+14155550100", "203.0.113.7", altcha=solution(client))

    assert refused.status_code == 428
    assert refused.json == {"code": "challenge_required", "limit": "country", "error": refused.json["error"]}
    assert "confirm you are a person" in refused.json["error"]
    assert served.status_code == 200 and len(vonage.calls("start")) == 3


@pytest.mark.parametrize("api", ["legacy"])
def test_a_solution_is_good_for_one_send(settings_for: dict[str, str], vonage: FakeVonage,
                                         make_app: MakeApp) -> None:
    client = make_app(settings_for, OTP_RATELIMIT_GLOBAL="1/hour").test_client()
    vonage.start("ok")
    assert send(client, "+14155550001").status_code == 200
    payload = solution(client)

    assert send(client, "+14155550002", "198.51.100.2", altcha=payload).status_code == 200
    replayed = send(client, "+14155550003", "198.51.100.3", altcha=payload)

    assert replayed.status_code == 428 and replayed.json["limit"] == "global"
    assert "not accepted" in replayed.json["error"]  # the person is told their solution was spent


@pytest.mark.parametrize("api", ["legacy"])
@pytest.mark.parametrize("bad", ["", "not base64!", base64.b64encode(b"{}").decode(), "x" * 5000])
def test_what_is_not_a_solution_of_ours_is_asked_again(settings: dict[str, str], vonage: FakeVonage,
                                                      make_app: MakeApp, bad: str) -> None:
    client = make_app(settings, OTP_RATELIMIT_GLOBAL="1/hour").test_client()
    vonage.start("ok")
    send(client, "+14155550001")

    assert send(client, "+14155550002", altcha=bad).status_code == 428


@pytest.mark.parametrize("api", ["legacy"])
def test_a_solution_from_another_key_is_refused(settings: dict[str, str], vonage: FakeVonage,
                                                make_app: MakeApp) -> None:
    ours = make_app(settings, OTP_RATELIMIT_GLOBAL="1/hour").test_client()
    theirs = make_app(settings, OTP_CHALLENGE_KEY="k" * 40).test_client()
    vonage.start("ok")
    send(ours, "+14155550001")

    assert send(ours, "+14155550002", altcha=solution(theirs)).status_code == 428


def test_an_expired_solution_is_refused() -> None:
    challenges = Challenges(b"k" * 32, 1_000, MemoryStorage(), ttl=-1)
    challenge = challenges.new()
    solved = solve_challenge_v1(challenge["challenge"], challenge["salt"], challenge["algorithm"],
                                challenge["maxNumber"])
    assert solved is not None
    payload = {name: challenge[name] for name in ("algorithm", "challenge", "salt", "signature")}

    assert challenges.redeem(base64.b64encode(json.dumps({**payload, "number": solved.number}).encode()).decode()) \
        is False


@pytest.mark.parametrize("api", ["legacy"])
def test_every_worker_and_machine_with_the_signing_key_takes_each_others_solutions_once(
        settings: dict[str, str], vonage: FakeVonage, make_app: MakeApp, clean_redis_pending: redis.Redis) -> None:
    shared = {**settings, "OTP_STORE_URL": REDIS_URL, "OTP_RATELIMIT_GLOBAL": "1/hour"}
    first, second = make_app(shared).test_client(), make_app(shared).test_client()
    vonage.start("ok")
    send(first, "+14155550001")
    payload = solution(first)

    assert send(second, "+14155550002", "198.51.100.2", altcha=payload).status_code == 200
    assert send(first, "+14155550003", "198.51.100.3", altcha=payload).status_code == 428


@pytest.mark.parametrize("api", ["legacy"])
def test_the_spend_cap_refuses_even_a_solved_challenge(settings_for: dict[str, str], vonage: FakeVonage,
                                                       make_app: MakeApp) -> None:
    client = make_app(settings_for, OTP_RATELIMIT_COUNTRY="1/hour", OTP_RATELIMIT_SPEND_CAP="2/hour").test_client()
    vonage.start("ok")
    assert send(client, "+14155550001", "198.51.100.1").status_code == 200
    assert send(client, "+14155550002", "198.51.100.2", altcha=solution(client)).status_code == 200

    capped = send(client, "+14155550003", "198.51.100.3", altcha=solution(client))

    assert capped.status_code == 429 and capped.json["limit"] == "spend_cap"
    assert 3000 < int(capped.headers["Retry-After"]) <= 3600
    assert len(vonage.calls("start")) == 2


@pytest.mark.parametrize("api", ["legacy"])
@pytest.mark.parametrize("addresses", [
    [f"2001:db8:7:{i:x}::1" for i in range(6)],  # six /64s of one /48: one household's delegation, or a VPS range
    [f"192.0.2.{i}" for i in range(10, 16)],  # six addresses of one /24
])
def test_a_network_past_its_budget_is_asked_for_a_challenge(settings_for: dict[str, str], vonage: FakeVonage,
                                                           make_app: MakeApp, addresses: list[str]) -> None:
    client = make_app(settings_for, OTP_RATELIMIT_REQUEST_NETWORK="5/hour").test_client()
    vonage.start("ok")

    statuses = [send(client, f"+1415555{i:04d}", address).status_code for i, address in enumerate(addresses)]
    last = send(client, "+14155559999", addresses[-1])

    assert statuses == [200] * 5 + [428] and last.json["limit"] == "network"
    assert send(client, "+14155559998", "198.51.100.77").status_code == 200  # another network is not held


@pytest.mark.parametrize("api", ["legacy"])
def test_a_configured_captcha_satisfies_a_challenge(settings: dict[str, str], vonage: FakeVonage,
                                                    make_app: MakeApp) -> None:
    client = make_app(settings, OTP_RATELIMIT_GLOBAL="1/hour", OTP_CAPTCHA="turnstile",
                      OTP_CAPTCHA_SECRET="s").test_client()
    vonage.start("ok")
    vonage.mock.add(responses.POST, "https://challenges.cloudflare.com/turnstile/v0/siteverify",
                    json={"success": True})

    statuses = [send(client, f"+1415555{i:04d}", captchaToken="widget-token").status_code for i in range(2)]

    assert statuses == [200, 200]


@pytest.mark.parametrize("api", ["legacy"])
def test_a_resend_past_a_budget_needs_a_solution_too(settings: dict[str, str], vonage: FakeVonage,
                                                     make_app: MakeApp) -> None:
    client = make_app(settings, OTP_RATELIMIT_PREFIX="1/hour").test_client()
    vonage.start("ok")
    vonage.control("next", "ok")
    vid = send(client, "+14155550001").json["verificationId"]

    refused = client.post("/resend-otp", json={"verificationId": vid})
    resent = client.post("/resend-otp", json={"verificationId": vid, "altcha": solution(client)})

    assert refused.status_code == 428 and refused.json["limit"] == "prefix"
    assert resent.status_code == 200 and len(vonage.calls("next")) == 1


def test_a_challenge_expires_within_minutes() -> None:
    challenge = Challenges(b"k" * 32, 1_000, MemoryStorage()).new()
    expires = int(challenge["salt"].split("expires=")[1].rstrip("&"))

    assert 0 < expires - datetime.datetime.now(datetime.UTC).timestamp() <= 600


@pytest.mark.parametrize("api", ["legacy"])
def test_a_start_that_needed_a_challenge_makes_each_resend_solve_a_fresh_one(
        settings_for: dict[str, str], vonage: FakeVonage, make_app: MakeApp) -> None:
    client = make_app(settings_for, OTP_RATELIMIT_COUNTRY="1/hour", OTP_RATELIMIT_REQUEST_NUMBER="10/hour",
                      OTP_RESEND_COOLDOWN="0").test_client()
    vonage.start("ok")
    vonage.control("next", "ok")
    send(client, "+14155550001")
    start_solution = solution(client)
    vid = send(client, "+14155550002", "198.51.100.2", altcha=start_solution).json["verificationId"]

    unsolved = client.post("/resend-otp", json={"verificationId": vid})
    reused = client.post("/resend-otp", json={"verificationId": vid, "altcha": start_solution})
    resent = client.post("/resend-otp", json={"verificationId": vid, "altcha": solution(client)})

    assert unsolved.status_code == 428 and unsolved.json["limit"] == "country"
    assert reused.status_code == 428  # the start's solution was spent by the start
    assert resent.status_code == 200 and len(vonage.calls("next")) == 1


@pytest.mark.parametrize("api", ["legacy"])
def test_a_destination_crossing_its_budget_is_logged_once_per_window_and_counted(
        settings_for: dict[str, str], vonage: FakeVonage, make_app: MakeApp, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from prometheus_client.parser import text_string_to_metric_families

    app = make_app(settings_for, OTP_RATELIMIT_PREFIX="1/hour")
    client = app.test_client()
    vonage.start("ok")
    send(client, "+14155550001")
    with caplog.at_level(logging.INFO):
        statuses = [send(client, f"+1415555{i:04d}", f"198.51.100.{i}").status_code for i in range(2, 7)]
    solved = send(client, "+14155550009", "198.51.100.9", altcha=solution(client))

    assert statuses == [428] * 5 and solved.status_code == 200
    assert [r.scope for r in caplog.records if getattr(r, "event", "") == "velocity_limited"] == ["send-prefix"]
    samples = {(s.labels["budget"], s.labels["outcome"]): s.value
               for f in text_string_to_metric_families(client.get("/metrics").get_data(as_text=True))
               for s in f.samples if s.name == "otp_challenges_total" and s.labels.get("country") == "US"}
    assert samples[("prefix", "asked")] >= 5 and samples[("prefix", "solved")] >= 1


@pytest.mark.parametrize("api", ["legacy"])
def test_a_send_its_client_limit_refuses_leaves_no_slot_in_the_budgets(
        settings_for: dict[str, str], vonage: FakeVonage, make_app: MakeApp) -> None:
    client = make_app(settings_for, OTP_RATELIMIT_COUNTRY="2/hour", OTP_RATELIMIT_REQUEST_IP="1/hour").test_client()
    vonage.start("ok")

    assert send(client, "+14155550001").status_code == 200
    assert send(client, "+14155550002").status_code == 429  # the same client again: past its limit
    # The refused send gave back what the limits' round trip took: one more person fits the country's budget.
    assert send(client, "+14155550003", "198.51.100.3").status_code == 200
    assert send(client, "+14155550004", "198.51.100.4").status_code == 428
    assert len(vonage.calls("start")) == 2


@pytest.mark.parametrize("api", ["legacy"])
def test_a_resend_refused_for_its_missing_solution_gives_its_slots_back(
        settings_for: dict[str, str], vonage: FakeVonage, make_app: MakeApp) -> None:
    client = make_app(settings_for, OTP_RATELIMIT_COUNTRY="2/hour", OTP_RESEND_COOLDOWN="0").test_client()
    vonage.start("ok")
    vonage.check("ok")
    typed = [send(client, f"+1415555000{i}", f"198.51.100.{i}").json["verificationId"] for i in (1, 2)]
    vid = send(client, "+14155550003", "198.51.100.3", altcha=solution(client)).json["verificationId"]
    for typed_back in typed:  # the country's budget has room again: only the third code is unconverted
        assert client.post("/check-otp", json={"verificationId": typed_back, "code": "123456"}).status_code == 200

    # Started past a budget, the resend needs a fresh solution even with room left, and takes no slot without.
    assert client.post("/resend-otp", json={"verificationId": vid}).status_code == 428
    assert send(client, "+14155550004", "198.51.100.4").status_code == 200
    assert send(client, "+14155550005", "198.51.100.5").status_code == 428
    assert not vonage.calls("next")
