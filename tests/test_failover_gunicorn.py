"""Failover under gunicorn: two workers share Vonage's breaker through Redis, so the fleet learns once."""

from __future__ import annotations

import json
import os
import re
import ssl
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import redis
import requests

from .conftest import API_KEY, API_SECRET, ISSUER, REDIS_URL, SIGNING_KEY_PEM, localhost_tls
from .test_e2e_gunicorn import Gunicorn

# Real servers and real waits: `make test-fast` skips these; `make test` (and CI) runs them.
pytestmark = pytest.mark.slow

THRESHOLD = 3


class Counting(ThreadingHTTPServer):
    """A provider stand-in that counts its calls and answers each with ``status`` and ``body``."""

    daemon_threads = True

    def __init__(self, status: int, body: dict[str, str], context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        if context is not None:
            self.socket = context.wrap_socket(self.socket, server_side=True)
        self.status, self.body = status, body
        self.calls = 0
        self.lock = threading.Lock()


class _Handler(BaseHTTPRequestHandler):
    server: Counting

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return None

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.calls += 1
            calls = self.server.calls
        data = json.dumps({**self.server.body, "sid": f"VE{calls:032d}"}).encode()
        self.send_response(self.server.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def stand_ins(tmp_path: Path) -> Iterator[tuple[Counting, Counting, Path]]:
    context, ca_path = localhost_tls(tmp_path)
    vonage = Counting(503, {"title": "Service Unavailable"}, context)  # down: it certainly sent nothing
    twilio = Counting(201, {"status": "pending", "channel": "sms"})
    for server in (vonage, twilio):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield vonage, twilio, ca_path
    for server in (vonage, twilio):
        server.shutdown()
        server.server_close()


def test_two_workers_share_one_breaker_for_vonage(stand_ins: tuple[Counting, Counting, Path],
                                                  clean_redis_pending: redis.Redis, tmp_path: Path) -> None:
    vonage, twilio, ca_path = stand_ins
    key_path = tmp_path / "signing-key.pem"
    key_path.write_text(SIGNING_KEY_PEM)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_", "TWILIO_"))}
    env.update(OTP_PROVIDER="vonage,twilio", VONAGE_VERIFY_API="v2", VONAGE_API_KEY=API_KEY,
               VONAGE_API_SECRET=API_SECRET, VONAGE_API_HOST=f"127.0.0.1:{vonage.server_address[1]}",
               REQUESTS_CA_BUNDLE=str(ca_path), TWILIO_ACCOUNT_SID="AC" + "0" * 32, TWILIO_AUTH_TOKEN="t" * 32,
               TWILIO_VERIFY_SERVICE_SID="VA" + "0" * 32,
               TWILIO_VERIFY_URL=f"http://127.0.0.1:{twilio.server_address[1]}",
               OTP_FAILOVER_THRESHOLD=str(THRESHOLD), OTP_FAILOVER_COOLDOWN="300", OTP_STORE_URL=REDIS_URL,
               OTP_RATELIMIT_REQUEST_IP="1000/minute", OTP_RATELIMIT_REQUEST_NETWORK="1000/minute",
               OTP_TOKEN_ISSUER=ISSUER, OTP_TOKEN_PRIVATE_KEY=str(key_path))
    service = Gunicorn(env, tmp_path / "gunicorn.log")
    service.start()
    try:
        def send(i: int) -> requests.Response:
            return service.post(f"/request-otp?n={i}", {"phoneNumber": f"+1415{300 + i:03d}2671"})

        def after_opening() -> set[str]:
            served = {int(n): pid for pid, n in re.findall(r"pid=<?(\d+)>? POST /request-otp\?n=(\d+)",
                                                          service.log_path.read_text())}
            return {pid for n, pid in served.items() if n >= THRESHOLD}

        # One after another until the breaker opened, so that each start sees every failure before it; then a
        # few at once, until both workers have served starts (the kernel picks the worker that accepts each
        # connection, and one after another it often picks the same one).
        answers = [send(i) for i in range(THRESHOLD)]
        with ThreadPoolExecutor(4) as pool:
            while len(answers) < 60 and (len(answers) < 12 or len(after_opening()) < 2):
                answers += list(pool.map(send, range(len(answers), len(answers) + 4)))
        workers_after_opening = after_opening()
        ready = requests.get(service.base + "/readyz", timeout=5)
        metrics = requests.get(service.base + "/metrics", timeout=5).text
    finally:
        service.stop()

    assert [a.status_code for a in answers] == [200] * len(answers), [a.text for a in answers]
    # Both workers served starts after the third failure, and neither asked Vonage again: a worker counting
    # on its own would have tried it until it had seen three failures itself.
    assert len(workers_after_opening) == 2
    assert (vonage.calls, twilio.calls) == (THRESHOLD, len(answers))
    assert ready.status_code == 200 and ready.json()["providers"] == {"vonage": "open", "twilio": "closed"}
    skipped = len(answers) - THRESHOLD
    assert re.search(rf'^otp_failovers_total\{{from_provider="vonage",reason="open",to_provider="twilio"\}} '
                     rf'{skipped}\.0$', metrics, re.M)
    log = service.log_path.read_text()
    assert log.count('"event": "provider_state"') == 1 and "t" * 32 not in log
