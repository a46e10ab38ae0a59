#!/usr/bin/env python3
"""Each gunicorn worker's resident memory after the slow-Vonage load (1000 ms, 256 connections, 10 s), with
Twilio configured as the second provider (OTP_PROVIDER=vonage,twilio: both SDKs loaded in every worker).

usage (from the project root): .venv/bin/python bench/rss_under_load.py   (needs ../shared/bench, node, wrk)
"""
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT.parent / "shared" / "bench"))
import harness  # noqa: E402

import bench  # noqa: E402


def rss_mb(master: int) -> list[float]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(line.split()[1]) / 1024 for pid in children
            for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS:")]


if __name__ == "__main__":
    sim, twilio = harness.Sim(), harness.TwilioSim()
    try:
        sim.config(latency_ms=1000, log_calls=False, enforce_concurrency=False)
        bench.flush_redis()
        env = {"QUIET": "1", "OTP_PROVIDER": "vonage,twilio", **twilio.env()}
        server = harness.Server("project", sim, Path(tempfile.mkdtemp()), extra_env=env, project_dir=ROOT)
        try:
            time.sleep(0.5)
            result = bench.wrk(server.base, "request.lua", 256, 10)
            sizes = rss_mb(server.proc.pid)
            print(f"rps {result['rps']}, non-2xx {result['non2xx']}; worker RSS after the load, MB: "
                  + ", ".join(f"{s:.1f}" for s in sizes))
        finally:
            server.stop()
    finally:
        sim.stop()
        twilio.stop()
