"""The providers' requests sessions (app.providers.transport.prepare): a connection the pool hands out again
is checked with the operating system's poll, and that check tells a live connection from one the provider
closed, as urllib3's own does."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from app.providers.transport import _ConnectionPool, prepare

from .conftest import localhost_tls


class KeepAlive(ThreadingHTTPServer):
    """Answers every GET on a kept-alive connection; ``/hang-up`` answers, then closes it unannounced."""

    daemon_threads = True

    def __init__(self, directory: Path) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        context, self.ca_path = localhost_tls(directory)
        self.socket = context.wrap_socket(self.socket, server_side=True)
        self.connections = 0


class _Handler(BaseHTTPRequestHandler):
    server: KeepAlive
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.server.connections += 1

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        return None

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")
        self.close_connection = self.path == "/hang-up"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KeepAlive]:
    served = KeepAlive(tmp_path)
    threading.Thread(target=served.serve_forever, daemon=True).start()
    yield served
    served.shutdown()
    served.server_close()


def _pool(session: requests.Session, url: str) -> _ConnectionPool:
    """The one pool the session's calls to ``url`` went through."""
    pools = session.get_adapter(url).poolmanager.pools
    [key] = pools.keys()
    pool = pools[key]
    assert isinstance(pool, _ConnectionPool)
    return pool


def _session(server: KeepAlive, monkeypatch: pytest.MonkeyPatch) -> tuple[requests.Session, str]:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_path))
    url = f"https://127.0.0.1:{server.server_port}"
    session = requests.Session()
    prepare(session, url + "/")
    return session, url


def test_a_live_connection_is_used_again(server: KeepAlive, monkeypatch: pytest.MonkeyPatch) -> None:
    session, url = _session(server, monkeypatch)
    assert [session.get(f"{url}/{n}", timeout=5).status_code for n in range(3)] == [200, 200, 200]
    assert server.connections == 1
    assert _pool(session, url).num_connections == 1


def test_a_connection_the_provider_closed_is_not_used_again(server: KeepAlive,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    session, url = _session(server, monkeypatch)
    assert session.get(f"{url}/hang-up", timeout=5).status_code == 200
    pool = _pool(session, url)
    idle = pool.pool.get(block=False)  # the connection the server closed, back in the pool
    for _ in range(200):  # the server's close reaches this end
        if not idle.is_connected:
            break
        time.sleep(0.01)
    assert not idle.is_connected
    pool.pool.put(idle)

    # Reusing it would fail (no retries): the pool sees it is closed and opens another.
    assert session.get(f"{url}/after", timeout=5).status_code == 200
    assert server.connections == 2
