"""Who the caller is: API keys for backends, the end user a backend vouches for, IPv6 networks as one client."""

from __future__ import annotations

import hashlib
import logging
import re

import pytest
import redis
from click.testing import CliRunner
from flask.testing import FlaskClient

from app.cli import otp
from app.settings import ConfigError, load_settings

from .conftest import NUMBER, REDIS_URL, FakeVonage, MakeApp

KEY = "otp_live_" + "k" * 43
OTHER_KEY = "otp_live_" + "o" * 43
NUMBERS = [f"+1415{200 + i:03d}2671" for i in range(40)]


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@pytest.fixture
def keyed_settings(settings: dict[str, str], clean_redis_pending: redis.Redis) -> dict[str, str]:
    """Default limits on Redis, and two backend keys."""
    settings = {**settings, "OTP_STORE_URL": REDIS_URL,
                "OTP_API_KEYS": f"web:{digest(KEY)}, billing:{digest(OTHER_KEY).upper()}"}
    del settings["OTP_RESEND_COOLDOWN"]
    return settings


@pytest.fixture
def keyed(keyed_settings: dict[str, str], make_app: MakeApp) -> FlaskClient:
    return make_app(keyed_settings).test_client()


def bearer(key: str = KEY, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


@pytest.mark.parametrize("path", ["/request-otp", "/check-otp", "/resend-otp", "/cancel-otp"])
@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer otp_live_wrong", f"Basic {KEY}", KEY,
                                           f"Bearer {KEY}x"])
def test_without_a_valid_key_every_post_is_401_before_any_other_work(
        keyed: FlaskClient, vonage: FakeVonage, path: str, authorization: str | None) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    resp = keyed.post(path, json={"phoneNumber": "not a number"}, headers={**headers, "Origin": "https://evil.example"})

    assert resp.status_code == 401
    assert resp.json["code"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    assert len(vonage.mock.calls) == 0


def test_unauthorized_requests_spend_none_of_the_send_limits(keyed: FlaskClient, vonage: FakeVonage) -> None:
    vonage.start("ok")
    for _ in range(15):
        keyed.post("/request-otp", json={"phoneNumber": NUMBER})

    assert keyed.post("/request-otp", json={"phoneNumber": NUMBER}, headers=bearer()).status_code == 200


def test_either_key_works_and_gets_are_open(keyed: FlaskClient, vonage: FakeVonage) -> None:
    vonage.start("ok", rid="req-0001")
    vonage.start("ok", rid="req-0002")

    assert keyed.post("/request-otp", json={"phoneNumber": NUMBERS[0]}, headers=bearer()).status_code == 200
    assert keyed.post("/request-otp", json={"phoneNumber": NUMBERS[1]},
                      headers=bearer(OTHER_KEY)).status_code == 200
    assert keyed.get("/healthz").status_code == 200
    assert keyed.get("/.well-known/jwks.json").status_code == 200


def test_a_backend_names_its_end_users_and_each_is_counted_within_its_key(keyed: FlaskClient,
                                                                         vonage: FakeVonage) -> None:
    vonage.start("ok")
    # Twelve end users behind one backend address: each has its own 10/hour.
    users = [keyed.post("/request-otp", json={"phoneNumber": NUMBERS[i]},
                        headers=bearer(**{"X-Forwarded-For": f"198.51.100.{i}"})).status_code for i in range(12)]
    # One end user sending eleven: the eleventh is refused.
    one = [keyed.post("/request-otp", json={"phoneNumber": NUMBERS[12 + i]},
                      headers=bearer(**{"X-Forwarded-For": "203.0.113.5"})).status_code for i in range(11)]
    # The same address under another key is another client.
    other = keyed.post("/request-otp", json={"phoneNumber": NUMBERS[30]},
                       headers=bearer(OTHER_KEY, **{"X-Forwarded-For": "203.0.113.5"}))

    assert users == [200] * 12
    assert one == [200] * 10 + [429]
    assert other.status_code == 200


def test_without_a_key_x_forwarded_for_names_nobody(settings: dict[str, str], vonage: FakeVonage,
                                                    make_app: MakeApp) -> None:
    client = make_app(settings | {"OTP_RATELIMIT_CHECK_IP": "3/minute"}).test_client()

    statuses = [client.post("/check-otp", json={"verificationId": "x" * 43, "code": "123456"},
                            headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code for i in range(4)]

    assert statuses == [404, 404, 404, 429]


def test_behind_a_trusted_proxy_the_backends_entry_is_the_one_before_the_proxys(
        keyed_settings: dict[str, str], vonage: FakeVonage, make_app: MakeApp) -> None:
    client = make_app({**keyed_settings, "OTP_RATELIMIT_CHECK_IP": "2/minute",
                         "OTP_TRUSTED_PROXIES": "1"}).test_client()

    def check(forwarded: str) -> int:
        return client.post("/check-otp", json={"verificationId": "x" * 43, "code": "123456"},
                           headers=bearer(**{"X-Forwarded-For": forwarded}),
                           environ_base={"REMOTE_ADDR": "10.0.0.1"}).status_code

    # The backend sent "<end user>", nginx appended the backend's own address.
    assert [check(f"198.51.100.{i}, 10.0.0.9") for i in range(3)] == [404] * 3
    assert [check("198.51.100.77, 10.0.0.9") for _ in range(3)] == [404, 404, 429]


def test_a_leaked_key_is_bounded_by_its_own_limit(keyed_settings: dict[str, str], vonage: FakeVonage,
                                                  make_app: MakeApp) -> None:
    client = make_app({**keyed_settings, "OTP_RATELIMIT_KEY": "5/minute"}).test_client()

    statuses = [client.post("/check-otp", json={"verificationId": "x" * 43, "code": "123456"},
                            headers=bearer(**{"X-Forwarded-For": f"198.51.100.{i}"})).status_code for i in range(6)]

    assert statuses == [404] * 5 + [429]


@pytest.mark.parametrize(("addresses", "limited"), [
    ([f"2001:db8:1:2::{i:x}" for i in range(4)], True),  # one /64: one client
    ([f"2001:db8:1:{i:x}::1" for i in range(4)], False),  # four /64s: four clients
    ([f"::ffff:192.0.2.{i}" for i in range(4)], False),  # IPv4-mapped: per IPv4 address
    (["192.0.2.7"] * 4, True),
])
def test_ipv6_clients_are_counted_per_64(settings: dict[str, str], vonage: FakeVonage, addresses: list[str],
                                         limited: bool, make_app: MakeApp) -> None:
    client = make_app(settings | {"OTP_RATELIMIT_CHECK_IP": "3/minute"}).test_client()

    statuses = [client.post("/check-otp", json={"verificationId": "x" * 43, "code": "123456"},
                            environ_base={"REMOTE_ADDR": a}).status_code for a in addresses]

    assert statuses == ([404] * 3 + [429] if limited else [404] * 4)


def test_the_ipv6_prefix_is_a_setting(settings: dict[str, str], vonage: FakeVonage, make_app: MakeApp) -> None:
    client = make_app(settings | {"OTP_RATELIMIT_CHECK_IP": "3/minute", "OTP_IPV6_PREFIX": "48"}).test_client()

    statuses = [client.post("/check-otp", json={"verificationId": "x" * 43, "code": "123456"},
                            environ_base={"REMOTE_ADDR": f"2001:db8:1:{i:x}::1"}).status_code for i in range(4)]

    assert statuses == [404] * 3 + [429]


def test_the_startup_log_says_which_mode_runs(settings: dict[str, str], caplog: pytest.LogCaptureFixture,
                                              make_app: MakeApp) -> None:
    with caplog.at_level(logging.INFO):
        make_app(settings)
        make_app(settings | {"OTP_API_KEYS": f"web:{digest(KEY)}"})

    assert "no OTP_API_KEYS: open to any caller" in caplog.text
    assert "API keys required" in caplog.text and "web" in caplog.text
    assert digest(KEY) not in caplog.text


@pytest.mark.parametrize("value", ["web", f"web:{digest(KEY)[:-1]}", f"we b:{digest(KEY)}",
                                   f"web:{digest(KEY)},web:{digest(OTHER_KEY)}", f"web:{KEY}"])
def test_malformed_key_settings_stop_startup(value: str) -> None:
    with pytest.raises(ConfigError, match="OTP_API_KEYS"):
        load_settings({"OTP_PROVIDER": "console", "OTP_API_KEYS": value})


def test_the_apikey_command_prints_the_key_once_and_the_line_to_add(settings: dict[str, str],
                                                                    vonage: FakeVonage, make_app: MakeApp) -> None:
    result = CliRunner().invoke(otp, ["apikey", "billing"])

    assert result.exit_code == 0, result.output
    [key] = [line for line in result.output.splitlines() if line.startswith("otp_live_")]
    [setting] = [line for line in result.output.splitlines() if line.startswith("OTP_API_KEYS=")]
    assert setting == f"OTP_API_KEYS=billing:{digest(key)}"
    assert len(key) >= len("otp_live_") + 43
    # The printed line is what the service takes.
    client = make_app(settings | {"OTP_API_KEYS": setting.split("=", 1)[1]}).test_client()
    vonage.start("ok")
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}, headers=bearer(key)).status_code == 200
    assert CliRunner().invoke(otp, ["apikey", "bad name"]).exit_code != 0


def test_the_keys_name_reaches_metrics_and_log_lines_but_never_the_key(keyed: FlaskClient, vonage: FakeVonage,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    vonage.start("ok")
    with caplog.at_level(logging.INFO):
        assert keyed.post("/request-otp", json={"phoneNumber": NUMBER}, headers=bearer()).status_code == 200

    metrics = keyed.get("/metrics").get_data(as_text=True)
    assert re.search(r'otp_http_requests_total\{caller="web",endpoint="otp.request_otp",method="POST",'
                     r'status="200"\} [1-9]', metrics)
    [started] = [r for r in caplog.records if getattr(r, "outcome", "") == "started"]
    assert started.caller == "web"  # type: ignore[attr-defined]
    assert KEY not in caplog.text and digest(KEY) not in caplog.text and KEY not in metrics


@pytest.mark.parametrize("api", ["legacy"])
def test_a_client_refused_again_and_again_gets_429_and_its_refusals_leave_two_log_lines(
        keyed: FlaskClient, vonage: FakeVonage, caplog: pytest.LogCaptureFixture) -> None:
    vonage.start("ok")
    with caplog.at_level(logging.INFO):
        statuses = [keyed.post("/request-otp", json={"phoneNumber": NUMBER},
                               headers=bearer(f"otp_live_wrong{i}")).status_code for i in range(120)]

    assert statuses == [401] * 20 + [429] * 100
    lines = [r for r in caplog.records if getattr(r, "event", "") == "unauthorized"]
    assert [(r.levelno, r.refused_in_window) for r in lines] == [(logging.INFO, 1), (logging.WARNING, 20)]  # type: ignore[attr-defined]
    assert "otp_live_wrong" not in caplog.text
    # Another client, and the same one with its key, are not held by them.
    assert keyed.post("/request-otp", json={"phoneNumber": NUMBER}, headers=bearer(),
                      environ_base={"REMOTE_ADDR": "198.51.100.50"}).status_code == 200
    vonage.start("ok", rid="req-0002")
    assert keyed.post("/request-otp", json={"phoneNumber": NUMBERS[1]}, headers=bearer()).status_code == 200


@pytest.mark.parametrize("api", ["legacy"])
def test_refused_origins_are_throttled_the_same_way(settings: dict[str, str], make_app: MakeApp) -> None:
    client = make_app(settings, OTP_RATELIMIT_REFUSED_IP="3/minute").test_client()

    statuses = [client.post("/request-otp", json={"phoneNumber": NUMBER},
                            headers={"Origin": "https://evil.example"}).status_code for _ in range(5)]

    assert statuses == [403, 403, 403, 429, 429]
