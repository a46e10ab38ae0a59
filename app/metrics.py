"""Prometheus metrics (prometheus_client); multiprocess mode when gunicorn.conf.py sets its directory."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

# caller: the name of the API key that authenticated the request ('' without one): a bounded set, the
# names in OTP_API_KEYS.
REQUESTS = Counter("otp_http_requests", "HTTP requests answered.", ["endpoint", "method", "status", "caller"])
REQUEST_LATENCY = Histogram("otp_http_request_duration_seconds", "Time to answer an HTTP request.", ["endpoint"],
                            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
# Every event and end of a verification, by the destination's ISO code (ZZ for none), the channel of its
# latest delivery and its provider: conversion (approved / started) by country, channel and provider is a
# query. Each label takes a bounded set of values.
VERIFICATIONS = Counter("otp_verifications", "Verification events and ends: started, resent, moved, wrong_code, "
                        "in_progress, unknown, failed; ends: approved, expired, too_many_attempts, cancelled.",
                        ["outcome", "country", "channel", "provider"])
# Error answers by their machine code ({"error", "code"}): a bounded set, the codes the OpenAPI document lists.
ERRORS = Counter("otp_errors", "Error answers, by endpoint and the answer's code.", ["endpoint", "code"])
RATE_LIMITED = Counter("otp_rate_limit_hits", "Requests refused by a rate limit, by the limit's scope.",
                       ["endpoint", "scope"])
# A send past a shared budget: asked for a challenge (428), or let through with a solution or a CAPTCHA.
CHALLENGES = Counter("otp_challenges", "Sends past a shared budget, by budget, outcome (asked, failed: a solution "
                     "refused, solved) and destination country.", ["budget", "outcome", "country"])
# Deliveries in the shared budgets: taken (may have gone out), converted (typed back: slots given back),
# unsent (the provider certainly sent nothing: given back). Unconverted = taken - converted - unsent.
DELIVERIES = Counter("otp_budget_deliveries", "Deliveries counted in the shared budgets, by event (taken, "
                     "converted, unsent) and destination country.", ["event", "country"])
# Calls to each provider (vonage, twilio, console) and their failures, by the provider's status.
PROVIDER_LATENCY = Histogram("otp_provider_latency_seconds", "Duration of provider API calls.",
                             ["provider", "operation"], buckets=(0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
PROVIDER_ERRORS = Counter("otp_provider_errors", "Provider calls that failed (faults: unreachable, slow, refusing "
                          "the account, unusable answers), by provider, operation and the provider's status.",
                          ["provider", "operation", "status"])
# The provider's answers about the person, not about itself: a wrong code, an expired code, too many tries, a
# verification in progress, a number it does not serve. Counted apart, so that an alert on faults never pages
# on typos.
PROVIDER_REFUSALS = Counter("otp_provider_refusals", "Provider calls answered with the person's outcome (wrong "
                            "code, expired, too many attempts, in progress, number refused), by provider, operation "
                            "and the provider's status.", ["provider", "operation", "status"])
# Starts (and moved resends) that went to another provider than the first they would have used; reason:
# the first one's error code, or open (its breaker skipped it).
FAILOVERS = Counter("otp_failovers", "Starts made on another provider, by the provider skipped, the one used "
                    "and why.", ["from_provider", "to_provider", "reason"])
# 1 for each provider's current breaker state (closed, open, half_open), 0 for the others; the latest value
# any worker saw wins.
PROVIDER_STATE = Gauge("otp_provider_state", "Each provider's breaker state for new starts (1 = current).",
                       ["provider", "state"], multiprocess_mode="mostrecent")

BUILD_INFO = Gauge("otp_build_info", "The running service's version (always 1).", ["version"],
                   multiprocess_mode="max")

# The duration of the last provider call made in this context (greenlet or thread), for the log line that
# reports on it (its field is still named vonage_ms).
last_provider_ms: ContextVar[float | None] = ContextVar("last_provider_ms", default=None)


# Which limits can refuse each verb (otp_rate_limit_hits_total's series made at startup).
SEND_SCOPES = ("send-ip", "api-key", "refused-ip", "send-number", "send-number-total", "send-cooldown",
               "send-spend-cap")
CHECK_SCOPES = ("check-ip", "api-key", "refused-ip", "check-number")
VERBS = {"otp.request_otp": SEND_SCOPES, "otp.resend_otp": SEND_SCOPES, "otp.check_otp": CHECK_SCOPES,
         "otp.cancel_otp": CHECK_SCOPES}


def preinitialise(version: str, providers: Mapping[str, Sequence[str]], countries: Collection[str] = ()) -> None:
    """Make the series whose label values are known at startup, at zero, so that a rate over them is 0 from
    the first scrape (a series that appears with its first event hides that event from rate() and increase()),
    and say which version runs. ``providers``: each one's channels; ``countries``: the allowlist, when there is
    one (the only case where the countries are known)."""
    BUILD_INFO.labels(version).set(1)
    for country in countries:
        for provider, channels in providers.items():
            for outcome in ("started", "approved", "expired"):
                VERIFICATIONS.labels(outcome, country, channels[0], provider)
        for event in ("taken", "converted", "unsent"):
            DELIVERIES.labels(event, country)
    for endpoint, scopes in VERBS.items():
        for scope in scopes:
            RATE_LIMITED.labels(endpoint, scope)
    for provider in providers:
        for operation in ("start", "check"):
            PROVIDER_LATENCY.labels(provider, operation)
        for other in providers:
            if other != provider:
                FAILOVERS.labels(provider, other, "open")


def exposition(multiprocess_dir: str | None) -> bytes:
    """The metrics in Prometheus text format: summed over every worker in multiprocess mode."""
    if not multiprocess_dir:
        return bytes(generate_latest(REGISTRY))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=multiprocess_dir)  # type: ignore[no-untyped-call]
    return bytes(generate_latest(registry))


def provider_call(provider: str, operation: str) -> AbstractContextManager[None]:
    """Time one call to ``provider``, whatever its outcome."""
    return _timed(PROVIDER_LATENCY.labels(provider, operation))


@contextmanager
def _timed(histogram: Histogram) -> Iterator[None]:
    """Observe the call's duration in ``histogram`` and keep it for the log line that reports on it."""
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        histogram.observe(elapsed)
        last_provider_ms.set(round(elapsed * 1000, 1))
