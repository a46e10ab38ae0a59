#!/usr/bin/env python3
"""The floor under /request-otp: the seed beside a bare WSGI app that does nothing but the Vonage call.

The bare app runs under gunicorn with the service's worker class and processes, and calls Vonage
through the service's own wrapper (app.providers.vonage_legacy.VonageLegacyProvider: the SDK, requests, TLS). It has no
Flask, no validation, no rate limits, no store, no logs and no metrics, so no version of the service can
be faster than it: it measures what the SDK and gunicorn cost before the service does any work of its own.

usage (from the project root, with ../shared, node and wrk present): .venv/bin/python bench/floor.py
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
sys.path.insert(0, str(SHARED))
import harness  # noqa: E402

SECS, CONNS, LATENCY = 10, 64, 50

BARE_APP = '''
import json, os
from vonage_http_client import Auth
from app.providers.vonage_legacy import VonageLegacyProvider

verifier = VonageLegacyProvider(
    auth=Auth(api_key=os.environ["VONAGE_API_KEY"], api_secret=os.environ["VONAGE_API_SECRET"]),
    api_host=os.environ["VONAGE_API_HOST"], timeout=3, brand="Verify", code_length=6, pin_expiry=300, workflow_id=1)
ANSWER = b'{"message":"A code is on its way."}'


def app(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":  # the harness's readiness probe
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    verifier.start(body["phoneNumber"])
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(ANSWER)))])
    return [ANSWER]
'''


def wrk(url: str) -> dict:
    command = ["wrk", "-t2", f"-c{CONNS}", f"-d{SECS}s", "--timeout", "10s", "-s", str(SHARED / "request.lua"), url]
    out = subprocess.run(command, capture_output=True, text=True).stdout
    return json.loads(next(line[5:] for line in out.splitlines() if line.startswith("JSON ")))


def main() -> None:
    # The same worker class and processes as gunicorn.conf.py (gevent, two per core).
    workers = os.environ.get("WEB_CONCURRENCY") or str(2 * len(os.sched_getaffinity(0)))
    bare = Path(tempfile.mkdtemp())
    (bare / "wsgi.py").write_text(BARE_APP)
    (bare / ".venv").symlink_to(ROOT / ".venv")
    os.environ["SUT_GUNICORN_ARGS"] = f"--worker-class gevent --workers {workers} --worker-connections 1000"
    sim = harness.Sim()
    try:
        for name, kind, directory in (("seed", "seed", None), ("bare-sdk", "project", bare)):
            sim.reset()
            sim.config(latency_ms=LATENCY, log_calls=False, enforce_concurrency=False)
            srv = harness.Server(kind, sim, bare, extra_env={"QUIET": "1"}, project_dir=directory)
            try:
                time.sleep(0.5)
                print(json.dumps(dict(target=name, endpoint="request-otp", **wrk(srv.base))), flush=True)
            finally:
                srv.stop()
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
