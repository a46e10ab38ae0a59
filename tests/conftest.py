"""Fixtures: an app on test settings, its client, Vonage mocked at the HTTP level, and Redis."""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
import socket
import ssl
import subprocess
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest
import redis
import responses
import trustme
from flask import Flask
from flask.testing import FlaskClient

from app import create_app
from app.tokens import generate_private_key_pem

API_KEY = "testkey"
API_SECRET = "s3cret-Value-9f8e"
NUMBER = "+14155552671"
SDK_NUMBER = "14155552671"
API_HOST = "https://api.nexmo.com"
REDIS_URL = "redis://127.0.0.1:6379/13"
ISSUER = "https://otp.test"
# One signing key for the whole run, as a deployment has one.
SIGNING_KEY_PEM = generate_private_key_pem().decode()

SETTINGS = {
    "OTP_PROVIDER": "vonage",
    "VONAGE_API_KEY": API_KEY,
    "VONAGE_API_SECRET": API_SECRET,
    "VONAGE_BRAND": "AcmeTest",
    "OTP_TOKEN_PRIVATE_KEY": SIGNING_KEY_PEM,
    "OTP_TOKEN_ISSUER": ISSUER,
    "OTP_STORE_URL": "memory://",
    # The contract tests send several codes to one number; the cooldown has tests of its own.
    "OTP_RESEND_COOLDOWN": "0",
    # Tests end expired verifications themselves (lifecycle.outcomes.sweep), when they mean to.
    "OTP_SWEEP_SECONDS": "0",
}


class FakeVonage:
    """Vonage Verify at the HTTP level through `responses`, in the dialect of one API.

    The real SDK runs against it; a URL nobody registered is a connection error. Outcomes are named
    the same for both APIs, so one test states the contract and runs against legacy and v2.
    """

    def __init__(self, api: str, mock: responses.RequestsMock) -> None:
        self.api, self.mock = api, mock

    def may_go_unused(self, why: str) -> None:
        """Let answers this test registered go unasked (every one must be asked otherwise); ``why`` says why."""
        assert why
        self.mock.assert_all_requests_are_fired = False

    # URLs
    def start_url(self) -> str:
        return f"{API_HOST}/verify/json" if self.api == "legacy" else f"{API_HOST}/v2/verify"

    def check_url(self, rid: str = "req-0001") -> str:
        return f"{API_HOST}/verify/check/json" if self.api == "legacy" else f"{API_HOST}/v2/verify/{rid}"

    def next_url(self, rid: str = "req-0001") -> str:
        if self.api == "legacy":
            return f"{API_HOST}/verify/control/json"
        return f"{API_HOST}/v2/verify/{rid}/next_workflow"

    def cancel_url(self, rid: str = "req-0001") -> str:
        return f"{API_HOST}/verify/control/json" if self.api == "legacy" else f"{API_HOST}/v2/verify/{rid}"

    # answers
    def _legacy(self, url: str, status: str, rid: str | None, **extra: Any) -> None:
        body: dict[str, Any] = {"status": status, **extra}
        if rid:
            body["request_id"] = rid
        if status != "0":
            body.setdefault("error_text", f"status {status} text")
        self.mock.add(responses.POST, url, json=body)

    def _problem(self, method: str, url: str, http: int, **extra: Any) -> None:
        self.mock.add(method, url, status=http, json={"type": "https://developer.vonage.com/api-errors",
                                                      "title": f"problem {http}", **extra})

    START = {"in_progress": ("10", 409), "bad_number": ("15", 422), "throttled": ("1", 429),
             "account": ("4", 401), "upstream": ("5", 500)}

    def start(self, outcome: str = "ok", rid: str = "req-0001") -> None:
        if outcome == "ok":
            if self.api == "legacy":
                self._legacy(self.start_url(), "0", rid)
            else:
                self.mock.add(responses.POST, self.start_url(), status=202, json={"request_id": rid})
            return
        status, http = self.START[outcome]
        if self.api == "legacy":
            self._legacy(self.start_url(), status, rid if outcome == "in_progress" else None)
        else:
            extra = {"request_id": rid} if outcome == "in_progress" else {}
            self._problem(responses.POST, self.start_url(), http, **extra)

    CHECK = {"wrong": ("16", 400), "too_many": ("17", 410), "expired": ("6", 404), "throttled": ("1", 429)}

    def check(self, outcome: str = "ok", rid: str = "req-0001") -> None:
        if outcome == "ok":
            if self.api == "legacy":
                self._legacy(self.check_url(rid), "0", rid, event_id="evt-1", price="0.10000000", currency="EUR")
            else:
                self.mock.add(responses.POST, self.check_url(rid), json={"request_id": rid, "status": "completed"})
            return
        status, http = self.CHECK[outcome]
        if self.api == "legacy":
            self._legacy(self.check_url(rid), status, rid)
        else:
            self._problem(responses.POST, self.check_url(rid), http)

    def control(self, verb: str, outcome: str = "ok", rid: str = "req-0001") -> None:
        """Answer a next step or a cancel: ok, refused (legacy 19, v2 409) or expired (legacy 6, v2 404)."""
        url = self.next_url(rid) if verb == "next" else self.cancel_url(rid)
        if self.api == "legacy":
            command = "trigger_next_event" if verb == "next" else "cancel"
            status = {"ok": "0", "refused": "19", "expired": "6"}[outcome]
            self._legacy(url, status, None, **({"command": command} if outcome == "ok" else {}))
            return
        method = responses.POST if verb == "next" else responses.DELETE
        if outcome == "ok":
            self.mock.add(method, url, status=200 if verb == "next" else 204)
        else:
            self._problem(method, url, {"refused": 409, "expired": 404}[outcome])

    def search(self, state: str = "IN PROGRESS", rid: str = "req-0001") -> None:
        """Answer the legacy search endpoint: what became of a request (SUCCESS, IN PROGRESS, EXPIRED...)."""
        self.mock.add(responses.GET, f"{API_HOST}/verify/search/json",
                      json={"request_id": rid, "status": state, "number": SDK_NUMBER, "account_id": API_KEY})

    def searches(self) -> list[Any]:
        return [c for c in self.mock.calls if c.request.url.startswith(f"{API_HOST}/verify/search/json")]

    def raw(self, kind: str, rid: str = "req-0001", **answer: Any) -> None:
        """Any answer at all (a fault, an odd status) to a start or a check."""
        url = self.start_url() if kind == "start" else self.check_url(rid)
        self.mock.add(responses.POST, url, **answer)

    # what the service sent
    def calls(self, kind: str, rid: str = "req-0001") -> list[Any]:
        url = {"start": self.start_url(), "check": self.check_url(rid), "next": self.next_url(rid),
               "cancel": self.cancel_url(rid)}[kind]
        method = "DELETE" if kind == "cancel" and self.api == "v2" else "POST"
        found = [c for c in self.mock.calls if c.request.url == url and c.request.method == method]
        if self.api == "legacy" and kind in ("next", "cancel"):
            cmd = "trigger_next_event" if kind == "next" else "cancel"
            found = [c for c in found if form_of(c).get("cmd") == cmd]
        return found

    def sent(self, call: Any) -> dict[str, Any]:
        """The fields one call carried: the form (legacy) or the JSON body (v2)."""
        if self.api == "legacy":
            return form_of(call)
        return dict(json.loads(call.request.body)) if call.request.body else {}

    def sent_number(self, call: Any) -> str:
        body = self.sent(call)
        return str(body["number"] if self.api == "legacy" else body["workflow"][0]["to"])


@pytest.fixture(params=["legacy", "v2"])
def api(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(api: str) -> dict[str, str]:
    return {**SETTINGS, "VONAGE_VERIFY_API": api}


class MakeApp(Protocol):
    def __call__(self, base: Mapping[str, str] | None = None, /, **overrides: str) -> Flask: ...


@pytest.fixture
def make_app() -> Iterator[MakeApp]:
    """Build apps on ``base`` (SETTINGS by default) with ``overrides``; their stores' connections are closed
    when the test ends. The one way a test builds an app."""
    made: list[Flask] = []

    def make(base: Mapping[str, str] | None = None, /, **overrides: str) -> Flask:
        # No sweep in the background of a test unless it asks for one: a sweep of the shared Redis or
        # database by one test's app would race another test's own.
        app = create_app({"OTP_SWEEP_SECONDS": "0", **(SETTINGS if base is None else base), **overrides})
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["otp_store"].close()
        app.extensions["otp_limits"].close()


@pytest.fixture
def app(make_app: MakeApp, settings: dict[str, str]) -> Flask:
    return make_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def vonage(api: str) -> Iterator[FakeVonage]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield FakeVonage(api, mock)


def pending_rid(app: Flask, number: str = NUMBER) -> str | None:
    """Vonage's request id of the number's latest pending verification, or None."""
    latest = app.extensions["otp_store"].latest(number)
    return None if latest is None else str(latest.request_id)


def cookie_vid(client: FlaskClient) -> str:
    """The verificationId the client's cookie holds."""
    cookie = client.get_cookie("otp_verification")
    assert cookie is not None, "no verification cookie"
    return str(cookie.value)


def form_of(call: Any) -> dict[str, str]:
    """The form fields the SDK sent in one recorded call."""
    return dict(urllib.parse.parse_qsl(call.request.body))


def basic_auth() -> str:
    return "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()


def redis_or_fail() -> redis.Redis:
    """A client for the test database; under CI a missing Redis fails the test instead of skipping it."""
    client = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError:
        if os.environ.get("CI"):
            pytest.fail("Redis must answer at 127.0.0.1:6379 under CI")
        pytest.skip("no Redis at 127.0.0.1:6379")
    return client


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis_or_fail()
    yield client
    client.close()


@pytest.fixture
def redis_prefix(redis_client: redis.Redis) -> Iterator[str]:
    """A key prefix of this test's own, removed afterwards."""
    prefix = f"otp-test:{uuid.uuid4().hex}:"
    yield prefix
    keys = list(redis_client.scan_iter(match=prefix + "*"))
    if keys:
        redis_client.delete(*keys)


@pytest.fixture
def clean_redis_pending(redis_client: redis.Redis) -> Iterator[redis.Redis]:
    """The app's pending entries and rate-limit counters in the test database, removed before and after."""
    def wipe() -> None:
        # Verifications, their records and holds, the expiry set, budgets and breakers: otp:*.
        keys = [*redis_client.scan_iter(match="otp:*"), *redis_client.scan_iter(match="LIMITS:*")]
        if keys:
            redis_client.delete(*keys)

    wipe()
    yield redis_client
    wipe()


# --- backends the store contract runs against, started or created by the tests themselves ------------
def _need(binary: str) -> None:
    if shutil.which(binary) is None:
        if os.environ.get("CI"):
            pytest.fail(f"{binary} must be installed to run the store tests under CI")
        pytest.skip(f"no {binary}")


def _bindable(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def cluster_port() -> int:
    """A free port whose cluster bus port (+10000) is free and valid too."""
    while True:
        # Below the ephemeral range (32768 and up), where the OS hands out ports to anyone who asks.
        port = random.randint(10000, 22000)
        if _bindable(port) and _bindable(port + 10000):
            return port


def _wait_for(check: Callable[[], bool], what: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (redis.RedisError, OSError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up")


def start_redis_server(port: int, directory: Path, *extra: str) -> subprocess.Popen[bytes]:
    """A redis-server of the test's own on ``port``, answering when this returns; the caller stops it."""
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(directory), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: bool(redis.Redis(port=port, socket_connect_timeout=0.5).ping()), f"redis-server :{port}")
    except RuntimeError:
        proc.kill()
        raise
    return proc


def localhost_tls(directory: Path) -> tuple[ssl.SSLContext, Path]:
    """A server-side TLS context for 127.0.0.1 from a CA made now, and that CA's PEM (REQUESTS_CA_BUNDLE)."""
    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    ca_path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    return context, ca_path


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        proc.terminate()
    for proc in procs:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="session")
def redis_cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Redis Cluster of three masters on free ports, stopped at the end of the session."""
    _need("redis-server")
    _need("redis-cli")
    directory = tmp_path_factory.mktemp("cluster")
    ports = [cluster_port() for _ in range(3)]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for p in ports:
            procs.append(start_redis_server(p, directory, "--cluster-enabled", "yes", "--cluster-config-file",
                                       f"nodes-{p}.conf"))
        subprocess.run(["redis-cli", "--cluster", "create", *[f"127.0.0.1:{p}" for p in ports],
                        "--cluster-replicas", "0", "--cluster-yes"], check=True, capture_output=True, timeout=60)
        _wait_for(lambda: all(redis.Redis(port=p).execute_command("CLUSTER INFO").get("cluster_state") == "ok"
                              for p in ports), "the cluster")
        yield "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in ports)
    finally:
        _stop(procs)


@pytest.fixture(scope="session")
def redis_sentinel_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis master and a Sentinel that names it ``mymaster``, stopped at the end of the session."""
    _need("redis-server")
    directory = tmp_path_factory.mktemp("sentinel")
    master_port, sentinel_port = cluster_port(), cluster_port()
    master = start_redis_server(master_port, directory)
    conf = directory / "sentinel.conf"
    conf.write_text(f"port {sentinel_port}\nbind 127.0.0.1\ndir {directory}\n"
                    f"sentinel monitor mymaster 127.0.0.1 {master_port} 1\n")
    sentinel = subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: redis.Redis(port=sentinel_port).execute_command(
            "SENTINEL", "get-master-addr-by-name", "mymaster") is not None, "the sentinel")
        yield f"redis+sentinel://127.0.0.1:{sentinel_port}/mymaster"
    finally:
        _stop([sentinel, master])


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of its own on the PostgreSQL at 127.0.0.1:5432, dropped at the end of the session."""
    import psycopg

    name = f"otp_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect("postgresql://root@127.0.0.1:5432/postgres", autocommit=True, connect_timeout=3)
    except psycopg.OperationalError:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL must answer at 127.0.0.1:5432 under CI")
        pytest.skip("no PostgreSQL at 127.0.0.1:5432")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"postgresql://root@127.0.0.1:5432/{name}"
        finally:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def empty_sql(url: str) -> None:
    """Remove every row the SQL store wrote, keeping the schema."""
    from sqlalchemy import text

    from app.store.sql_engine import engine_for

    engine = engine_for(url, pool_size=1)
    try:
        with engine.begin() as connection:
            for table in ("otp_pending", "otp_number_claim", "otp_verification_record"):
                connection.execute(text(f"DELETE FROM {table}"))
    finally:
        engine.dispose()


def migrate(url: str, revision: str = "head") -> None:
    """Bring a SQL database to ``revision`` through the service's own migrations."""
    from alembic import command

    from app.store.sql_engine import alembic_config, engine_for

    engine = engine_for(url, pool_size=1)
    try:
        if revision == "base":
            command.downgrade(alembic_config(engine), "base")
        else:
            command.upgrade(alembic_config(engine), revision)
    finally:
        engine.dispose()
