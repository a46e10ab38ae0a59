#!/usr/bin/env python3
"""Instructions per /request-otp and per wrong-code /check-otp in one gunicorn worker, counted by callgrind.

bench/instructions.py counts the app in-process through Flask's test client: gunicorn's own work is not
in it, and the service's access line is part of that (gunicorn builds and writes it). This script runs the
service as deployed (gunicorn.conf.py, one gevent worker, JSON logs, Redis store, limits on) under
valgrind against the shared Vonage simulator, sends it requests one at a time over a keep-alive
connection, and counts the worker process's instructions three times: after 30 starts and 30 checks
(warm-up), after N more starts, and after N more checks too. The differences over N are the cost of one
start and one check. With --floor it counts bench/floor.py's bare Flask app with three round trips and the
duties (FLOOR_DUTIES=1) under the same gunicorn instead. The same code's counts differ by about 1% between
runs (hash seeds, ids); compare two versions with --count 300.

usage (from the project root, with ../shared, node and valgrind present):
  .venv/bin/python bench/worker_instructions.py [--floor] [--count N]
"""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT.parent / "shared" / "bench"))
import harness  # noqa: E402
from floor import bare_checkout  # noqa: E402

WARM = 30


def worker_instructions(sim: harness.Sim, floor: bool, starts: int, checks: int) -> int:
    """The instructions of the worker process after WARM + ``starts`` starts and WARM + ``checks`` checks."""
    if floor:
        directory = bare_checkout()
        os.environ["SUT_GUNICORN_ARGS"] = "--worker-class gevent --workers 1 --worker-connections 1000 --timeout 900"
        extra = {"FLOOR_FLASK": "1", "FLOOR_REDIS_TRIPS": "3", "FLOOR_DUTIES": "1"}
    else:
        directory, extra = ROOT, {}
        os.environ["SUT_GUNICORN_ARGS"] = "--workers 1 --timeout 900"  # valgrind is slow: no heartbeat kills
    command, cwd, env_extra = harness.project_env(sim, directory)
    port = harness.free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VONAGE_", "OTP_", "FLASK_"))}
    env.update(VONAGE_API_KEY=harness.KEY, VONAGE_API_SECRET=harness.SECRET, PYTHONUNBUFFERED="1", **env_extra,
               **extra)
    out = Path(tempfile.mkdtemp())
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.%p",
                             *(c.format(port=port) for c in command)], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    base, session = f"http://127.0.0.1:{port}", requests.Session()
    try:
        deadline = time.time() + 300
        while not harness.wait_http(base + "/", timeout=1):
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("the server did not start under valgrind")
        first = int(time.time()) % 100_000 * 1000
        ids = []
        for i in range(WARM + starts):
            number = f"+1201{5_000_000 + (first + i) % 4_000_000}"  # a valid exchange (5-8xx)
            answer = session.post(base + "/request-otp", json={"phoneNumber": number}, timeout=60)
            assert answer.status_code == 200, answer.text
            ids.append(answer.json()["verificationId"])
        for verification_id in ids[:WARM + checks]:
            answer = session.post(base + "/check-otp", json={"verificationId": verification_id, "code": "000000"},
                                  timeout=60)
            assert answer.status_code == 401, answer.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # valgrind writes each process's counts as it exits
        try:
            proc.wait(120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # never leave a worker running under valgrind
            proc.wait()
    counts = {}
    for path in out.glob("callgrind.*"):
        found = re.search(r"^(?:summary|totals): (\d+)", path.read_text(errors="replace"), re.M)
        counts[int(path.name.rsplit(".", 1)[1])] = int(found.group(1)) if found else 0
    return counts[max(counts)]  # the worker: forked after the master


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--floor", action="store_true", help="count bench/floor.py's app with its duties instead")
    ap.add_argument("--count", type=int, default=100, help="starts and checks counted (beyond the warm-up)")
    a = ap.parse_args()
    sim = harness.Sim()
    sim.config(log_calls=False, enforce_concurrency=False, max_wrong=10**9)
    try:
        counts = []
        for starts, checks in ((0, 0), (a.count, 0), (a.count, a.count)):
            subprocess.run(["redis-cli", "-n", "15", "flushdb"], capture_output=True)
            counts.append(worker_instructions(sim, a.floor, starts, checks))
    finally:
        sim.stop()
        subprocess.run(["redis-cli", "-n", "15", "flushdb"], capture_output=True)
    print(f"instructions/start: {(counts[1] - counts[0]) // a.count}")
    print(f"instructions/check: {(counts[2] - counts[1]) // a.count}")


if __name__ == "__main__":
    main()
