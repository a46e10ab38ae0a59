#!/usr/bin/env python3
"""A Vonage outage with Twilio as the second provider: what it costs the people who log in meanwhile.

Phases, one person (number) per start, one after another: Vonage healthy; Vonage refusing connections
(its simulator stopped); Vonage answering HTTP 503 (restarted on the same port with that fault, past the
breaker's cooldown so that its trial fails); Vonage healthy again (past another cooldown). For each phase:
the answers, their latency, and the codes each person was sent (by both simulators: never more than one).

usage (from the project root, with ../shared present): .venv/bin/python bench/failover_outage.py
"""
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "bench"
sys.path.insert(0, str(SHARED))
import harness  # noqa: E402

PER_PHASE, COOLDOWN = 20, 5


def codes_sent(vonage: harness.Sim, twilio: harness.TwilioSim, number: str, vonage_up: bool) -> int:
    return int(vonage_up and vonage.code(number) is not None) + int(twilio.code(number) is not None)


def phase(name: str, srv: harness.Server, vonage: harness.Sim, twilio: harness.TwilioSim, first: int,
          vonage_up: bool) -> None:
    statuses, latencies, codes = [], [], []
    for i in range(first, first + PER_PHASE):
        number = f"+1415{200 + i:03d}2671"
        started = time.perf_counter()
        answer = srv.post("/request-otp", {"phoneNumber": number})
        latencies.append((time.perf_counter() - started) * 1000)
        statuses.append(answer.status_code)
        codes.append(codes_sent(vonage, twilio, number, vonage_up))
    metrics = __import__("requests").get(srv.base + "/metrics", timeout=5).text
    failovers = {f"{m[1]}:{m[0]}": float(m[2]) for m in re.findall(
        r'otp_failovers_total\{from_provider="vonage",reason="(\w+)",to_provider="(\w+)"\} (\S+)', metrics)}
    ready = __import__("requests").get(srv.base + "/readyz", timeout=5).json()
    latencies.sort()
    print(json.dumps({"phase": name, "statuses": {s: statuses.count(s) for s in set(statuses)},
                      "codes_per_person": {c: codes.count(c) for c in set(codes)},
                      "p50_ms": round(latencies[len(latencies) // 2], 1), "max_ms": round(latencies[-1], 1),
                      "slow_answers_over_100ms": sum(1 for t in latencies if t > 100),
                      "failovers_so_far": failovers, "readyz": ready.get("providers")}))


def main() -> None:
    vonage, twilio = harness.Sim(), harness.TwilioSim()
    subprocess.run(["redis-cli", "-n", "15", "flushdb"], capture_output=True)
    srv = harness.Server("project", vonage, Path(tempfile.mkdtemp()), extra_env={
        "OTP_PROVIDER": "vonage,twilio", "OTP_FAILOVER_COOLDOWN": str(COOLDOWN), **twilio.env()})
    try:
        phase("vonage_healthy", srv, vonage, twilio, 0, True)
        port = vonage.port
        vonage.stop()
        phase("vonage_refusing_connections", srv, vonage, twilio, PER_PHASE, False)
        time.sleep(COOLDOWN + 1)
        harness.free_port = lambda: port  # the same host and port the service was given
        vonage = harness.Sim()
        vonage.config(fail="http503")
        phase("vonage_http_503", srv, vonage, twilio, 2 * PER_PHASE, True)
        vonage.config(fail=None)
        time.sleep(COOLDOWN + 1)
        phase("vonage_back", srv, vonage, twilio, 3 * PER_PHASE, True)
    finally:
        srv.stop()
        vonage.stop()
        twilio.stop()


if __name__ == "__main__":
    main()
