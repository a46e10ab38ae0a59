"""A Redis that stalls (a redis-server of the test's own, stopped with SIGSTOP and resumed): redis-py sends a
command again after a timeout, and the store answers the same twice; a send never goes out while the store
cannot take it."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from .conftest import NUMBER, SETTINGS, FakeVonage, MakeApp, start_redis_server

# Real servers and real waits: `make test-fast` skips these; `make test` (and CI) runs them.
pytestmark = pytest.mark.slow


@pytest.fixture
def stalling_redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    if shutil.which("redis-server") is None:
        if os.environ.get("CI"):
            pytest.fail("redis-server must be installed to run the stall tests under CI")
        pytest.skip("no redis-server binary")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    server = start_redis_server(port, tmp_path)
    yield f"redis://127.0.0.1:{port}/0", server
    server.send_signal(signal.SIGCONT)
    server.kill()
    server.wait(10)


def stall(server: subprocess.Popen[bytes], seconds: float) -> None:
    """Stop the server now and resume it ``seconds`` later."""
    server.send_signal(signal.SIGSTOP)
    threading.Timer(seconds, server.send_signal, (signal.SIGCONT,)).start()


def test_a_stall_while_an_approved_check_ends_its_verification_still_answers_the_token(
        stalling_redis: tuple[str, subprocess.Popen[bytes]], vonage: FakeVonage, make_app: MakeApp) -> None:
    url, server = stalling_redis
    app = make_app({**SETTINGS, "VONAGE_VERIFY_API": vonage.api, "OTP_STORE_URL": url, "OTP_STORE_TIMEOUT": "1",
                    "OTP_RATELIMIT_STORAGE_URL": "memory://"})
    client = app.test_client()
    vonage.start("ok")
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200

    def approve(request: object) -> tuple[int, dict[str, str], str]:
        # Vonage approves; the store stalls for 1.5 s just as the check ends the verification: the delete
        # times out once, redis-py sends it again, and both run when Redis resumes.
        stall(server, 1.5)
        if vonage.api == "legacy":
            return 200, {}, json.dumps({"request_id": "req-0001", "status": "0", "event_id": "e", "price": "0.1",
                                        "currency": "EUR"})
        return 200, {}, json.dumps({"request_id": "req-0001", "status": "completed"})

    vonage.mock.add_callback(responses.POST, vonage.check_url(), callback=approve)

    checked = client.post("/check-otp", json={"code": "123456"})

    assert checked.status_code == 200 and checked.json["token"]


def test_a_stall_across_a_send_sends_nothing_and_leaves_the_number_free(
        stalling_redis: tuple[str, subprocess.Popen[bytes]], vonage: FakeVonage, make_app: MakeApp) -> None:
    url, server = stalling_redis
    app = make_app({**SETTINGS, "VONAGE_VERIFY_API": vonage.api, "OTP_STORE_URL": url, "OTP_STORE_TIMEOUT": "1",
                    "OTP_RATELIMIT_STORAGE_URL": "memory://", "OTP_RESEND_COOLDOWN": "0"})
    client = app.test_client()
    client.get("/readyz")  # a connection in the pool, as in a running service

    stall(server, 4)  # longer than the store's timeout and its one retry together
    stalled = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert (stalled.status_code, stalled.json["code"]) == (503, "store_unavailable")
    assert len(vonage.mock.calls) == 0  # no SMS for a verification that could not be kept
    for _ in range(100):  # Redis resumes, and runs what it was sent meanwhile
        if client.get("/readyz").status_code == 200:
            break
    vonage.start("ok")
    again = client.post("/request-otp", json={"phoneNumber": NUMBER})
    assert again.status_code == 200 and again.json["verificationId"] != stalled.json.get("verificationId")
