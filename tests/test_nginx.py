"""The README's nginx block, as documented, in front of the service: Debian's nginx on a port that is not 80,
so that the Host it passes must keep the port for the Origin check, and the error shape must survive it."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

from .conftest import MakeApp

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.slow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def readme_block() -> str:
    """The nginx configuration the README's "Behind nginx" section shows."""
    section = (ROOT / "README.md").read_text().split("### Behind nginx", 1)[1]
    found = re.search(r"```nginx\n(.*?)```", section, re.DOTALL)
    assert found, "the README's Behind nginx section has an nginx block"
    return found.group(1)


def test_the_readme_block_passes_the_port_and_keeps_errors_as_json() -> None:
    block = readme_block()
    assert "proxy_set_header Host $http_host;" in block
    assert "proxy_intercept_errors off;" in block


@pytest.fixture
def nginx(tmp_path: Path, make_app: MakeApp) -> Iterator[tuple[str, threading.Event]]:
    """The demo page's service behind the README's block, nginx listening on a port of its own; yields the
    base URL and an event that stops the service (nginx then has no upstream)."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("nginx is missing: .ci/run installs Debian's nginx package")
        pytest.skip("nginx is not installed (apt-get install nginx)")
    app = make_app(OTP_PROVIDER="console", OTP_TRUSTED_PROXIES="1", OTP_DEMO_PAGE="true", OTP_COOKIE_SECURE="false")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = _free_port()
    block = (readme_block().replace("server 127.0.0.1:8000;", f"server 127.0.0.1:{server.server_port};")
             .replace("listen 443 ssl;", f"listen 127.0.0.1:{port};"))
    temp = tmp_path / "temp"
    temp.mkdir()
    (tmp_path / "nginx.conf").write_text(
        f"worker_processes 1;\nerror_log {tmp_path}/error.log;\npid {tmp_path}/nginx.pid;\nevents {{}}\n"
        f"http {{\n access_log off;\n client_body_temp_path {temp}/body;\n proxy_temp_path {temp}/proxy;\n"
        f" fastcgi_temp_path {temp}/fastcgi;\n uwsgi_temp_path {temp}/uwsgi;\n scgi_temp_path {temp}/scgi;\n"
        f"{block}\n}}\n")
    proc = subprocess.Popen([binary, "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf"), "-g",
                             "daemon off; user root;"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 10
    while True:
        try:
            requests.get(base + "/healthz", timeout=1)
            break
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"nginx did not start: {proc.stdout.read() if proc.stdout else b''!r}") from None
            time.sleep(0.05)
    stop = threading.Event()
    stopper = threading.Thread(target=lambda: (stop.wait(), server.shutdown()), daemon=True)
    stopper.start()
    yield base, stop
    stop.set()
    proc.terminate()
    proc.wait(10)
    if proc.stdout:
        proc.stdout.close()


def test_a_page_on_a_port_that_is_not_80_posts_from_its_own_origin(nginx: tuple[str, threading.Event]) -> None:
    base, _ = nginx
    page = requests.get(base + "/", timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]

    sent = requests.post(base + "/request-otp", json={"phoneNumber": "+14155552671"}, headers={"Origin": base},
                         timeout=5)

    assert sent.status_code == 200, sent.text
    other = requests.post(base + "/request-otp", json={"phoneNumber": "+14155552672"},
                          headers={"Origin": "http://127.0.0.1:1"}, timeout=5)
    assert other.status_code == 403 and other.json()["code"] == "origin_not_allowed"


def test_the_services_errors_and_nginxs_own_keep_the_json_shape(nginx: tuple[str, threading.Event]) -> None:
    base, stop = nginx

    invalid = requests.post(base + "/request-otp", data="{", headers={"Content-Type": "application/json"}, timeout=5)
    too_large = requests.post(base + "/request-otp", data="x" * 20_000, timeout=5)
    stop.set()
    time.sleep(0.3)
    down = requests.post(base + "/request-otp", json={"phoneNumber": "+14155552671"}, timeout=10)

    assert (invalid.status_code, invalid.json()["code"]) == (400, "invalid_json")
    assert (too_large.status_code, too_large.json()["code"]) == (413, "payload_too_large")
    assert (down.status_code, down.json()["code"]) == (503, "service_unavailable")
    assert down.headers["Retry-After"] == "5" and set(down.json()) == {"error", "code"}
