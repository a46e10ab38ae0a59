"""A Vonage that misbehaves: each call is one attempt bounded in time, and a check whose answer was lost is
not lost. The real SDK runs against an HTTPS stand-in that drops connections and answers slowly."""

from __future__ import annotations

import json
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from flask.testing import FlaskClient

from app.lifecycle.checks import LOST_ANSWER

from .conftest import API_KEY, API_SECRET, NUMBER, SETTINGS, FakeVonage, MakeApp, localhost_tls

# Seconds a test allows past VONAGE_TIMEOUT: Flask, the SDK and thread scheduling on a busy machine.
MARGIN = 0.75


class Misbehaving(ThreadingHTTPServer):
    """HTTPS that does, for each request, what the next entry of ``script`` says: answer, drop or stall."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.context = context
        self.handshake_delay = 0.0
        self.script: list[str] = []
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        # TLS per connection, in the connection's own thread: a slow handshake stalls only its client.
        time.sleep(self.handshake_delay)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError):
            return
        try:
            super().finish_request(tls, client_address)  # type: ignore[arg-type]
        except OSError:
            pass  # the client gave up waiting: what these tests provoke
        finally:
            tls.close()


class _Handler(BaseHTTPRequestHandler):
    server: Misbehaving

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return None

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.calls.append(self.path)
            step = self.server.script.pop(0) if self.server.script else "answer"
        if step == "drop":
            # Read the request, then close without a byte of answer: RemoteDisconnected in http.client.
            self.close_connection = True
            return
        if step.startswith("stall:"):
            time.sleep(float(step.split(":")[1]))
        legacy = not self.path.startswith("/v2/")
        body = json.dumps({"request_id": "req-stub", "status": "0"} if legacy else {"request_id": "req-stub"})
        self.send_response(200 if legacy else 202)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Misbehaving, Path]]:
    context, ca_path = localhost_tls(tmp_path_factory.mktemp("tls"))
    server = Misbehaving(context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server, ca_path
    server.shutdown()
    server.server_close()


@pytest.fixture
def against_stub(stub: tuple[Misbehaving, Path], api: str,
                 monkeypatch: pytest.MonkeyPatch, make_app: MakeApp) -> Callable[..., FlaskClient]:
    server, ca_path = stub
    server.script, server.calls, server.handshake_delay = [], [], 0.0
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_path))

    def make(**settings: str) -> FlaskClient:
        return make_app({**SETTINGS, "VONAGE_VERIFY_API": api, "VONAGE_API_KEY": API_KEY,
                           "VONAGE_API_SECRET": API_SECRET, "VONAGE_API_HOST": f"127.0.0.1:{server.server_port}",
                           **settings}).test_client()
    return make


def timed(call: Callable[[], object]) -> tuple[object, float]:
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def test_a_start_whose_connection_drops_after_sending_is_sent_once(
        stub: tuple[Misbehaving, Path], against_stub: Callable[..., FlaskClient],
        caplog: pytest.LogCaptureFixture) -> None:
    server, _ = stub
    client = against_stub(VONAGE_TIMEOUT="2")
    server.script = ["drop"] * 40

    with caplog.at_level(logging.DEBUG):
        resp, elapsed = timed(lambda: client.post("/request-otp", json={"phoneNumber": NUMBER}))

    assert resp.status_code == 503 and resp.json["code"] == "upstream_unavailable"  # type: ignore[attr-defined]
    # The SDK alone would send it again as many times as its pool is large: each one a possible SMS.
    assert len(server.calls) == 1
    assert elapsed < 2 + MARGIN
    # One line says what happened, from the service; none from the SDK about retrying.
    [event] = [r for r in caplog.records if getattr(r, "event", "") == "vonage_error"]
    assert event.operation == "start" and event.vonage_status == "connection"  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if r.name.startswith("vonage")]


def test_a_check_whose_connection_drops_is_sent_once(stub: tuple[Misbehaving, Path],
                                                     against_stub: Callable[..., FlaskClient]) -> None:
    server, _ = stub
    client = against_stub()
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    server.script = ["drop"] * 40

    resp = client.post("/check-otp", json={"code": "123456"})

    assert resp.status_code == 503
    assert len(server.calls) == 2  # the start and one check: no wrong-code attempt burnt twice


def test_connecting_and_waiting_share_one_time_bound(stub: tuple[Misbehaving, Path],
                                                    against_stub: Callable[..., FlaskClient]) -> None:
    server, _ = stub
    client = against_stub(VONAGE_TIMEOUT="2")
    # Each part alone stays under VONAGE_TIMEOUT; together they pass it.
    server.handshake_delay = 1.3
    server.script = ["stall:1.3"]

    resp, elapsed = timed(lambda: client.post("/request-otp", json={"phoneNumber": NUMBER}))

    assert resp.status_code == 504 and resp.json["code"] == "upstream_timeout"  # type: ignore[attr-defined]
    assert elapsed < 2 + MARGIN
    assert len(server.calls) == 1


def test_a_silent_vonage_is_answered_504_at_the_timeout(stub: tuple[Misbehaving, Path],
                                                        against_stub: Callable[..., FlaskClient]) -> None:
    server, _ = stub
    client = against_stub(VONAGE_TIMEOUT="1")
    server.script = ["stall:3"]

    resp, elapsed = timed(lambda: client.post("/request-otp", json={"phoneNumber": NUMBER}))

    assert resp.status_code == 504  # type: ignore[attr-defined]
    assert 1 - 0.1 < elapsed < 1 + MARGIN


# --- a check whose answer was lost --------------------------------------------------------------------
@pytest.fixture
def started(client: FlaskClient, vonage: FakeVonage) -> str:
    vonage.start("ok", rid="req-0001")
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    return "req-0001"


LOST = [requests.ReadTimeout("read timed out"), requests.ConnectionError("RemoteDisconnected")]


@pytest.mark.parametrize("api", ["legacy"])
@pytest.mark.parametrize("fault", LOST)
def test_legacy_a_correct_code_whose_answer_was_lost_is_honoured_on_the_retry(
        client: FlaskClient, vonage: FakeVonage, started: str, fault: Exception) -> None:
    # Vonage approved the code, but its answer never arrived; checking again, Vonage says "verified already".
    vonage.raw("check", rid=started, body=fault)
    vonage.search("SUCCESS", rid=started)

    lost = client.post("/check-otp", json={"code": "123456"})
    retry = client.post("/check-otp", json={"code": "123456"})

    assert lost.status_code in (503, 504)
    assert retry.status_code == 200
    assert retry.json["verified"] is True and retry.json["token"].count(".") == 2
    assert len(vonage.calls("check", started)) == 1 and len(vonage.searches()) == 1


@pytest.mark.parametrize("api", ["legacy"])
@pytest.mark.parametrize(("state", "status", "checks"), [("IN PROGRESS", 401, 2), ("EXPIRED", 410, 1),
                                                         ("FAILED", 410, 1)])
def test_legacy_the_retry_after_a_lost_answer_follows_what_vonage_says(
        client: FlaskClient, vonage: FakeVonage, started: str, state: str, status: int, checks: int) -> None:
    vonage.raw("check", rid=started, body=requests.ReadTimeout("lost"))
    if state == "IN PROGRESS":  # only then is the code checked again
        vonage.check("wrong", rid=started)
    vonage.search(state, rid=started)

    client.post("/check-otp", json={"code": "123456"})
    retry = client.post("/check-otp", json={"code": "000000"})

    assert retry.status_code == status
    assert len(vonage.calls("check", started)) == checks


@pytest.mark.parametrize("api", ["legacy"])
def test_legacy_a_check_interrupted_by_a_killed_worker_is_resolved_by_the_next(
        client: FlaskClient, vonage: FakeVonage, started: str) -> None:
    # A worker that died mid-call left the hold it took before asking Vonage, and nothing else; it ran out.
    store = client.application.extensions["otp_store"]
    assert store.begin_check(store.latest(NUMBER).id, "killed", 0.001) is not None
    time.sleep(0.01)
    vonage.search("SUCCESS", rid=started)

    retry = client.post("/check-otp", json={"code": "123456"})

    assert retry.status_code == 200 and retry.json["verified"] is True
    assert vonage.calls("check", started) == []


@pytest.mark.parametrize("api", ["v2"])
def test_v2_a_lost_answer_then_gone_says_the_code_may_have_been_accepted(
        client: FlaskClient, vonage: FakeVonage, started: str) -> None:
    vonage.raw("check", rid=started, body=requests.ConnectionError("RemoteDisconnected"))
    vonage.check("expired", rid=started)  # v2: 404, the request is completed

    client.post("/check-otp", json={"code": "123456"})
    retry = client.post("/check-otp", json={"code": "123456"})

    assert retry.status_code == 410 and retry.json["code"] == "code_expired"
    assert retry.json["error"] == LOST_ANSWER
    assert "may already have been accepted" in retry.json["error"]


@pytest.mark.parametrize("api", ["v2"])
def test_v2_without_a_lost_answer_an_expired_code_is_said_plainly(client: FlaskClient, vonage: FakeVonage,
                                                                  started: str) -> None:
    vonage.check("expired", rid=started)

    resp = client.post("/check-otp", json={"code": "123456"})

    assert resp.status_code == 410 and resp.json["error"] != LOST_ANSWER


def test_a_check_vonage_answered_settles(client: FlaskClient, vonage: FakeVonage, started: str) -> None:
    vonage.check("wrong", rid=started)
    vonage.check("ok", rid=started)

    assert client.post("/check-otp", json={"code": "000000"}).status_code == 401
    assert client.post("/check-otp", json={"code": "123456"}).status_code == 200
    assert vonage.searches() == []  # a known outcome leaves nothing to ask about


# --- answers that are checked, not assumed ------------------------------------------------------------
@pytest.mark.parametrize("api", ["v2"])
@pytest.mark.parametrize("verb", ["resend", "cancel"])
def test_a_v2_next_step_or_cancel_answered_by_an_html_page_is_502_and_the_verification_stays(
        client: FlaskClient, vonage: FakeVonage, started: str, verb: str) -> None:
    # A proxy's page with a 200 is no answer of Vonage's: nothing says the next step or the cancel happened.
    method, url = ("POST", vonage.next_url(started)) if verb == "resend" else ("DELETE", vonage.cancel_url(started))
    vonage.mock.add(method, url, status=200, body="<html><body>Welcome</body></html>", content_type="text/html")
    vonage.check("ok", rid=started)

    answer = client.post(f"/{verb}-otp", json={})
    checked = client.post("/check-otp", json={"code": "123456"})

    assert answer.status_code == 502 and answer.json["code"] == "upstream_error"
    assert checked.status_code == 200  # the verification was kept


@pytest.mark.parametrize("api", ["legacy", "v2"])
def test_a_read_timeout_on_a_get_or_delete_is_504_like_one_on_a_post(client: FlaskClient, vonage: FakeVonage,
                                                                     started: str) -> None:
    # urllib3 retries idempotent methods, and requests reports their end as a ConnectionError.
    from urllib3.exceptions import MaxRetryError, ReadTimeoutError

    timeout = requests.ConnectionError(MaxRetryError(None, "/", ReadTimeoutError(None, "/", "read timed out")))  # type: ignore[arg-type]
    method = "POST" if vonage.api == "legacy" else "DELETE"
    vonage.mock.add(method, vonage.cancel_url(started), body=timeout)

    answer = client.post("/cancel-otp", json={})

    assert answer.status_code == 504 and answer.json["code"] == "upstream_timeout"
