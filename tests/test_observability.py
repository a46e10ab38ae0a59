"""Request ids, one JSON log line per event, and Prometheus metrics."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from app.logs import make_handler

from .conftest import NUMBER, FakeVonage, MakeApp


def test_a_proxys_request_id_is_echoed(client: FlaskClient) -> None:
    assert client.get("/healthz", headers={"X-Request-ID": "edge-7f3a.1"}).headers["X-Request-ID"] == "edge-7f3a.1"


@pytest.mark.parametrize("given", [None, "", "has spaces", "x" * 129, "<script>"])
def test_a_missing_or_unusable_request_id_is_replaced(client: FlaskClient, given: str | None) -> None:
    headers = {"X-Request-ID": given} if given is not None else {}

    answered = client.get("/nowhere", headers=headers).headers["X-Request-ID"]

    assert re.fullmatch(r"[0-9a-f]{32}", answered)


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """What the JSON handler writes, for the duration of a test."""
    stream = io.StringIO()
    handler = make_handler("json")
    handler.setStream(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield stream
    root.removeHandler(handler)
    root.setLevel(level)


def test_each_event_is_one_json_line_with_the_request_id(client: FlaskClient, vonage: FakeVonage,
                                                         json_lines: io.StringIO) -> None:
    vonage.start("ok")
    vonage.check("wrong")
    vonage.raw("check", status=503, body="down")  # refused: nothing checked, nothing to ask about after
    vonage.check("ok")

    sent = client.post("/request-otp", json={"phoneNumber": NUMBER}, headers={"X-Request-ID": "req-in-1"})
    for code in ("111111", "222222", "333333"):
        client.post("/check-otp", json={"phoneNumber": NUMBER, "code": code})

    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]
    events = [(line.get("event"), line.get("outcome")) for line in lines if line.get("event")]
    assert events == [("verification", "started"), ("code_checked", "wrong_code"), ("vonage_error", None),
                      ("verification_ended", "approved")]
    started = lines[[e for e, _ in events].index("verification")]
    assert started["request_id"] == sent.headers["X-Request-ID"] == "req-in-1"
    assert started["number"] == "+1415*****71"
    assert started["level"] == "INFO"
    assert isinstance(started["vonage_ms"], float)
    # What Vonage support asks for, and who asked: the client's address, the provider and its request id.
    assert (started["provider"], started["provider_request_id"], started["channel"]) == ("vonage", "req-0001", "sms")
    assert started["client"] == "127.0.0.1" and started["country"] == "US"
    ended = next(line for line in lines if line.get("event") == "verification_ended")
    assert (ended["provider_request_id"], ended["client"], ended["checks"], ended["deliveries"]) == (
        "req-0001", "127.0.0.1", 3, 1)
    assert abs(datetime.fromisoformat(started["ts"]) - datetime.now().astimezone()) < timedelta(minutes=1)
    assert datetime.fromisoformat(started["ts"]).utcoffset() == timedelta(0)
    vonage_error = next(line for line in lines if line.get("event") == "vonage_error")
    assert vonage_error["vonage_status"] == "http_503" and vonage_error["level"] == "WARNING"
    text = json_lines.getvalue()
    for secret in ("111111", "222222", "333333", NUMBER):
        assert secret not in text


def test_rate_limit_hits_are_logged_as_events(settings: dict[str, str], vonage: FakeVonage,
                                              json_lines: io.StringIO, make_app: MakeApp) -> None:
    client = make_app({**settings, "OTP_RESEND_COOLDOWN": "30"}).test_client()
    vonage.start("ok")

    client.post("/request-otp", json={"phoneNumber": NUMBER})
    client.post("/request-otp", json={"phoneNumber": NUMBER})

    [hit] = [json.loads(line) for line in json_lines.getvalue().splitlines() if '"rate_limited"' in line]
    assert hit["scope"] == "send-cooldown"
    assert NUMBER not in json_lines.getvalue()


def test_text_lines_carry_the_request_id() -> None:
    stream = io.StringIO()
    handler = make_handler("text")
    handler.setStream(stream)
    record = logging.LogRecord("app.lifecycle", logging.INFO, __file__, 1, "verification %s", ("started",), None)

    handler.handle(record)

    assert re.search(r" INFO app\.lifecycle \[-\] verification started$", stream.getvalue().strip())


def _samples(client: FlaskClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    resp = client.get("/metrics")
    assert resp.status_code == 200
    assert resp.mimetype == "text/plain"
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(resp.get_data(as_text=True)) for s in family.samples}


def _value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_metrics_answer_prometheus_own_content_type(client: FlaskClient) -> None:
    from prometheus_client import CONTENT_TYPE_LATEST

    assert client.get("/metrics").headers["Content-Type"] == CONTENT_TYPE_LATEST  # one charset, not two


def test_metrics_count_requests_outcomes_limits_and_vonage(app: Flask, vonage: FakeVonage) -> None:
    client = app.test_client()
    before = _samples(client)
    vonage.start("ok")
    vonage.check("wrong")
    vonage.check("ok")

    client.post("/request-otp", json={"phoneNumber": NUMBER})
    client.post("/check-otp", json={"phoneNumber": NUMBER, "code": "111111"})
    client.post("/check-otp", json={"phoneNumber": NUMBER, "code": "222222"})
    store = app.extensions["otp_store"]
    for _ in range(3):  # 3 sends per 10 minutes per number: two more are sent, the last is refused
        sent = client.post("/request-otp", json={"phoneNumber": NUMBER})
        if sent.status_code == 200:  # used up at once: one verification per number is pending at a time
            store.delete(store.get(sent.json["verificationId"]), "approved")
    after = _samples(client)

    def grew(name: str, **labels: str) -> float:
        return _value(after, name, **labels) - _value(before, name, **labels)

    # The destination's country on started and approved: their ratio is the SMS-pumping signal.
    by = {"country": "US", "channel": "sms", "provider": "vonage"}
    assert grew("otp_verifications_total", outcome="started", **by) == 3
    assert grew("otp_verifications_total", outcome="wrong_code", **by) == 1
    assert grew("otp_verifications_total", outcome="approved", **by) == 1  # the store deletes above are no ends of ours
    assert grew("otp_rate_limit_hits_total", endpoint="otp.request_otp", scope="send-number") == 1
    assert grew("otp_http_requests_total", endpoint="otp.check_otp", method="POST", status="401", caller="") == 1
    wrong_status = "16" if vonage.api == "legacy" else "http_400"
    # A person's typo is the provider's answer about the person, not a fault: an alert on faults never sees it.
    assert grew("otp_provider_refusals_total", provider="vonage", operation="check", status=wrong_status) == 1
    assert grew("otp_provider_errors_total", provider="vonage", operation="check", status=wrong_status) == 0
    assert grew("otp_provider_latency_seconds_count", provider="vonage", operation="start") == 3
    assert grew("otp_http_request_duration_seconds_count", endpoint="otp.request_otp") == 4


def test_made_up_methods_add_no_metric_series(app: Flask) -> None:
    client = app.test_client()
    client.get("/healthz")
    before = client.get("/metrics").get_data(as_text=True)

    for i in range(50):
        client.open("/healthz", method=f"BREW{i}")

    after = client.get("/metrics").get_data(as_text=True)
    assert "BREW" not in after
    assert 'method="other"' in after
    assert after.count("otp_http_requests_total{") <= before.count("otp_http_requests_total{") + 3
