#!/usr/bin/env python3
"""The floor under /request-otp and /check-otp: the seed beside a bare WSGI app that does nothing but the Vonage call.

The bare app runs under gunicorn with the service's worker class and processes, and calls Vonage
through the service's own wrapper (app.providers.vonage_legacy.VonageLegacyProvider: the SDK, requests, TLS). It has no
Flask, no validation, no rate limits, no store, no logs and no metrics, so no version of the service can
be faster than it: it measures what the SDK and gunicorn cost before the service does any work of its own.

With ``--trips N`` a third target, bare-sdk+N, also makes N Redis round trips per request (a pipeline of an
HSET and an EXPIRE each, through the service's own client: app.store.redis_client, gevent's sockets): the
start and the check each need at least two (the verification held before the provider is asked, its
answer recorded after), so bare-sdk+2 is the floor under any version of the service that keeps its
promises on a shared Redis. With its limits counted by `limits` (its own Lua scripts, which no script of
the store's can run) each needs a third: a start's limits and budgets before its reservation (a send a
limit refuses must not hold the number), a check's before its hold (they need the number the
verification's record names).

With ``--flask`` the same calls are also made from two routes of a bare Flask app (bare-flask, and
bare-flask+N with ``--trips``): the service is a Flask API, so this is the floor under any version of it
that keeps the framework, before its own parsing, limits, logs, metrics and answers.

With ``FLOOR_DUTIES=1`` in the environment, the bare Flask app's start also does, once each and the plainest
way, what every start must: its caller's limit counted by `limits` (in place of one of the N round trips), the
number parsed, validated and screened, one JSON event line, a request counter and a latency histogram. Its
check does the same but the number's part: the caller's limit, one event line for the wrong code, the two
metrics (``bench/instructions.py`` counts that app with ``FLOOR=N FLOOR_DUTIES=1 ... [check]``).

All are measured as ../shared/bench/bench.py measures them (its own load and check phase: the same wrk
scripts, cpu_ms_per_req over every process of the server's session), so its lines sit beside bench.py's.
A start answers the request id as the verificationId; a check sends the wrong code to Vonage and answers 401.

usage (from the project root, with ../shared, node and wrk present):
  .venv/bin/python bench/floor.py [--secs S] [--pool N] [--trips N] [--latency MS] [--conns N] [--request-only]
                                [--flask]
"""
import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "bench"
sys.path.insert(0, str(SHARED))
import harness  # noqa: E402

import bench  # noqa: E402 - ../shared/bench/bench.py: its load() and check phase

BARE_APP = '''
import json, os, time
from vonage_http_client import Auth
from app.providers.vonage_legacy import VonageLegacyProvider
from app.store import Pending
from app.store.redis_client import connect

TRIPS = int(os.environ.get("FLOOR_REDIS_TRIPS") or 0)
store = connect(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"), 2.0) if TRIPS else None


def trips(key, count):
    for n in range(count):
        pipe = store.pipeline(transaction=False)
        pipe.hset(key, mapping={"number": key, "trip": n})
        pipe.expire(key, 60)
        pipe.execute()

verifier = VonageLegacyProvider(
    auth=Auth(api_key=os.environ["VONAGE_API_KEY"], api_secret=os.environ["VONAGE_API_SECRET"]),
    api_host=os.environ["VONAGE_API_HOST"], timeout=3, brand="Verify", code_length=6, pin_expiry=300, workflow_id=1)


def answer(start_response, status, body):
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def app(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":  # the harness's readiness probe
        start_response("404 Not Found", [("Content-Length", "0")])
        return [b""]
    body = json.loads(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)))
    before, after = (TRIPS + 1) // 2, TRIPS // 2
    if environ["PATH_INFO"] == "/check-otp":
        rid = body["verificationId"]
        trips("floor:" + rid, before)
        try:
            verifier.check(Pending(id=rid, number="", request_id=rid), body["code"])
        except Exception:  # the wrong code, as every check of the benchmark sends
            trips("floor:" + rid, after)
            return answer(start_response, "401 Unauthorized", {"error": "wrong code", "code": "wrong_code"})
        return answer(start_response, "200 OK", {"verified": True})
    trips("floor:" + body["phoneNumber"], before)
    request_id = verifier.start(body["phoneNumber"])
    trips("floor:" + request_id, after)
    return answer(start_response, "200 OK", {"verificationId": request_id, "phoneNumber": body["phoneNumber"]})


if os.environ.get("FLOOR_DUTIES"):
    # What any version of the service does for a start, each once, the plainest way with the libraries it
    # uses: its caller's limit, the number parsed, validated and screened (its region and type), one JSON event
    # line, and a request counter and latency histogram; for a check, all of it but the number's part.
    import logging
    import phonenumbers
    from prometheus_client import Counter, Histogram
    from app.logs import configure_logging

    from limits import parse as parse_limit
    from limits.storage import storage_from_string
    from limits.strategies import MovingWindowRateLimiter

    configure_logging("json")
    event_log = logging.getLogger("floor")
    # One of the round trips is the caller's limit, counted by `limits` (its moving window's own script).
    limiter = MovingWindowRateLimiter(storage_from_string(os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")))
    per_caller = parse_limit("100000/minute")
    started_total = Counter("floor_requests", "Requests.", ["endpoint", "status"])
    latency = Histogram("floor_request_seconds", "Time to answer.", ["endpoint"])


def limited(action, caller):
    """The round trips the caller's limit made (with FLOOR_DUTIES): one, the limit's own."""
    if not (os.environ.get("FLOOR_DUTIES") and TRIPS):
        return 0
    if not limiter.hit(per_caller, action, caller):
        raise ValueError("rate limited")
    return 1


def counted(endpoint, status, began, message, *args, **extra):
    """The event line and the two metrics of an answered request (with FLOOR_DUTIES)."""
    if os.environ.get("FLOOR_DUTIES"):
        event_log.info(message, *args, extra=extra)
        started_total.labels(endpoint, status).inc()
        latency.labels(endpoint).observe(time.perf_counter() - began)


def duties(raw, caller):
    """The number in E.164 after the duties above (with FLOOR_DUTIES), and the round trips they made."""
    if not os.environ.get("FLOOR_DUTIES"):
        return raw, 0
    began = time.perf_counter()
    made = limited("send-ip", caller)
    number = phonenumbers.parse(raw, None)
    if not phonenumbers.is_valid_number(number):
        raise ValueError("invalid number")
    region, kind = phonenumbers.region_code_for_number(number), phonenumbers.number_type(number)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    counted("request_otp", "200", began, "verification started for %s", e164[:5] + "*****" + e164[-2:],
            event="verification", country=region, kind=int(kind))
    return e164, made


if os.environ.get("FLOOR_FLASK"):
    # The same two calls as routes of a bare Flask app: the framework the service is built on, with its
    # request and app contexts, JSON parsing and answers, and nothing of the service's own.
    from flask import Flask, jsonify, request

    app = Flask(__name__)

    @app.post("/request-otp")
    def request_otp():
        number, made = duties(request.get_json()["phoneNumber"], request.remote_addr or "")
        trips("floor:" + number, (TRIPS + 1) // 2 - made)
        request_id = verifier.start(number)
        trips("floor:" + request_id, TRIPS // 2)
        return jsonify(verificationId=request_id, phoneNumber=number)

    @app.post("/check-otp")
    def check_otp():
        began = time.perf_counter()
        body = request.get_json()
        rid = body["verificationId"]
        trips("floor:" + rid, (TRIPS + 1) // 2 - limited("check-ip", request.remote_addr or ""))
        try:
            verifier.check(Pending(id=rid, number="", request_id=rid), body["code"])
        except Exception:  # the wrong code, as every check of the benchmark sends
            trips("floor:" + rid, TRIPS // 2)
            counted("check_otp", "401", began, "code_checked wrong_code for %s", rid[:6],
                    event="code_checked", outcome="wrong_code")
            return jsonify(error="wrong code", code="wrong_code"), 401
        return jsonify(verified=True)
'''


def bare_checkout() -> Path:
    """A directory that gunicorn runs as a project checkout: BARE_APP as its wsgi.py, with the project's
    .venv and app (the provider wrapper and the Redis client it uses)."""
    bare = Path(tempfile.mkdtemp())
    (bare / "wsgi.py").write_text(BARE_APP)
    (bare / ".venv").symlink_to(ROOT / ".venv")
    (bare / "app").symlink_to(ROOT / "app")
    return bare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--secs", type=int, default=10)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--latency", type=int, default=50)
    ap.add_argument("--pool", type=int, default=6000)
    ap.add_argument("--trips", type=int, default=0, help="also measure the bare app with N Redis round trips a request")
    ap.add_argument("--request-only", action="store_true", help="measure /request-otp only (skip the check phase)")
    ap.add_argument("--flask", action="store_true", help="also measure the same calls as a bare Flask app's routes "
                                                          "(with --trips, with the round trips too)")
    a = ap.parse_args()
    a.probe = False
    # The same worker class and processes as gunicorn.conf.py (gevent, two per core).
    workers = os.environ.get("WEB_CONCURRENCY") or str(2 * len(os.sched_getaffinity(0)))
    bare = bare_checkout()
    os.environ["SUT_GUNICORN_ARGS"] = f"--worker-class gevent --workers {workers} --worker-connections 1000"
    sim = harness.Sim()
    try:
        targets = [("seed", "seed", None, 0, ""), ("bare-sdk", "project", bare, 0, "")]
        if a.trips:
            targets.append((f"bare-sdk+{a.trips}", "project", bare, a.trips, ""))
        if a.flask:
            targets.append(("bare-flask", "project", bare, 0, "1"))
            if a.trips:
                targets.append((f"bare-flask+{a.trips}", "project", bare, a.trips, "1"))
        for name, kind, directory, count, flask in targets:
            sim.reset()
            sim.config(latency_ms=a.latency, log_calls=False, enforce_concurrency=False, max_wrong=10**9)
            bench.flush_redis()
            srv = harness.Server(kind, sim, bare, extra_env={"QUIET": "1", "FLOOR_REDIS_TRIPS": str(count),
                                                                       "FLOOR_FLASK": flask},
                                 project_dir=directory)
            try:
                time.sleep(0.5)
                common = dict(target=name, latency_ms=a.latency, conns=a.conns)
                print(json.dumps(dict(common, endpoint="request-otp", **bench.load(srv, "request.lua", a))), flush=True)
                if a.request_only:
                    continue
                bodies = bare / f"check-bodies-{name}.jsonl"
                bodies.write_text(bench.pending_checks(srv, a.pool))
                r = bench.load(srv, "check.lua", a, {"BODIES": str(bodies)})
                print(json.dumps(dict(common, endpoint="check-otp-wrong-code", **r)), flush=True)
            finally:
                srv.stop()
    finally:
        sim.stop()


if __name__ == "__main__":
    main()
