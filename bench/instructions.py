#!/usr/bin/env python3
"""Instructions per /request-otp (or per wrong-code /check-otp), counted by valgrind's callgrind: a CPU cost
that machine noise does not move.

Runs the app in-process under gevent, as gunicorn.conf.py's workers do (Flask's test client, Redis store,
limits on, JSON logs to /dev/null) against the shared Vonage simulator, once with N requests and once with
none; the difference over N is the cost of one request, Python and C libraries included (not Redis's or
the simulator's, nor the kernel's: a round trip's system calls count for little here). Use it to compare
two versions of the code: the same number twice means nothing changed.

usage (from the project root, with ../shared, node and valgrind present):
  .venv/bin/python bench/instructions.py            # prints instructions/request
  .venv/bin/python bench/instructions.py check      # a wrong-code check by verificationId (both runs start
                                                    # the same verifications; one checks N of them too)
  RATELIMIT=false .venv/bin/python bench/instructions.py
  FLOOR=2 .venv/bin/python bench/instructions.py [check]   # bench/floor.py's bare Flask app (the SDK call and
                                                    # FLOOR Redis round trips) in place of the service
  FLOOR=3 FLOOR_DUTIES=1 .venv/bin/python bench/instructions.py [check]  # ... whose start also counts a
                                                    # limit (one of the trips), parses, validates and screens
                                                    # the number, logs one JSON line and counts metrics; its
                                                    # check all of that but the number's part
"""
import os
import sys

if sys.argv[1:2] == ["--inside"]:
    # As gunicorn.conf.py does for every worker: sockets, ssl and time cooperative, before anything imports them.
    from gevent import monkey

    monkey.patch_all()

import logging  # noqa: E402
import re  # noqa: E402
import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT.parent / "shared" / "bench"))
import harness  # noqa: E402

N = 200


def requests_in_process(port: int, count: int, first: int, checks: bool) -> None:
    sys.path.insert(0, str(ROOT))
    from app.logs import configure_logging

    configure_logging("json")
    logging.getLogger().handlers[0].setStream(open(os.devnull, "w"))
    limits = "100000/minute"
    if os.environ.get("FLOOR"):
        # bench/floor.py's bare Flask app with FLOOR round trips a request, in place of the service.
        from floor import BARE_APP

        os.environ.update(FLOOR_FLASK="1", FLOOR_REDIS_TRIPS=os.environ["FLOOR"], VONAGE_API_KEY=harness.KEY,
                          VONAGE_API_SECRET=harness.SECRET, VONAGE_API_HOST=f"127.0.0.1:{port}")
        floor: dict = {"__name__": "floor_app"}
        exec(compile(BARE_APP, "floor_app", "exec"), floor)
        app = floor["app"]
    else:
        app = service(port, limits)
    client = app.test_client()
    ids = []
    for i in range(30 + (N if checks else count)):  # the first 30 warm caches and connections in both runs
        answer = client.post("/request-otp", json={"phoneNumber": f"+1201{first + i:07d}"})
        assert answer.status_code == 200, answer.data
        ids.append(answer.json["verificationId"])
    for verification_id in ids[:30 + count] if checks else []:
        answer = client.post("/check-otp", json={"verificationId": verification_id, "code": "000000"})
        assert answer.status_code == 401, answer.data


def service(port: int, limits: str):
    from app import create_app

    return create_app(dict(
        VONAGE_API_KEY=harness.KEY, VONAGE_API_SECRET=harness.SECRET, VONAGE_API_HOST=f"127.0.0.1:{port}",
        OTP_TOKEN_PRIVATE_KEY=harness.token_key_pem(), OTP_TOKEN_ISSUER=harness.TOKEN_ISSUER,
        OTP_STORE_URL="redis://127.0.0.1:6379/15", OTP_RESEND_COOLDOWN="0",
        OTP_RATELIMIT_ENABLED=os.environ.get("RATELIMIT", "true"), OTP_RATELIMIT_REQUEST_IP=limits,
        OTP_RATELIMIT_REQUEST_NUMBER=limits, OTP_RATELIMIT_REQUEST_NUMBER_TOTAL=limits, OTP_RATELIMIT_COUNTRY=limits,
        OTP_RATELIMIT_PREFIX=limits, OTP_RATELIMIT_GLOBAL=limits, OTP_RATELIMIT_KEY=limits,
        OTP_RATELIMIT_CHECK_IP=limits, OTP_RATELIMIT_CHECK_NUMBER=limits, OTP_RATELIMIT_REQUEST_NETWORK=limits,
        OTP_RATELIMIT_SPEND_CAP=limits))


def counted(port: int, count: int, first: int, checks: bool) -> int:
    env = dict(os.environ, REQUESTS_CA_BUNDLE=str(harness.CERT))
    out = subprocess.run(["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null", sys.executable, __file__,
                          "--inside", str(port), str(count), str(first), str(int(checks))],
                         capture_output=True, text=True, env=env)
    if out.returncode != 0:
        raise RuntimeError(out.stderr[-3000:])
    return int(re.search(r"Collected : (\d+)", out.stderr).group(1))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--inside"]:
        port, count, first, checks = (int(a) for a in sys.argv[2:6])
        requests_in_process(port, count, first, bool(checks))
        sys.exit(0)
    checks = sys.argv[1:2] == ["check"]
    sim = harness.Sim()
    sim.config(log_calls=False, enforce_concurrency=False, max_wrong=10**9)
    try:
        idle, busy = counted(sim.port, 0, 2000000, checks), counted(sim.port, N, 3000000, checks)
    finally:
        sim.stop()
        subprocess.run(["redis-cli", "-n", "15", "flushdb"], capture_output=True)
    print(f"instructions/{'check' if checks else 'request'}: {(busy - idle) // N}")
