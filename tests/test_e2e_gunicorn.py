"""End to end: gunicorn with two workers on Redis, against a local HTTPS stand-in for Vonage."""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import pytest
import redis
import requests

from .conftest import API_KEY, API_SECRET, ISSUER, NUMBER, REDIS_URL, SIGNING_KEY_PEM, localhost_tls, migrate

# Real servers and real waits: `make test-fast` skips these; `make test` (and CI) runs them.
pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
HOLD_NUMBER = "14155552699"  # the stand-in never answers a start for this number in time


class StandIn(ThreadingHTTPServer):
    """Vonage's Verify endpoints (legacy and v2) over TLS, with the codes it sent readable by the test."""

    daemon_threads = True

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.lock = threading.Lock()
        self.requests: dict[str, dict[str, object]] = {}
        self.active: dict[str, str] = {}
        self.hold = threading.Event()
        self.calls: list[str] = []

    def code_for(self, number: str) -> str:
        with self.lock:
            return str(self.requests[self.active[number.lstrip("+")]]["code"])


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return None

    def _answer(self, body: dict[str, str], status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
        expected = "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
        if self.headers.get("Authorization") != expected:
            self._answer({"title": "Unauthorized"}, 401)
            return
        with self.server.lock:
            self.server.calls.append(self.path)
        if self.path == "/verify/json":
            form = dict(urllib.parse.parse_qsl(raw))
            self._legacy(*self._start(form["number"], int(form["code_length"])))
        elif self.path == "/verify/check/json":
            form = dict(urllib.parse.parse_qsl(raw))
            self._legacy(*self._check(form["request_id"], form["code"]))
        elif self.path == "/v2/verify":
            body = json.loads(raw)
            self._v2(*self._start(body["workflow"][0]["to"], int(body["code_length"])))
        elif self.path.startswith("/v2/verify/"):
            self._v2(*self._check(self.path.rsplit("/", 1)[1], json.loads(raw)["code"]))
        else:
            self._answer({"title": "Not Found"}, 404)

    # Outcomes in one vocabulary, answered in each API's dialect.
    _LEGACY = {"started": "0", "in_progress": "10", "approved": "0", "wrong": "16", "too_many": "17",
               "unknown": "6"}
    _V2 = {"started": 202, "in_progress": 409, "approved": 200, "wrong": 400, "too_many": 410, "unknown": 404}

    def _legacy(self, outcome: str, request_id: str) -> None:
        answer = {"request_id": request_id, "status": self._LEGACY[outcome]}
        if outcome == "approved":
            answer.update(event_id="e", price="0.1", currency="EUR")
        self._answer(answer)

    def _v2(self, outcome: str, request_id: str) -> None:
        self._answer({"request_id": request_id, "status": "completed"} if outcome == "approved" else
                     {"request_id": request_id, "title": outcome}, self._V2[outcome])

    def _start(self, number: str, code_length: int) -> tuple[str, str]:
        if number == HOLD_NUMBER:
            self.server.hold.wait(15)
            return "started", "late"
        with self.server.lock:
            current = self.server.active.get(number)
            if current is not None:
                return "in_progress", current
            request_id = secrets.token_hex(16)
            code = f"{secrets.randbelow(10 ** code_length):0{code_length}d}"
            self.server.requests[request_id] = {"number": number, "code": code, "wrong": 0}
            self.server.active[number] = request_id
        return "started", request_id

    def _check(self, request_id: str, code: str) -> tuple[str, str]:
        with self.server.lock:
            pending = self.server.requests.get(request_id)
            if pending is None:
                return "unknown", request_id
            if code == pending["code"]:
                del self.server.requests[request_id]
                self.server.active.pop(str(pending["number"]), None)
                return "approved", request_id
            pending["wrong"] = int(str(pending["wrong"])) + 1
            if int(str(pending["wrong"])) >= 3:
                del self.server.requests[request_id]
                self.server.active.pop(str(pending["number"]), None)
                return "too_many", request_id
            return "wrong", request_id


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[StandIn, Path]]:
    context, ca_path = localhost_tls(tmp_path_factory.mktemp("tls"))
    server = StandIn(context)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, ca_path
    server.hold.set()
    server.shutdown()
    server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Gunicorn:
    """The service as operators run it: gunicorn from the project's venv, gthread workers, Redis."""

    def __init__(self, env: dict[str, str], log_path: Path, args: list[str] | None = None) -> None:
        # By default 2 workers and the access-log line with the worker's pid; args=[] keeps gunicorn.conf.py's.
        self.args = ["--workers", "2", "--threads", "4", "--access-logfile", "-", "--access-logformat",
                     "pid=%(p)s %(r)s %(s)s"] if args is None else args
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        gunicorn = Path(sys.executable).parent / "gunicorn"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [str(gunicorn), *self.args, "--bind", f"127.0.0.1:{self.port}", "wsgi:app"],
                cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if requests.get(self.base + "/healthz", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("gunicorn did not start:\n" + self.log_path.read_text()[-3000:])

    def stop(self) -> None:
        if self.proc is None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(5)
        self.proc = None

    def post(self, path: str, body: dict[str, str]) -> requests.Response:
        return requests.post(self.base + path, json=body, timeout=30)


@pytest.fixture(params=["legacy", "v2"])
def service(request: pytest.FixtureRequest, stand_in: tuple[StandIn, Path], clean_redis_pending: redis.Redis,
            tmp_path: Path) -> Iterator[Gunicorn]:
    _, ca_path = stand_in
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    env.update(OTP_PROVIDER="vonage", VONAGE_VERIFY_API=request.param, VONAGE_API_KEY=API_KEY,
               VONAGE_API_SECRET=API_SECRET,
               VONAGE_API_HOST=f"127.0.0.1:{stand_in[0].server_address[1]}", REQUESTS_CA_BUNDLE=str(ca_path),
               VONAGE_TIMEOUT="2", OTP_STORE_URL=REDIS_URL, OTP_RATELIMIT_REQUEST_IP="1000/minute",
               OTP_RATELIMIT_CHECK_IP="1000/minute", OTP_TOKEN_ISSUER=ISSUER)
    # The signing key as a path, the way the README tells operators to give it.
    key_path = tmp_path / "signing-key.pem"
    key_path.write_text(SIGNING_KEY_PEM)
    env["OTP_TOKEN_PRIVATE_KEY"] = str(key_path)
    server = Gunicorn(env, tmp_path / "gunicorn.log")
    server.start()
    yield server
    server.stop()


def test_twenty_flows_across_two_workers_then_a_restart(service: Gunicorn, stand_in: tuple[StandIn, Path]) -> None:
    fake, _ = stand_in
    numbers = [f"+1415{200 + i:03d}2671" for i in range(20)]  # distinct 10,000-blocks

    def flow(i: int) -> list[int]:
        number = numbers[i]
        started = service.post(f"/request-otp?flow={i}", {"phoneNumber": number})
        vid = started.json()["verificationId"]
        right = fake.code_for(number)
        wrong = f"{(int(right) + 1) % 10 ** len(right):0{len(right)}d}"
        statuses = [started.status_code]
        statuses.append(service.post(f"/check-otp?flow={i}", {"verificationId": vid, "code": wrong}).status_code)
        statuses.append(service.post(f"/check-otp?flow={i}", {"verificationId": vid, "code": right}).status_code)
        return statuses

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(flow, range(20)))

    assert results == [[200, 401, 200]] * 20
    pids_by_flow: dict[str, set[str]] = {}
    for pid, flow_id in re.findall(r"pid=<?(\d+)>? POST /\S+\?flow=(\d+)", service.log_path.read_text()):
        pids_by_flow.setdefault(flow_id, set()).add(pid)
    assert len(pids_by_flow) == 20
    assert len(set().union(*pids_by_flow.values())) == 2, "both workers served requests"
    assert any(len(pids) > 1 for pids in pids_by_flow.values()), "some flow crossed workers"

    # /metrics sums both workers (prometheus_client's multiprocess mode, set up by gunicorn.conf.py).
    metrics = requests.get(service.base + "/metrics", timeout=5).text
    for outcome in ("approved", "wrong_code"):
        labels = f'channel="sms",country="US",outcome="{outcome}",provider="vonage"'
        assert re.search(rf"^otp_verifications_total\{{{labels}\}} 20\.0$", metrics, re.M)
    # Every access-log line is a JSON object with the request's fields.
    access = [json.loads(line) for line in service.log_path.read_text().splitlines() if "gunicorn.access" in line]
    assert len(access) >= 60
    assert {"remote", "method", "path", "status", "duration_ms", "request_id"} <= set(access[-1])

    # A code requested before a restart is checked after it.
    number = "+14155552650"
    started = service.post("/request-otp", {"phoneNumber": number})
    assert started.status_code == 200
    service.stop()
    service.start()
    resp = service.post("/check-otp", {"verificationId": started.json()["verificationId"],
                                       "code": fake.code_for(number)})
    assert resp.status_code == 200
    # Its token verifies against the JWK Set the restarted workers publish from the same key file.
    jwks = jwt.PyJWKClient(service.base + "/.well-known/jwks.json")
    token = resp.json()["token"]
    claims = jwt.decode(token, jwks.get_signing_key_from_jwt(token).key, algorithms=["ES256"], issuer=ISSUER)
    assert claims["phone_number"] == number


def test_each_worker_sweeps_and_an_expired_code_is_reported_once(stand_in: tuple[StandIn, Path],
                                                                clean_redis_pending: redis.Redis,
                                                                tmp_path: Path) -> None:
    _, ca_path = stand_in
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    env.update(OTP_PROVIDER="vonage", VONAGE_API_KEY=API_KEY, VONAGE_API_SECRET=API_SECRET,
               VONAGE_API_HOST=f"127.0.0.1:{stand_in[0].server_address[1]}", REQUESTS_CA_BUNDLE=str(ca_path),
               OTP_STORE_URL=REDIS_URL, OTP_TOKEN_ISSUER=ISSUER, OTP_TOKEN_PRIVATE_KEY=SIGNING_KEY_PEM,
               OTP_SWEEP_SECONDS="0.3")
    # gevent workers, as gunicorn.conf.py runs them: the sweep is a greenlet of each.
    server = Gunicorn(env, tmp_path / "gunicorn.log", args=["--workers", "2"])
    server.start()
    try:
        started = server.post("/request-otp", {"phoneNumber": NUMBER}).json()["verificationId"]
        for _ in range(6):  # reach both workers, so that both sweep
            requests.get(server.base + "/healthz", timeout=5)
        clean_redis_pending.delete(f"otp:v:{{{started}}}")  # as its TTL would, a minute after the code's
        clean_redis_pending.zadd("otp:x", {started: time.time() - 1})
        deadline = time.monotonic() + 10
        while '"verification_ended"' not in server.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # every worker swept a few more times
    finally:
        server.stop()

    ended = [json.loads(line) for line in server.log_path.read_text().splitlines()
             if '"verification_ended"' in line]
    # Both workers swept it; the one that took it from the expiry set reported it.
    assert [(e["outcome"], e["number"], e["client"]) for e in ended] == [("expired", "+1415*****71", "127.0.0.1")]
    assert ended[0]["provider_request_id"]


def test_a_vonage_that_does_not_answer_gets_504(service: Gunicorn, stand_in: tuple[StandIn, Path]) -> None:
    fake, _ = stand_in

    resp = service.post("/request-otp", {"phoneNumber": "+" + HOLD_NUMBER})

    assert resp.status_code == 504
    assert resp.json()["code"] == "upstream_timeout"
    assert not fake.hold.is_set(), "the service answered before the stand-in did"


@pytest.mark.parametrize(("settings", "named"), [
    ({"OTP_PROVIDER": "vonage", "VONAGE_API_KEY": "k", "VONAGE_API_SECRET": "s", "OTP_STORE_URL": "memory://"},
     "OTP_STORE_URL=memory:// cannot serve 2 workers"),
    ({"OTP_PROVIDER": "console", "OTP_STORE_URL": REDIS_URL}, "OTP_PROVIDER=console cannot serve 2 workers"),
])
def test_gunicorn_refuses_several_workers_that_would_each_keep_their_own_codes(settings: dict[str, str],
                                                                               named: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    env.update(settings, OTP_TOKEN_PRIVATE_KEY=SIGNING_KEY_PEM, OTP_TOKEN_ISSUER=ISSUER)
    gunicorn = Path(sys.executable).parent / "gunicorn"

    done = subprocess.run([str(gunicorn), "--workers", "2", "--bind", f"127.0.0.1:{_free_port()}", "wsgi:app"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)

    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert named in output and "Traceback" not in output
    assert "Booting worker" not in output  # refused in the master, before any worker sent anything


def test_a_vonage_key_that_cannot_sign_stops_gunicorn_with_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    env.update(OTP_PROVIDER="vonage", VONAGE_VERIFY_API="v2", VONAGE_APPLICATION_ID="app-1",
               VONAGE_PRIVATE_KEY=SIGNING_KEY_PEM,  # an EC key: Vonage's JWTs are RS256
               OTP_TOKEN_PRIVATE_KEY=SIGNING_KEY_PEM, OTP_TOKEN_ISSUER=ISSUER, OTP_STORE_URL=REDIS_URL)
    gunicorn = Path(sys.executable).parent / "gunicorn"

    done = subprocess.run([str(gunicorn), "--bind", f"127.0.0.1:{_free_port()}", "wsgi:app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)

    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert output.count("VONAGE_PRIVATE_KEY cannot sign") == 1 and "Traceback" not in output


def test_the_access_log_has_no_query_string(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    env.update(OTP_PROVIDER="console", OTP_STORE_URL=REDIS_URL, WEB_CONCURRENCY="1")
    server = Gunicorn(env, tmp_path / "gunicorn.log", args=[])
    server.start()
    try:
        requests.post(server.base + "/check-otp?phoneNumber=%2B14155552671&code=654321", json={}, timeout=10)
    finally:
        server.stop()

    log = server.log_path.read_text()
    access = [json.loads(line) for line in log.splitlines() if "gunicorn.access" in line]
    assert [(a["method"], a["path"]) for a in access if a["method"] == "POST"] == [("POST", "/check-otp")]
    assert "654321" not in log and "4155552671" not in log


def test_missing_secrets_stop_gunicorn_with_one_message() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    gunicorn = Path(sys.executable).parent / "gunicorn"

    done = subprocess.run([str(gunicorn), "--bind", f"127.0.0.1:{_free_port()}", "wsgi:app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    assert "missing VONAGE_API_KEY, VONAGE_API_SECRET" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr + done.stdout


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_a_flow_on_a_sql_store_across_workers_and_a_restart(database: str, stand_in: tuple[StandIn, Path],
                                                           clean_redis_pending: redis.Redis, tmp_path: Path,
                                                           request: pytest.FixtureRequest) -> None:
    """Two workers sharing a SQL store (rate limits on Redis), migrated by the CLI, restarted between
    the request and the check."""
    fake, ca_path = stand_in
    url = (request.getfixturevalue("postgres_url") if database == "postgresql"
           else f"sqlite:///{tmp_path / 'otp.db'}")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    env.update(OTP_PROVIDER="vonage", VONAGE_API_KEY=API_KEY, VONAGE_API_SECRET=API_SECRET,
               VONAGE_API_HOST=f"127.0.0.1:{fake.server_address[1]}", REQUESTS_CA_BUNDLE=str(ca_path),
               OTP_STORE_URL=url, OTP_RATELIMIT_STORAGE_URL=REDIS_URL, OTP_RECORD_KEY="k" * 40,
               OTP_TOKEN_PRIVATE_KEY=SIGNING_KEY_PEM, OTP_TOKEN_ISSUER=ISSUER)
    flask = Path(sys.executable).parent / "flask"
    migrated = subprocess.run([str(flask), "--app", "wsgi", "otp", "db-upgrade"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=120)
    assert migrated.returncode == 0, migrated.stderr
    server = Gunicorn(env, tmp_path / "gunicorn.log")
    server.start()
    try:
        number = "+14155552651"
        started = server.post("/request-otp", {"phoneNumber": number})
        assert started.status_code == 200, started.text
        server.stop()
        server.start()
        vid, code = started.json()["verificationId"], fake.code_for(number)
        wrong = server.post("/check-otp", {"verificationId": vid,
                                           "code": f"{(int(code) + 1) % 10 ** len(code):0{len(code)}d}"})
        right = server.post("/check-otp", {"verificationId": vid, "code": code})
    finally:
        server.stop()
        if database == "postgresql":
            migrate(url, "base")

    assert wrong.status_code == 401 and right.status_code == 200
    assert right.json()["phoneNumber"] == number


def test_a_worker_count_below_one_stops_gunicorn_with_one_line() -> None:
    # (Words never reach gunicorn.conf.py: gunicorn reads WEB_CONCURRENCY with int() when it is imported.)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    env.update(OTP_PROVIDER="console", WEB_CONCURRENCY="0")
    gunicorn = Path(sys.executable).parent / "gunicorn"

    done = subprocess.run([str(gunicorn), "--bind", f"127.0.0.1:{_free_port()}", "wsgi:app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)

    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output
    assert "WEB_CONCURRENCY must be a whole number of worker processes (1 or more), got '0'" in output


def test_a_reload_leaves_no_metrics_directory_behind(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_", "PROMETHEUS_"))}
    env.update(OTP_PROVIDER="console", WEB_CONCURRENCY="1", TMPDIR=str(tmp_path))
    server = Gunicorn(env, tmp_path / "gunicorn.log", args=[])
    server.start()
    try:
        assert len(list(tmp_path.glob("otp-metrics-*"))) == 1
        assert server.proc is not None
        os.kill(server.proc.pid, signal.SIGHUP)  # gunicorn reads its configuration again
        deadline = time.monotonic() + 20
        while "Hang up" not in server.log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)
        assert requests.get(server.base + "/metrics", timeout=5).status_code == 200
    finally:
        server.stop()

    assert list(tmp_path.glob("otp-metrics-*")) == []


def test_gunicorns_refused_request_lines_carry_nothing_in_clear(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    env.update(OTP_PROVIDER="console", WEB_CONCURRENCY="1")
    server = Gunicorn(env, tmp_path / "gunicorn.log", args=[])
    server.start()
    try:
        for raw in (b"POST /check-otp?code=654321&phoneNumber=%2B14155552671 HTTP/1.1 extra\r\n\r\n",
                    b"POST /check-otp HTTP/1.1\r\nHost: x\r\nAuthorization Bearer otp_k3y_in_clear\r\n\r\n"):
            with socket.create_connection(("127.0.0.1", server.port), timeout=5) as conn:
                conn.sendall(raw)
                assert conn.recv(4096).startswith(b"HTTP/1.1 400")
    finally:
        server.stop()

    log = server.log_path.read_text()
    assert log.count("Invalid request from") == 2 and "[redacted]" in log
    assert "654321" not in log and "4155552671" not in log and "otp_k3y_in_clear" not in log


def test_a_body_that_never_arrives_is_answered_408_and_does_not_hold_the_worker(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    env.update(OTP_PROVIDER="console", WEB_CONCURRENCY="1", OTP_BODY_TIMEOUT="1")
    server = Gunicorn(env, tmp_path / "gunicorn.log", args=[])
    server.start()
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=15) as conn:
            conn.sendall(b"POST /request-otp HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 100\r\n\r\n{\"phoneNumber\": \"+1")  # and nothing more
            answer = http.client.HTTPResponse(conn)  # gunicorn writes the head and the body apart
            answer.begin()
            body = json.loads(answer.read())
            healthy = requests.get(server.base + "/healthz", timeout=5).status_code
    finally:
        server.stop()

    assert answer.status == 408 and body["code"] == "request_timeout"
    assert healthy == 200


def test_sqlite_locked_by_another_process_does_not_freeze_the_worker(tmp_path: Path) -> None:
    import sqlite3

    url = f"sqlite:///{tmp_path / 'otp.db'}"
    migrate(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    env.update(OTP_PROVIDER="console", WEB_CONCURRENCY="1", OTP_STORE_URL=url, OTP_RECORD_DAYS="0")
    server = Gunicorn(env, tmp_path / "gunicorn.log", args=[])
    server.start()
    holder = sqlite3.connect(tmp_path / "otp.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # another process's writer holds the lock
        with ThreadPoolExecutor(1) as pool:
            send = pool.submit(server.post, "/request-otp", {"phoneNumber": "+14155552652"})
            time.sleep(0.5)  # the send now waits for the lock (busy_timeout, 5 s)
            healthy = requests.get(server.base + "/healthz", timeout=2)  # answered meanwhile
            waiting = not send.done()
            holder.execute("ROLLBACK")
            sent = send.result(timeout=20)
    finally:
        holder.close()
        server.stop()

    assert healthy.status_code == 200 and waiting
    assert sent.status_code == 200, sent.text  # the lock went away within the busy timeout


class Forwarder:
    """A TCP forwarder to PostgreSQL that the test can stall: it keeps every connection open and
    acknowledged, and passes nothing on, as a hung proxy or a half-dead path does."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.stalled = threading.Event()
        self.sockets: list[socket.socket] = []
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                while self.stalled.is_set():
                    time.sleep(0.05)
                sink.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        for s in self.sockets:
            s.close()


def test_a_stalled_path_to_postgresql_answers_503_within_the_store_timeout(postgres_url: str,
                                                                            tmp_path: Path) -> None:
    migrate(postgres_url)
    forwarder = Forwarder(("127.0.0.1", 5432))
    via = postgres_url.replace("127.0.0.1:5432", f"127.0.0.1:{forwarder.port}")
    assert via != postgres_url
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_"))}
    env.update(OTP_PROVIDER="console", WEB_CONCURRENCY="1", OTP_STORE_URL=via, OTP_RECORD_KEY="k" * 40,
               OTP_STORE_TIMEOUT="1")
    server = Gunicorn(env, tmp_path / "gunicorn.log", args=[])
    server.start()
    try:
        assert server.post("/request-otp", {"phoneNumber": "+14155552653"}).status_code == 200
        forwarder.stalled.set()
        with ThreadPoolExecutor(2) as pool:
            send = pool.submit(server.post, "/request-otp", {"phoneNumber": "+14155552654"})
            ready = pool.submit(requests.get, server.base + "/readyz", timeout=30)
            healthy = requests.get(server.base + "/healthz", timeout=5)
            stalled_send, stalled_ready = send.result(timeout=30), ready.result(timeout=30)
    finally:
        forwarder.stalled.clear()
        server.stop()
        forwarder.close()
        migrate(postgres_url, "base")

    assert healthy.status_code == 200
    assert (stalled_send.status_code, stalled_send.json()["code"]) == (503, "store_unavailable")
    assert stalled_ready.status_code == 503
    # The stalled send never reached the provider: the console printed the first code only.
    assert (tmp_path / "gunicorn.log").read_text().count("CONSOLE PROVIDER") == 1
