#!/usr/bin/env python3
"""Wrong-code /check-otp throughput when every check reaches Vonage, beside /request-otp, in one run;
then the workers' memory.

The shared bench.py checks 200 pending numbers in a loop; this service ends a verification after five
checks, so most of those checks are answered 404 without a Vonage call. Here enough numbers are pending
that none is checked more than five times, so every check is a Vonage round trip.

usage (from the project root, with ../shared present): .venv/bin/python bench/check_every_call.py
"""
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "bench"
sys.path.insert(0, str(SHARED))
import harness  # noqa: E402

POOL = int(os.environ.get("POOL", "10000"))  # check.lua formats 4 digits: at most 10000 numbers
SECS, CONNS, LATENCY = 10, 64, 50


def wrk(url: str, script: str, env: dict[str, str]) -> dict:
    path = Path(__file__).resolve().parent / script if script == "check_ids.lua" else SHARED / script
    command = ["wrk", "-t2", f"-c{CONNS}", f"-d{SECS}s", "--timeout", "10s", "-s", str(path), url]
    out = subprocess.run(command, capture_output=True, text=True, env=dict(os.environ, **env)).stdout
    return json.loads(next(line[5:] for line in out.splitlines() if line.startswith("JSON ")))


def main() -> None:
    sim = harness.Sim()
    sim.config(latency_ms=LATENCY, log_calls=False, enforce_concurrency=False, max_wrong=10**9)
    subprocess.run(["redis-cli", "-n", "15", "flushdb"], capture_output=True)
    srv = harness.Server("project", sim, Path(tempfile.mkdtemp()))
    try:
        time.sleep(0.5)
        print(json.dumps(dict(endpoint="request-otp", **wrk(srv.base, "request.lua", {}))), flush=True)
        with ThreadPoolExecutor(32) as pool:
            answers = list(pool.map(lambda i: srv.post("/request-otp", {"phoneNumber": f"+1415990{i:04d}"}),
                                    range(POOL)))
        ids = [a.json()["verificationId"] for a in answers if a.status_code == 200]
        assert len(ids) == POOL, f"only {len(ids)} of {POOL} pending"
        # Checks name their verification by id (a number alone names none); each is checked at most
        # five times in a 10 s run, so every check reaches Vonage.
        ids_file = Path(tempfile.mkdtemp()) / "ids.txt"
        ids_file.write_text("\n".join(ids) + "\n")
        before = sim._get("stats").json()["check"]
        result = wrk(srv.base, "check_ids.lua", {"IDS": str(ids_file)})
        reached = sim._get("stats").json()["check"] - before
        print(json.dumps(dict(endpoint="check-otp-wrong-code-every-call", pool=POOL, reached_vonage=reached,
                              **result)), flush=True)
        workers = subprocess.run(["pgrep", "-P", str(srv.proc.pid)], capture_output=True, text=True).stdout.split()
        rss = [int(Path(f"/proc/{pid}/status").read_text().split("VmRSS:")[1].split()[0]) // 1024 for pid in workers]
        print(json.dumps({"worker_rss_mb_after_run": rss}), flush=True)
    finally:
        srv.stop()
        sim.stop()


if __name__ == "__main__":
    main()
