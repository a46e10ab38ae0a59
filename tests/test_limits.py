"""Limits a stranger cannot turn against a number's owner, SMS-pumping screens, velocity limits, CAPTCHA."""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
from pathlib import Path

import pytest
import redis
import requests
import responses
from flask.testing import FlaskClient

from app.callers import Caller
from app.errors import RateLimitedError
from app.settings import ConfigError

from .conftest import NUMBER, REDIS_URL, FakeVonage, MakeApp, cluster_port, start_redis_server

STRANGER = {"REMOTE_ADDR": "203.0.113.9"}
OWNER = {"REMOTE_ADDR": "198.51.100.20"}


@pytest.fixture
def redis_settings(settings: dict[str, str], clean_redis_pending: redis.Redis) -> dict[str, str]:
    """The service on the test Redis with the default limits and cooldown."""
    settings = {**settings, "OTP_STORE_URL": REDIS_URL}
    del settings["OTP_RESEND_COOLDOWN"]
    return settings


def send(client: FlaskClient, number: str = NUMBER, who: dict[str, str] = OWNER, keep: bool = False,
         **body: str) -> int:
    """Ask for a code; unless ``keep``, a code sent is then used up at once, so that the number is free for
    the next send (one verification per number is pending at a time) and only the limits decide."""
    answer = client.post("/request-otp", json={"phoneNumber": number, **body}, environ_base=who)
    if answer.status_code == 200 and not keep:
        store = client.application.extensions["otp_store"]
        store.delete(store.get(answer.json["verificationId"]), "approved")
    return answer.status_code


def test_requests_that_send_nothing_cost_the_number_nothing(redis_settings: dict[str, str],
                                                            vonage: FakeVonage, make_app: MakeApp) -> None:
    client = make_app(redis_settings | {"OTP_RESEND_COOLDOWN": "0"}).test_client()
    vonage.start("ok", rid="req-1")
    vonage.start("in_progress", rid="req-1")
    assert send(client, who=STRANGER, keep=True) == 200
    # Six more from the stranger while the code is pending: 409s that send nothing.
    assert [send(client, who=STRANGER) for _ in range(6)] == [409] * 6
    store = client.application.extensions["otp_store"]
    store.delete(store.latest(NUMBER), "expired")

    # When that code is over, the stranger has spent one send of their own 3 per 10 minutes, and the
    # owner none at all.
    vonage.mock.reset()
    vonage.start("ok", rid="req-2")
    assert [send(client, who=STRANGER) for _ in range(3)] == [200, 200, 429]
    assert [send(client, who=OWNER) for _ in range(4)] == [200, 200, 200, 429]


# A failure after which Vonage may have sent (a 5xx) keeps the number for its caller instead (test_request_otp).
@pytest.mark.parametrize("status", ["bad_number", "account", "throttled"])
def test_refused_and_failed_sends_do_not_count(redis_settings: dict[str, str], vonage: FakeVonage,
                                               status: str, make_app: MakeApp) -> None:
    client = make_app(redis_settings | {"OTP_RESEND_COOLDOWN": "0"}).test_client()
    for _ in range(5):
        vonage.start(status)
    vonage.start("ok")

    failures = [send(client) for _ in range(5)]

    assert all(s in (422, 502, 503) for s in failures)
    assert [send(client) for _ in range(4)] == [200, 200, 200, 429]  # the full 3 per 10 minutes left


def test_all_clients_together_send_at_most_the_total_to_one_number(redis_settings: dict[str, str],
                                                                   vonage: FakeVonage, make_app: MakeApp) -> None:
    client = make_app(redis_settings | {"OTP_RESEND_COOLDOWN": "0",
                                          "OTP_RATELIMIT_REQUEST_NUMBER_TOTAL": "4/day"}).test_client()
    vonage.start("ok")

    statuses = [send(client, who={"REMOTE_ADDR": f"192.0.2.{i}"}) for i in range(5)]

    assert statuses == [200] * 4 + [429]


@pytest.mark.parametrize("storage", ["memory://", REDIS_URL])
def test_a_numbers_last_slot_goes_to_one_of_two_racing_sends(redis_settings: dict[str, str], make_app: MakeApp,
                                                              storage: str) -> None:
    app = make_app(redis_settings | {"OTP_RATELIMIT_STORAGE_URL": storage, "OTP_RESEND_COOLDOWN": "0",
                                     "OTP_RATELIMIT_REQUEST_NUMBER_TOTAL": "1/day"})
    limits = app.extensions["otp_limits"]
    first, second = Caller("192.0.2.1", "192.0.2.1"), Caller("192.0.2.2", "192.0.2.2")

    with limits.send_budget(first, NUMBER, "first#1") as sending:
        sending.take_budgets(lambda: None)
        # While the first send is at the provider, the second finds the number's last slot taken.
        with pytest.raises(RateLimitedError) as refused, limits.send_budget(second, NUMBER, "second#1"):
            pytest.fail("a second send went past the number's limit")

    assert refused.value.scope == "send-number-total"


def test_a_start_whose_answer_was_lost_counts_against_the_number(redis_settings: dict[str, str],
                                                                 vonage: FakeVonage, make_app: MakeApp) -> None:
    client = make_app(redis_settings | {"OTP_RESEND_COOLDOWN": "0"}).test_client()
    vonage.start("upstream")  # Vonage's own failure, after which it may have sent the code
    vonage.start("ok")

    lost = client.post("/request-otp", json={"phoneNumber": NUMBER}, environ_base=OWNER)
    store = client.application.extensions["otp_store"]
    store.delete(store.get(lost.json["verificationId"]), "expired")

    # That code may be on the phone: it is one of the number's 3 per 10 minutes.
    assert lost.status_code == 502
    assert [send(client) for _ in range(3)] == [200, 200, 429]


def test_two_racing_resends_inside_the_cooldown_send_one_delivery(redis_settings: dict[str, str],
                                                                  vonage: FakeVonage, make_app: MakeApp) -> None:
    app = make_app(redis_settings | {"OTP_RESEND_COOLDOWN": "30"})
    vonage.start("ok")
    vonage.control("next", "ok")
    owner = app.test_client()
    vid = owner.post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]
    # The cooldown of that first send is over; now two resends race.
    redis.Redis.from_url(REDIS_URL).delete(*redis.Redis.from_url(REDIS_URL).scan_iter(match="LIMITS:*cooldown*"))
    barrier = threading.Barrier(8)
    statuses: list[int] = []

    def resend() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/resend-otp", json={"verificationId": vid}).status_code)

    threads = [threading.Thread(target=resend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(statuses) == [200] + [429] * 7
    assert len(vonage.calls("next")) == 1


def test_a_failed_resend_gives_the_cooldown_back(redis_settings: dict[str, str], vonage: FakeVonage,
                                                 make_app: MakeApp) -> None:
    client = make_app(redis_settings | {"OTP_RESEND_COOLDOWN": "30"}).test_client()
    vonage.start("throttled")
    vonage.start("ok")

    assert [send(client) for _ in range(3)] == [503, 200, 429]


@pytest.mark.parametrize(("number", "kind"), [
    ("+447000123456", "personal"), ("+4970012345678", "personal"), ("+15002345678", "personal"),
    ("+881612345678", "satellite"), ("+8823421234", "satellite"), ("+870301234567", "satellite"),
    ("+883510012345", "satellite"), ("+979123456789", "satellite"), ("+80012345678", "satellite"),
    ("+19005550123", "premium-rate"), ("+18002345678", "toll-free"),
])
def test_pumping_prone_numbers_are_refused_and_named(client: FlaskClient, vonage: FakeVonage, number: str,
                                                     kind: str) -> None:
    resp = client.post("/request-otp", json={"phoneNumber": number})

    assert resp.status_code == 422 and resp.json["code"] == "number_not_supported"
    assert kind in resp.json["error"]
    assert vonage.calls("start") == []


def test_allowed_number_types_widen_the_screen(settings: dict[str, str], vonage: FakeVonage, make_app: MakeApp) -> None:
    client = make_app(settings | {"OTP_ALLOWED_NUMBER_TYPES": "personal_number, non_geographic"}).test_client()
    vonage.start("ok")

    assert send(client, "+447000123456") == 200
    assert send(client, "+881612345678") == 200
    assert send(client, "+19005550123") == 422


def test_a_bad_allowed_number_type_stops_startup(settings: dict[str, str], make_app: MakeApp) -> None:
    with pytest.raises(ConfigError, match="OTP_ALLOWED_NUMBER_TYPES"):
        make_app(settings | {"OTP_ALLOWED_NUMBER_TYPES": "mobile"})


@pytest.mark.parametrize(("setting", "numbers", "scope"), [
    # A block of 10,000 numbers (the number without its last four digits).
    ("OTP_RATELIMIT_PREFIX", [f"+1415555{2600 + i:04d}" for i in range(4)], "send-prefix"),
    ("OTP_RATELIMIT_COUNTRY", [f"+1415{200 + i:03d}2671" for i in range(4)], "send-country"),
    ("OTP_RATELIMIT_GLOBAL", ["+14152002671", "+447911123456", "+33612345678", "+4915123456789"], "send-global"),
])
def test_velocity_limits_on_destinations(redis_settings: dict[str, str], vonage: FakeVonage,
                                         caplog: pytest.LogCaptureFixture, setting: str, numbers: list[str],
                                         scope: str, make_app: MakeApp) -> None:
    app = make_app(redis_settings | {setting: "3/hour"})
    vonage.start("ok")
    before = _asked(app, scope.removeprefix("send-"))

    with caplog.at_level(logging.INFO):
        statuses = [send(app.test_client(), n, who={"REMOTE_ADDR": f"192.0.2.{i}"}) for i, n in enumerate(numbers)]

    assert statuses == [200, 200, 200, 428]
    [warning] = [r for r in caplog.records if getattr(r, "event", "") == "velocity_limited"]
    assert warning.levelno == logging.WARNING and warning.scope == scope  # type: ignore[attr-defined]
    assert warning.country == ("US" if scope != "send-global" else "DE")  # type: ignore[attr-defined]
    assert numbers[-1] not in caplog.text and numbers[-1][:-4] not in caplog.text  # masked prefix only
    assert _asked(app, scope.removeprefix("send-")) - before == 1


def _asked(app: object, budget: str) -> float:
    from prometheus_client.parser import text_string_to_metric_families

    text = app.test_client().get("/metrics").get_data(as_text=True)  # type: ignore[attr-defined]
    return sum(s.value for f in text_string_to_metric_families(text) for s in f.samples
               if s.name == "otp_challenges_total" and s.labels.get("budget") == budget
               and s.labels.get("outcome") == "asked")


def test_the_shared_budgets_count_only_what_may_have_been_delivered(redis_settings: dict[str, str],
                                                                   vonage: FakeVonage, make_app: MakeApp) -> None:
    client = make_app(redis_settings | {"OTP_RATELIMIT_GLOBAL": "3/hour", "OTP_RESEND_COOLDOWN": "0"}).test_client()
    vonage.start("bad_number")  # refused: certainly not sent, the slot is given back
    vonage.start("throttled")  # the same
    vonage.raw("start", body=requests.ReadTimeout("lost"))  # may have gone out: the slot stays
    vonage.start("ok")

    assert [send(client, f"+1415{200 + i:03d}2671") for i in range(6)] == [422, 503, 504, 200, 200, 428]


def test_limits_hold_when_redis_has_forgotten_their_scripts(redis_settings: dict[str, str],
                                                             vonage: FakeVonage, make_app: MakeApp) -> None:
    """A restart or a failover empties Redis's script cache: each send is still tested, takes its number's
    cooldown once, and is counted."""
    client = make_app(redis_settings | {"OTP_RATELIMIT_PREFIX": "3/hour"}).test_client()
    vonage.start("ok")
    statuses = []
    for i in range(4):
        redis.Redis.from_url(REDIS_URL).script_flush()
        statuses.append(send(client, f"+1415555{2600 + i:04d}"))

    assert statuses == [200, 200, 200, 428]


def test_a_code_sent_is_answered_200_when_the_limits_storage_dies_during_the_send(
        redis_settings: dict[str, str], vonage: FakeVonage, tmp_path: Path, make_app: MakeApp) -> None:
    port = cluster_port()
    server = start_redis_server(port, tmp_path)
    client = make_app(redis_settings | {"OTP_RATELIMIT_STORAGE_URL": f"redis://127.0.0.1:{port}/0"}).test_client()

    def limits_storage_dies_during_the_send(_: object) -> tuple[int, dict[str, str], str]:
        server.kill()
        server.wait(10)
        return 200, {}, json.dumps({"status": "0", "request_id": "req-1"})

    vonage.mock.add_callback(responses.POST, vonage.start_url(), callback=limits_storage_dies_during_the_send)
    try:
        sent = client.post("/request-otp", json={"phoneNumber": NUMBER})
        refused = client.post("/request-otp", json={"phoneNumber": "+14155550100"})
    finally:
        server.kill()
        server.wait(10)

    # The person is told the code is on its way (asking again would send another: its number's limits were
    # counted before the send); the next send is held back while its limits cannot be counted.
    assert sent.status_code == 200 and sent.json["verificationId"], sent.json
    assert refused.status_code == 503 and refused.json["code"] == "store_unavailable"
    assert len(vonage.calls("start")) == 1


SITEVERIFY = {"turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
              "hcaptcha": "https://api.hcaptcha.com/siteverify",
              "recaptcha": "https://www.google.com/recaptcha/api/siteverify"}


@pytest.mark.parametrize("provider", list(SITEVERIFY))
def test_the_captcha_is_verified_server_side_before_any_send(settings: dict[str, str], vonage: FakeVonage,
                                                             provider: str, make_app: MakeApp) -> None:
    client = make_app(settings | {"OTP_CAPTCHA": provider, "OTP_CAPTCHA_SECRET": "captcha-s3cret"}).test_client()
    vonage.start("ok")
    vonage.mock.add(responses.POST, SITEVERIFY[provider], json={"success": False, "error-codes": ["invalid"]})
    vonage.mock.add(responses.POST, SITEVERIFY[provider], json={"success": True})

    missing = client.post("/request-otp", json={"phoneNumber": NUMBER})
    refused = client.post("/request-otp", json={"phoneNumber": NUMBER, "captchaToken": "bad-token"})
    passed = client.post("/request-otp", json={"phoneNumber": NUMBER, "captchaToken": "good-token"})

    assert missing.status_code == refused.status_code == 400
    assert missing.json["code"] == refused.json["code"] == "captcha_failed"
    assert passed.status_code == 200
    [bad, good] = [c for c in vonage.mock.calls if c.request.url == SITEVERIFY[provider]]
    form = dict(urllib.parse.parse_qsl(good.request.body))
    assert form == {"secret": "captcha-s3cret", "response": "good-token", "remoteip": "127.0.0.1"}
    assert len(vonage.calls("start")) == 1


@pytest.mark.parametrize("answer", [{"body": requests.ConnectTimeout("slow")}, {"status": 500, "body": "down"},
                                    {"status": 200, "body": "not json"}])
def test_a_captcha_provider_fault_is_503_and_sends_nothing(settings: dict[str, str], vonage: FakeVonage,
                                                           answer: dict[str, object], make_app: MakeApp) -> None:
    client = make_app(settings | {"OTP_CAPTCHA": "turnstile", "OTP_CAPTCHA_SECRET": "s"}).test_client()
    vonage.mock.add(responses.POST, SITEVERIFY["turnstile"], **answer)

    resp = client.post("/request-otp", json={"phoneNumber": NUMBER, "captchaToken": "t"})

    assert resp.status_code == 503 and resp.json["code"] == "captcha_unavailable"
    assert "Retry-After" in resp.headers
    assert vonage.calls("start") == []


def test_captcha_failures_spend_no_number_budget(redis_settings: dict[str, str], vonage: FakeVonage,
                                                 make_app: MakeApp) -> None:
    client = make_app(redis_settings | {"OTP_CAPTCHA": "hcaptcha", "OTP_CAPTCHA_SECRET": "s",
                                          "OTP_RESEND_COOLDOWN": "0"}).test_client()
    vonage.mock.add(responses.POST, SITEVERIFY["hcaptcha"], json={"success": True})
    vonage.start("ok")
    for _ in range(5):
        client.post("/request-otp", json={"phoneNumber": NUMBER}, environ_base=STRANGER)

    assert [send(client, captchaToken="t") for _ in range(4)] == [200, 200, 200, 429]


def test_captcha_needs_its_secret(settings: dict[str, str], make_app: MakeApp) -> None:
    with pytest.raises(ConfigError, match="OTP_CAPTCHA_SECRET"):
        make_app(settings | {"OTP_CAPTCHA": "turnstile"})


@pytest.mark.parametrize(("provider", "origin"), [("turnstile", "https://challenges.cloudflare.com"),
                                                  ("hcaptcha", "https://*.hcaptcha.com"),
                                                  ("recaptcha", "https://www.gstatic.com")])
def test_the_demo_page_carries_the_widget_when_a_site_key_is_set(settings: dict[str, str], provider: str,
                                                                 origin: str, make_app: MakeApp) -> None:
    settings = settings | {"OTP_DEMO_PAGE": "true"}
    plain = make_app(settings).test_client().get("/")
    page = make_app(settings | {"OTP_CAPTCHA": provider, "OTP_CAPTCHA_SECRET": "s",
                                  "OTP_CAPTCHA_SITE_KEY": "0x4AAA\"<site>"}).test_client().get("/")

    assert f'data-captcha="{provider}"' in page.get_data(as_text=True)
    assert 'data-captcha-site-key="0x4AAA&#34;&lt;site&gt;"' in page.get_data(as_text=True)  # escaped
    assert origin in page.headers["Content-Security-Policy"]
    assert "data-captcha" not in plain.get_data(as_text=True)
    assert "frame-src 'none'" in plain.headers["Content-Security-Policy"]
    assert "script-src 'self';" in plain.headers["Content-Security-Policy"]


@pytest.mark.parametrize("api", ["legacy"])
def test_two_apps_in_one_process_keep_their_own_counts(settings: dict[str, str], make_app: MakeApp) -> None:
    # Each app holds its own limits storage: the first one's requests spend nothing of the second's.
    limited = settings | {"OTP_RATELIMIT_REQUEST_IP": "2/hour"}
    first, second = make_app(limited).test_client(), make_app(limited).test_client()
    malformed = {"phoneNumber": "not a number"}

    assert [first.post("/request-otp", json=malformed).status_code for _ in range(3)] == [400, 400, 429]
    assert [second.post("/request-otp", json=malformed).status_code for _ in range(3)] == [400, 400, 429]


def test_a_captcha_provider_that_answers_byte_by_byte_is_abandoned_at_the_deadline(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from app import captcha
    from app.errors import CaptchaUnavailableError

    stop = threading.Event()

    class Dripping(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            while not stop.wait(0.2):  # a byte every 0.2 s: every read is in time, the whole never ends
                self.wfile.write(b" ")
                self.wfile.flush()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Dripping)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setitem(captcha.SITEVERIFY, "turnstile", f"http://127.0.0.1:{server.server_port}/siteverify")
    monkeypatch.setattr(captcha, "DEADLINE", 1.0)
    try:
        started = time.monotonic()
        with pytest.raises(CaptchaUnavailableError):
            captcha.Captcha("turnstile", "s").verify("token", "198.51.100.1")
        waited = time.monotonic() - started
    finally:
        stop.set()
        server.shutdown()
        server.server_close()

    assert 0.9 <= waited < 3  # the deadline, not the drip
