#!/usr/bin/env python3
"""Where one gevent worker's time goes on /request-otp (or /check-otp), sampled by py-spy under load.

Starts the shared Vonage simulator and the service under gunicorn with ONE worker (so a single
py-spy covers every request), loads it with wrk, records the worker with py-spy for the load's length, and
prints the share of samples whose stack includes each of the functions below (a function and its callees).
The raw stacks are kept in /tmp for a flame graph (``py-spy`` can render them; see its README).

usage (from the project root, with ../shared, node, wrk, and py-spy in .venv: `.venv/bin/pip install py-spy`):
  .venv/bin/python bench/profile.py [check] [LATENCY_MS [CONNECTIONS]]     # default 50 ms, 32 connections
With ``check``: wrong-code checks of 3000 pending verifications, each checked at most five times, so
that every check reaches Vonage.
"""
import collections
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
sys.path.insert(0, str(SHARED))
import harness  # noqa: E402

import bench  # noqa: E402 - ../shared/bench/bench.py: its Redis flush

SECS = 10
# (label, substring of a py-spy frame "function (file:line)"): the parts of a request worth naming.
PARTS = [
    ("whole request (Flask wsgi_app)", "wsgi_app (flask/app.py"),
    ("the web layer (app/web/)", "(app/web/"),
    ("the lifecycle (app/lifecycle/)", "(app/lifecycle/"),
    ("limits (app/limits/)", "(app/limits/"),
    ("store (app/store/)", "(app/store/"),
    ("Redis round trips (redis-py execute)", "execute (redis/client.py"),
    ("Redis single commands (execute_command)", "execute_command (redis/client.py"),
    ("redis-py pool checkout", "get_connection (redis/connection.py"),
    ("Vonage call (SDK)", "(vonage_verify_legacy"),
    ("Vonage call (SDK v2)", "(vonage_verify/"),
    ("pydantic validate_call", "(pydantic/_internal/_validate_call.py"),
    ("requests / urllib3", "send (requests/sessions.py"),
    ("phonenumbers", "(phonenumbers/"),
    ("token signing", "(jwt/"),
    ("logging", "(logging/"),
    ("metrics", "(prometheus_client/"),
    ("JSON", "(json/"),
    ("gunicorn access log", "access (gunicorn/glogging.py"),
    ("gunicorn request parsing", "(gunicorn/http/"),
    ("gevent hub (waiting, switching)", "run (gevent/hub.py"),
]


def main() -> None:
    args = sys.argv[1:]
    check = args[:1] == ["check"]
    args = args[1:] if check else args
    latency = int(args[0]) if args else 50
    conns = int(args[1]) if len(args) > 1 else 32
    sim = harness.Sim()
    sim.config(latency_ms=latency, enforce_concurrency=False, log_calls=False, max_wrong=10**9)
    os.environ["SUT_GUNICORN_ARGS"] = "--workers 1"
    bench.flush_redis()  # an earlier run's verifications of the same numbers would answer 409
    server = harness.Server("project", sim, Path(tempfile.mkdtemp()))
    raw = Path(tempfile.mkdtemp()) / ("check-otp.txt" if check else "request-otp.txt")
    try:
        worker = int(subprocess.run(["pgrep", "-P", str(server.proc.pid)], capture_output=True,
                                    text=True).stdout.split()[0])
        script, env = SHARED / "request.lua", dict(os.environ)
        if check:
            with ThreadPoolExecutor(32) as pool:
                answers = list(pool.map(lambda i: server.post("/request-otp", {"phoneNumber": f"+1415990{i:04d}"}),
                                        range(3000)))
            env["IDS"] = str(raw.with_name("ids.txt"))
            Path(env["IDS"]).write_text("".join(a.json()["verificationId"] + "\n" for a in answers))
            script = ROOT / "bench" / "check_ids.lua"
        load = subprocess.Popen(["wrk", "-t2", f"-c{conns}", f"-d{SECS + 2}s", "--timeout", "10s", "-s", str(script),
                                 server.base], stdout=subprocess.PIPE, text=True, env=env)
        time.sleep(1)
        subprocess.run([str(ROOT / ".venv" / "bin" / "py-spy"), "record", "--pid", str(worker), "--duration",
                        str(SECS), "--rate", "200", "--format", "raw", "--output", str(raw), "--nonblocking"],
                       check=True, capture_output=True)
        out = load.communicate()[0]
        print(next((line for line in out.splitlines() if line.startswith("JSON ")), out))
    finally:
        server.stop()
        sim.stop()
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():  # a frame whose name spans lines (py-spy prints some objects' repr)
            continue
        total += int(n)
        for label, needle in PARTS:
            if needle in stack:
                counts[label] += int(n)
    print(f"{total} samples of one worker, {SECS} s, {conns} connections, Vonage {latency} ms; stacks in {raw}")
    for label, _ in PARTS:
        print(f"{100 * counts[label] / max(total, 1):5.1f} %  {label}")


if __name__ == "__main__":
    main()
