"""Failover across providers, at the lifecycle: which faults move a start on, the breaker, and routing by
the stored provider. The providers are scripted; tests/test_failover_http.py runs the real SDKs."""

from __future__ import annotations

import itertools
import logging

import pytest

from app import phone
from app.breaker import MemoryBreaker
from app.errors import (
    NumberNotSupportedError,
    OtpError,
    ProvidersUnavailableError,
    ProviderThrottledError,
    ProviderUnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
    VerificationInProgressError,
    WrongCodeError,
)
from app.lifecycle import Lifecycle
from app.lifecycle.results import Started

from .test_lifecycle import CALLER, PARSED, ScriptedProvider, lifecycle

NUMBERS = itertools.count()


def start(cycle: Lifecycle) -> Started:
    """A start to a number of its own (a second start to a number with a pending code is 409)."""
    return cycle.start(CALLER, phone.parse(f"+1415{200 + next(NUMBERS) % 700:03d}2671"), "", None)


# The faults after which the first provider certainly sent nothing, and those after which it may have.
DID_NOT_SEND = [UpstreamUnavailableError(), ProviderThrottledError(), ProviderUnavailableError(),
                UpstreamTimeoutError(may_have_sent=False)]  # a connect timeout
MAY_HAVE_SENT = [UpstreamTimeoutError(), UpstreamUnavailableError(may_have_sent=True), UpstreamError()]


def pair(*first_starts: str | OtpError, threshold: int = 5, cooldown: int = 30,
         second_starts: tuple[str | OtpError, ...] = ("rid-b1", "rid-b2", "rid-b3")
         ) -> tuple[Lifecycle, ScriptedProvider, ScriptedProvider]:
    first = ScriptedProvider(name="vonage", starts=list(first_starts), channels=("sms", "voice", "voice"))
    second = ScriptedProvider(name="twilio", lifetime=600, starts=list(second_starts), channels=("sms", "voice"))
    return lifecycle(first, second, breaker=MemoryBreaker(threshold, cooldown)), first, second


@pytest.mark.parametrize("fault", DID_NOT_SEND, ids=lambda e: type(e).__name__)
def test_a_start_the_first_provider_certainly_did_not_send_goes_to_the_next(fault: OtpError,
                                                                           caplog: pytest.LogCaptureFixture) -> None:
    cycle, first, second = pair(fault)

    with caplog.at_level(logging.INFO):
        answer = start(cycle)

    assert (first.calls, second.calls) == (["start"], ["start"])
    assert (answer.verification.provider, answer.verification.request_id) == ("twilio", "rid-b1")
    assert answer.expires_in == 600 and (answer.delivery.channel, answer.delivery.next_channel) == ("sms", "voice")
    assert cycle.store.get(answer.verification.id) == answer.verification
    events = [r for r in caplog.records if getattr(r, "event", "") == "provider_failover"]
    assert [(r.from_provider, r.to_provider, r.reason) for r in events] == [("vonage", "twilio", fault.code)]


@pytest.mark.parametrize("fault", MAY_HAVE_SENT, ids=lambda e: type(e).__name__)
def test_a_start_that_may_have_reached_the_provider_is_never_repeated_elsewhere(fault: OtpError) -> None:
    cycle, first, second = pair(fault)

    with pytest.raises(type(fault)):
        start(cycle)

    assert (first.calls, second.calls) == (["start"], [])


@pytest.mark.parametrize("refusal", [NumberNotSupportedError(), VerificationInProgressError()],
                         ids=lambda e: type(e).__name__)
def test_a_refusal_about_the_number_is_final(refusal: OtpError) -> None:
    cycle, first, second = pair(refusal)

    with pytest.raises(type(refusal)):
        start(cycle)

    assert second.calls == []


def test_an_adopted_start_belongs_to_the_provider_that_named_it() -> None:
    cycle, _, _ = pair(second_starts=(VerificationInProgressError("VE-lost"),))
    cycle.provider.providers[0].starts.append(ProviderThrottledError())  # type: ignore[attr-defined]

    answer = start(cycle)

    assert (answer.verification.provider, answer.verification.request_id) == ("twilio", "VE-lost")


def test_after_the_threshold_starts_skip_the_provider_until_one_trial_brings_it_back(
        caplog: pytest.LogCaptureFixture) -> None:
    cycle, first, second = pair(UpstreamUnavailableError(), UpstreamUnavailableError(), "rid-a1", threshold=2,
                                cooldown=1, second_starts=("b1", "b2", "b3"))
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            assert start(cycle).verification.provider == "twilio"
        assert first.calls == ["start", "start"]  # the third start skipped Vonage
        assert cycle.provider.states() == {"vonage": "open", "twilio": "closed"}

        cycle.provider._breaker._entries["vonage"].open_until = 1.0  # type: ignore[union-attr]  # cooldown over
        assert start(cycle).verification.provider == "vonage"  # the trial
    assert cycle.provider.states() == {"vonage": "closed", "twilio": "closed"}
    changes = [r.change for r in caplog.records if getattr(r, "event", "") == "provider_state"]
    assert changes == ["tripped", "recovered"]


def test_the_start_that_trips_the_breaker_is_still_answered_by_its_own_kind() -> None:
    cycle, _, second = pair(UpstreamUnavailableError(), UpstreamTimeoutError(), threshold=2)
    start(cycle)

    with pytest.raises(UpstreamTimeoutError):  # the second failure opens it; it may have sent: no failover
        start(cycle)

    assert second.calls == ["start"]
    assert cycle.provider.states()["vonage"] == "open"


def test_every_provider_down_is_503_with_retry_after_and_nothing_stored() -> None:
    cycle, first, second = pair(UpstreamUnavailableError(), threshold=1,
                                second_starts=(UpstreamUnavailableError(),))
    with pytest.raises(UpstreamUnavailableError):  # both tried: the last one's own answer
        start(cycle)

    with pytest.raises(ProvidersUnavailableError) as exc:  # both skipped
        start(cycle)

    assert exc.value.status == 503 and 1 <= (exc.value.retry_after or 0) <= 30
    assert (first.calls, second.calls) == (["start"], ["start"])
    assert len(cycle.store) == 0  # type: ignore[arg-type]


def test_a_person_refused_or_a_wrong_code_is_no_failure() -> None:
    cycle, first, _ = pair(NumberNotSupportedError(), "rid-a1", threshold=1)
    with pytest.raises(NumberNotSupportedError):
        start(cycle)
    verification = start(cycle).verification
    first.checks.append(WrongCodeError())
    with pytest.raises(WrongCodeError):
        cycle.check(CALLER, verification.id, None, "123456")

    assert cycle.provider.states()["vonage"] == "closed"


def test_checks_and_cancels_go_to_the_provider_that_started_it_whatever_its_breaker() -> None:
    cycle, first, second = pair("rid-a1", UpstreamUnavailableError(), threshold=1)
    verification = start(cycle).verification
    start(cycle)  # another start: Vonage fails and opens
    assert cycle.provider.states()["vonage"] == "open"
    first.checks.append(None)

    approved = cycle.check(CALLER, verification.id, None, "123456")

    assert approved.channels == ("sms",) and first.calls == ["start", "start", "check"]
    assert "check" not in second.calls


def test_a_verification_stored_before_providers_were_recorded_belongs_to_vonage() -> None:
    cycle, first, second = pair()
    assert cycle.provider.named("") is first and cycle.provider.named("twilio") is second


def test_a_resend_the_provider_certainly_could_not_take_moves_to_the_next_with_a_new_code() -> None:
    cycle, first, second = pair("rid-a1")
    verification = start(cycle).verification
    first.refusal = UpstreamUnavailableError()  # Vonage is down now: the resend and the cancel fail

    resent = cycle.resend(CALLER, verification.id, None)

    assert resent.expires_in == 600 and (resent.delivery.channel, resent.delivery.next_channel) == ("sms", "voice")
    assert first.calls == ["start", "resend", "cancel"] and second.calls == ["start"]
    moved = cycle.store.get(verification.id)
    assert moved is not None and (moved.provider, moved.request_id, moved.deliveries) == ("twilio", "rid-b1", 1)
    second.checks.append(None)
    assert cycle.check(CALLER, verification.id, None, "123456").verification.provider == "twilio"
    assert "check" not in first.calls


@pytest.mark.parametrize("fault", MAY_HAVE_SENT, ids=lambda e: type(e).__name__)
def test_a_resend_that_may_have_gone_out_stays_with_its_provider(fault: OtpError) -> None:
    cycle, first, second = pair("rid-a1")
    verification = start(cycle).verification
    first.refusal = fault

    with pytest.raises(type(fault)):
        cycle.resend(CALLER, verification.id, None)

    assert second.calls == [] and cycle.store.get(verification.id).provider == "vonage"  # type: ignore[union-attr]


def test_a_resend_moves_after_the_last_provider_to_the_first() -> None:
    cycle, first, second = pair(ProviderThrottledError(), "rid-a2", second_starts=("rid-b1",))
    verification = start(cycle).verification
    assert verification.provider == "twilio"
    second.refusal = ProviderUnavailableError()

    cycle.resend(CALLER, verification.id, None)

    assert cycle.store.get(verification.id).provider == "vonage"  # type: ignore[union-attr]


def test_with_one_provider_its_failures_are_answered_as_they_come_and_nothing_is_skipped() -> None:
    only = ScriptedProvider(name="vonage", starts=[UpstreamUnavailableError() for _ in range(8)] + ["rid-1"])
    cycle = lifecycle(only, breaker=MemoryBreaker(1, 30))
    for _ in range(8):
        with pytest.raises(UpstreamUnavailableError):
            start(cycle)

    assert start(cycle).verification.request_id == "rid-1"
    assert cycle.provider.states() == {"vonage": "closed"}


def test_with_several_providers_a_pending_code_at_either_keeps_every_provider_from_being_asked() -> None:
    cycle, first, second = pair(ProviderThrottledError())
    cycle.start(CALLER, PARSED, "", None)  # Twilio holds it now; Vonage could not see it

    with pytest.raises(VerificationInProgressError):
        cycle.start(CALLER, PARSED, "", None)

    assert (first.calls, second.calls) == (["start"], ["start"])
