"""The lifecycle on its own: an in-process provider scripted per test, the memory store, no Flask, no HTTP.

Lost answers, adoption of a lost start, single approval, the check cap, resend and cancel, each as the
lifecycle decides them from what a provider says.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from limits.storage import MemoryStorage

from app import phone
from app.breaker import Breaker, MemoryBreaker
from app.callers import Caller
from app.errors import (
    ActionRefusedError,
    CaptchaFailedError,
    CheckInProgressError,
    InvalidCodeFormatError,
    NoPendingVerificationError,
    OtpError,
    RateLimitedError,
    StoreError,
    TooManyAttemptsError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
    VerificationApprovedError,
    VerificationExpiredError,
    VerificationInProgressError,
    WrongCodeError,
)
from app.lifecycle import Lifecycle
from app.lifecycle.checks import LOST_ANSWER, MAX_CHECKS
from app.limits import Limits
from app.providers import State
from app.providers.failover import Failover
from app.settings import load_settings
from app.store import Pending
from app.store.memory import MemoryStore

from .conftest import NUMBER

CALLER = Caller("198.51.100.7", "198.51.100.7")
PARSED = phone.parse(NUMBER)


@dataclass
class ScriptedProvider:
    """A provider whose answers each test writes: ``checks`` are raised (or None: approved) in order."""

    name: str = "scripted"
    lifetime: int = 300
    resends_on_start: bool = False
    channels: tuple[str, ...] = ("sms", "voice")
    starts: list[str | OtpError] = field(default_factory=lambda: ["rid-1"])
    checks: list[OtpError | None] = field(default_factory=list)
    state: State = State.IN_PROGRESS
    refusal: OtpError | None = None
    calls: list[str] = field(default_factory=list)
    on_check: Callable[[], None] = lambda: None

    def start(self, number: str) -> str:
        self.calls.append("start")
        answer = self.starts.pop(0)
        if isinstance(answer, OtpError):
            raise answer
        return answer

    def check(self, verification: Pending, code: str) -> None:
        self.calls.append("check")
        self.on_check()
        outcome = self.checks.pop(0)
        if outcome is not None:
            raise outcome

    def resend(self, verification: Pending) -> None:
        self.calls.append("resend")
        if self.refusal is not None:
            raise self.refusal

    def cancel(self, verification: Pending) -> None:
        self.calls.append("cancel")
        if self.refusal is not None:
            raise self.refusal

    def status(self, verification: Pending) -> State:
        self.calls.append("status")
        return self.state


class NoCaptcha:
    configured = False

    def __init__(self, refuse: bool = False) -> None:
        self.refuse = refuse

    def verify(self, token: object, address: str) -> None:
        if self.refuse:
            raise CaptchaFailedError()


class NoSolutions:
    def redeem(self, solution: object) -> bool:
        return False


def lifecycle(*providers: ScriptedProvider, limits: str = "false", captcha: NoCaptcha | None = None,
              breaker: Breaker | None = None, start_hold: float = 15.0, check_wait: float = 5.0,
              **settings: str) -> Lifecycle:
    """A lifecycle over the providers in failover order (one breaker for all, when there are several)."""
    config = load_settings({"OTP_PROVIDER": "console", "OTP_RATELIMIT_ENABLED": limits, **settings})
    return Lifecycle(store=MemoryStore(), provider=Failover(providers, breaker or MemoryBreaker(5, 30)),
                     limits=Limits(MemoryStorage(), config), captcha=captcha or NoCaptcha(), challenges=NoSolutions(),
                     start_hold=start_hold, check_wait=check_wait)


def started(cycle: Lifecycle) -> Pending:
    return cycle.start(CALLER, PARSED, "", None).verification


def test_a_start_keeps_the_verification_under_a_fresh_id() -> None:
    cycle = lifecycle(ScriptedProvider())

    answer = cycle.start(CALLER, PARSED, "n-1", None)

    assert answer.verification.request_id == "rid-1" and answer.verification.nonce == "n-1"
    assert len(answer.verification.id) == 43 and answer.expires_in == 300
    assert (answer.delivery.channel, answer.delivery.next_channel) == ("sms", "voice")
    assert cycle.store.get(answer.verification.id) == answer.verification


def test_a_start_whose_answer_was_lost_is_adopted_by_the_next_request() -> None:
    # The provider names a request in progress that no stored verification holds: an attempt of ours whose
    # answer was lost. The code is on its way, so the person who asks again gets an id for it.
    cycle = lifecycle(ScriptedProvider(starts=[VerificationInProgressError("rid-lost")]))

    assert started(cycle).request_id == "rid-lost"


def test_a_request_in_progress_that_someone_holds_is_never_handed_out() -> None:
    provider = ScriptedProvider(starts=["rid-1", VerificationInProgressError("rid-1")])
    cycle = lifecycle(provider)
    started(cycle)

    with pytest.raises(VerificationInProgressError):
        started(cycle)


def test_a_provider_that_resends_a_pending_code_on_start_is_not_asked_while_one_is_pending() -> None:
    provider = ScriptedProvider(starts=["rid-1", "rid-1"], resends_on_start=True)
    cycle = lifecycle(provider)
    started(cycle)

    with pytest.raises(VerificationInProgressError):
        started(cycle)
    assert provider.calls == ["start"]  # the pending verification's id is never handed out again


class FailingStore(MemoryStore):
    """The memory store with some operations failing, as a store that went down does."""

    def __init__(self, *failing: str) -> None:
        super().__init__()
        self.failing = set(failing)

    def reserve(self, pending: Pending, ttl: int) -> Pending | None:
        if "reserve" in self.failing:
            raise StoreError()
        taken = super().reserve(pending, ttl)
        if "reserve-late" in self.failing:
            raise StoreError()  # the answer was lost: the store took it anyway
        return taken

    def move(self, pending: Pending, request_id: str, provider: str, ttl: int) -> None:
        if "move" in self.failing:
            raise StoreError()
        super().move(pending, request_id, provider, ttl)


def test_a_store_that_cannot_take_the_verification_is_503_before_any_provider_is_asked() -> None:
    provider = ScriptedProvider()
    cycle = lifecycle(provider)
    cycle.store = cycle.outcomes.store = cycle.checks.store = FailingStore("reserve")

    with pytest.raises(StoreError):
        started(cycle)

    assert provider.calls == []


def test_a_reservation_the_store_took_behind_its_503_is_given_back_soon() -> None:
    provider = ScriptedProvider()
    cycle = lifecycle(provider, start_hold=0.2)
    store = cycle.store = cycle.outcomes.store = cycle.checks.store = FailingStore("reserve-late")

    with pytest.raises(StoreError):
        started(cycle)
    assert store.latest(NUMBER) is not None  # taken after all: the number would answer 409
    for _ in range(200):
        if store.latest(NUMBER) is None:
            break
        time.sleep(0.01)

    assert store.latest(NUMBER) is None and provider.calls == []


def test_a_failure_to_record_after_the_code_went_out_is_answered_as_on_its_way_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    provider = ScriptedProvider(starts=["rid-1", VerificationInProgressError("rid-1")], checks=[None])
    cycle = lifecycle(provider)
    store = cycle.store = cycle.outcomes.store = cycle.checks.store = FailingStore("move")

    answer = cycle.start(CALLER, PARSED, "", None)

    assert answer.verification.request_id == "rid-1"
    assert [r.levelname for r in caplog.records if "could not record" in r.getMessage()] == ["ERROR"]
    # The entry never learnt the request id: the next check asks the provider for it, then checks.
    store.failing.clear()
    assert cycle.check(CALLER, answer.verification.id, None, "123456").verification.request_id == "rid-1"
    assert provider.calls == ["start", "start", "check"]


@pytest.mark.parametrize(("asked_again", "calls"), [
    # The first start reached the provider: it names the request, and the resend is the next step.
    (VerificationInProgressError("rid-1"), ["start", "start", "resend"]),
    # It never did: asked again, the provider sends the code now, which is the delivery asked for.
    ("rid-2", ["start", "start"]),
])
def test_a_resend_after_a_lost_start_delivers_the_code_once(asked_again: str | OtpError, calls: list[str]) -> None:
    provider = ScriptedProvider(starts=[UpstreamTimeoutError(), asked_again])
    cycle = lifecycle(provider)
    with pytest.raises(UpstreamTimeoutError) as lost:
        started(cycle)
    assert lost.value.kept is not None
    verification_id = lost.value.kept[0]

    resent = cycle.resend(CALLER, verification_id, None)

    assert provider.calls == calls
    assert resent.verification.request_id == cycle.store.get(verification_id).request_id  # type: ignore[union-attr]


def test_a_start_that_certainly_sent_nothing_frees_the_number() -> None:
    provider = ScriptedProvider(starts=[UpstreamUnavailableError(), "rid-2"])
    cycle = lifecycle(provider)

    with pytest.raises(UpstreamUnavailableError):
        started(cycle)

    assert cycle.store.latest(NUMBER) is None
    assert started(cycle).request_id == "rid-2"


def test_a_refused_captcha_sends_nothing() -> None:
    provider = ScriptedProvider()

    with pytest.raises(CaptchaFailedError):
        lifecycle(provider, captcha=NoCaptcha(refuse=True)).start(CALLER, PARSED, "", "token")
    assert provider.calls == []


def test_the_right_code_is_approved_once() -> None:
    provider = ScriptedProvider(checks=[None])
    cycle = lifecycle(provider)
    verification = started(cycle)

    approved = cycle.check(CALLER, verification.id, None, "123456")

    assert approved.verification.id == verification.id and approved.channels == ("sms",)
    with pytest.raises(NoPendingVerificationError):
        cycle.check(CALLER, verification.id, None, "123456")
    assert provider.calls == ["start", "check"]


def test_of_two_checks_that_learn_of_one_approval_only_the_one_that_ends_it_is_approved() -> None:
    provider = ScriptedProvider(checks=[None])
    cycle = lifecycle(provider)
    verification = started(cycle)
    # Another check ends the verification while this one is at the provider.
    provider.on_check = lambda: cycle.store.delete(verification, "approved")

    with pytest.raises(NoPendingVerificationError) as exc:
        cycle.check(CALLER, verification.id, None, "123456")
    assert exc.value.ended == verification.id


def test_a_wrong_code_keeps_the_verification_and_settles_the_check() -> None:
    provider = ScriptedProvider(checks=[WrongCodeError(), None])
    cycle = lifecycle(provider)
    verification = started(cycle)

    with pytest.raises(WrongCodeError):
        cycle.check(CALLER, verification.id, None, "000000")
    cycle.check(CALLER, verification.id, None, "123456")

    assert "status" not in provider.calls  # a known outcome leaves nothing to ask about


def test_a_check_whose_answer_was_lost_is_honoured_by_the_next_when_the_provider_says_approved() -> None:
    provider = ScriptedProvider(checks=[UpstreamTimeoutError()])
    cycle = lifecycle(provider)
    verification = started(cycle)
    with pytest.raises(UpstreamTimeoutError):
        cycle.check(CALLER, verification.id, None, "123456")
    provider.state = State.APPROVED

    approved = cycle.check(CALLER, verification.id, None, "123456")

    assert approved.verification.id == verification.id
    assert provider.calls == ["start", "check", "status"]  # asked, not checked again


def test_after_a_lost_answer_a_provider_that_cannot_say_is_told_honestly_and_the_entry_stays() -> None:
    provider = ScriptedProvider(checks=[UpstreamTimeoutError(), VerificationExpiredError()], state=State.UNKNOWN)
    cycle = lifecycle(provider)
    verification = started(cycle)
    with pytest.raises(UpstreamTimeoutError):
        cycle.check(CALLER, verification.id, None, "123456")

    with pytest.raises(VerificationExpiredError) as exc:
        cycle.check(CALLER, verification.id, None, "123456")

    assert exc.value.message == LOST_ANSWER
    assert cycle.store.get(verification.id) is not None  # left to the lost check or to expiry


def test_a_provider_that_says_ended_after_a_lost_answer_ends_the_verification() -> None:
    provider = ScriptedProvider(checks=[UpstreamTimeoutError()])
    cycle = lifecycle(provider)
    verification = started(cycle)
    with pytest.raises(UpstreamTimeoutError):
        cycle.check(CALLER, verification.id, None, "123456")
    provider.state = State.ENDED

    with pytest.raises(VerificationExpiredError) as exc:
        cycle.check(CALLER, verification.id, None, "123456")

    assert exc.value.ended == verification.id and cycle.store.get(verification.id) is None


def test_a_check_or_cancel_while_another_check_stays_at_the_provider_past_the_wait_is_told_to_retry() -> None:
    provider = ScriptedProvider(checks=[None])
    cycle = lifecycle(provider, check_wait=0.2)
    verification = started(cycle)
    refused: list[tuple[OtpError, float]] = []

    def meanwhile() -> None:  # the first check is at the provider until both have given up
        for attempt in (lambda: cycle.check(CALLER, verification.id, None, "123456"),
                        lambda: cycle.cancel(CALLER, verification.id, None)):
            began = time.monotonic()
            with pytest.raises(CheckInProgressError) as exc:
                attempt()
            refused.append((exc.value, time.monotonic() - began))
    provider.on_check = meanwhile

    approved = cycle.check(CALLER, verification.id, None, "123456")

    assert approved.verification.checks == 1
    assert [(e.status, e.retry_after) for e, _ in refused] == [(409, 1), (409, 1)]
    assert all(0.1 <= waited < 1 for _, waited in refused)  # each waited about check_wait, not for good
    assert provider.calls == ["start", "check"]  # neither reached the provider


def test_a_check_sent_while_another_is_at_the_provider_waits_for_it_then_gets_its_own_answer() -> None:
    # A form submitted twice: both checks of the wrong code reach the provider, one after the other.
    provider = ScriptedProvider(checks=[WrongCodeError(), WrongCodeError()])
    cycle = lifecycle(provider)
    verification = started(cycle)
    at_provider, answer_first = threading.Event(), threading.Event()

    def first_waits() -> None:
        provider.on_check = lambda: None
        at_provider.set()
        assert answer_first.wait(5)
    provider.on_check = first_waits
    answers: list[str] = []

    def check() -> None:
        try:
            cycle.check(CALLER, verification.id, None, "111111")
        except OtpError as exc:
            answers.append(exc.code)
    first = threading.Thread(target=check)
    first.start()
    assert at_provider.wait(5)
    second = threading.Thread(target=check)
    second.start()
    time.sleep(0.3)
    assert provider.calls == ["start", "check"] and second.is_alive()  # waiting, not refused
    answer_first.set()
    first.join(5)
    second.join(5)

    assert answers == ["wrong_code", "wrong_code"]
    assert provider.calls == ["start", "check", "check"]
    held = cycle.store.get(verification.id)
    assert held is not None and held.checks == 2


def test_a_check_that_waited_for_an_approval_learns_the_verification_is_over() -> None:
    provider = ScriptedProvider(checks=[None])
    cycle = lifecycle(provider)
    verification = started(cycle)
    at_provider, answer_first = threading.Event(), threading.Event()

    def first_waits() -> None:
        at_provider.set()
        assert answer_first.wait(5)
    provider.on_check = first_waits
    refused: list[OtpError] = []

    def second_check() -> None:
        with pytest.raises(NoPendingVerificationError) as exc:
            cycle.check(CALLER, verification.id, None, "123456")
        refused.append(exc.value)
    first = threading.Thread(target=lambda: cycle.check(CALLER, verification.id, None, "123456"))
    first.start()
    assert at_provider.wait(5)
    second = threading.Thread(target=second_check)
    second.start()
    time.sleep(0.1)
    answer_first.set()
    first.join(5)
    second.join(5)

    assert [e.status for e in refused] == [404]  # one approval, one token
    assert provider.calls == ["start", "check"]


@pytest.mark.parametrize("verb", ["resend", "cancel"])
def test_after_a_lost_answer_a_resend_or_cancel_of_an_approved_code_says_so_and_the_next_check_approves(
        verb: str) -> None:
    provider = ScriptedProvider(checks=[UpstreamTimeoutError()])
    cycle = lifecycle(provider)
    verification = started(cycle)
    with pytest.raises(UpstreamTimeoutError):
        cycle.check(CALLER, verification.id, None, "123456")
    provider.state, provider.refusal = State.APPROVED, VerificationExpiredError()  # "over": it was approved

    with pytest.raises(VerificationApprovedError) as exc:
        getattr(cycle, verb)(CALLER, verification.id, None)

    assert exc.value.ended is None and exc.value.status == 409
    assert cycle.check(CALLER, verification.id, None, "123456").verification.id == verification.id


def test_after_a_lost_answer_a_typo_leaves_the_lost_check_to_be_asked_about() -> None:
    # The lost check is still being processed when the person mistypes; then it is approved.
    provider = ScriptedProvider(checks=[UpstreamTimeoutError(), WrongCodeError(), VerificationExpiredError()])
    cycle = lifecycle(provider)
    verification = started(cycle)
    with pytest.raises(UpstreamTimeoutError):
        cycle.check(CALLER, verification.id, None, "123456")
    with pytest.raises(WrongCodeError):
        cycle.check(CALLER, verification.id, None, "000000")
    provider.state = State.APPROVED

    approved = cycle.check(CALLER, verification.id, None, "123456")

    assert approved.verification.id == verification.id


def test_a_lost_check_approved_at_the_provider_is_honoured_even_past_the_cap() -> None:
    provider = ScriptedProvider(checks=[UpstreamTimeoutError()] * MAX_CHECKS)
    cycle = lifecycle(provider)
    verification = started(cycle)
    for _ in range(MAX_CHECKS):
        with pytest.raises(UpstreamTimeoutError):
            cycle.check(CALLER, verification.id, None, "123456")
    provider.state = State.APPROVED

    assert cycle.check(CALLER, verification.id, None, "123456").verification.id == verification.id
    assert "cancel" not in provider.calls


@pytest.mark.parametrize(("fault", "lost"), [
    (UpstreamUnavailableError(), False),  # refused before any check: nothing to ask about
    (UpstreamError(), True),  # a 5xx or an unusable answer: the provider may have approved it
    (UpstreamUnavailableError(may_have_sent=True), True),  # the connection dropped after the request went out
])
def test_a_fault_makes_the_next_check_ask_first_exactly_when_the_provider_may_have_acted(
        fault: OtpError, lost: bool) -> None:
    provider = ScriptedProvider(checks=[fault, None])
    cycle = lifecycle(provider)
    verification = started(cycle)
    with pytest.raises(type(fault)):
        cycle.check(CALLER, verification.id, None, "123456")

    cycle.check(CALLER, verification.id, None, "123456")

    assert provider.calls == ["start", "check"] + (["status"] if lost else []) + ["check"]


def test_checks_past_the_cap_end_the_verification_and_cancel_it_at_the_provider() -> None:
    provider = ScriptedProvider(checks=[UpstreamTimeoutError()] * MAX_CHECKS, state=State.IN_PROGRESS)
    cycle = lifecycle(provider)
    verification = started(cycle)
    for _ in range(MAX_CHECKS):
        with pytest.raises(UpstreamTimeoutError):
            cycle.check(CALLER, verification.id, None, "123456")

    with pytest.raises(TooManyAttemptsError) as exc:
        cycle.check(CALLER, verification.id, None, "123456")

    assert exc.value.ended == verification.id and provider.calls[-1] == "cancel"
    assert cycle.store.get(verification.id) is None


@pytest.mark.parametrize(("verification_id", "number", "code", "error"), [
    ("x" * 43, None, "123456", NoPendingVerificationError),
    ("short", None, "123456", NoPendingVerificationError),
    (None, "+447911123456", "123456", NoPendingVerificationError),  # the id, but another number
    (None, None, "12ab", InvalidCodeFormatError),
])
def test_a_check_that_names_no_verification_of_its_own_reaches_no_provider(
        verification_id: str | None, number: str | None, code: str, error: type[OtpError]) -> None:
    provider = ScriptedProvider()
    cycle = lifecycle(provider)
    verification = started(cycle)

    with pytest.raises(error):
        cycle.check(CALLER, verification_id or verification.id, number, code)
    assert provider.calls == ["start"]


def test_a_resend_counts_a_delivery_and_names_the_next_channel() -> None:
    cycle = lifecycle(ScriptedProvider())
    verification = started(cycle)

    resent = cycle.resend(CALLER, verification.id, None)

    assert (resent.delivery.channel, resent.delivery.next_channel) == ("voice", None)
    assert cycle.store.get(verification.id).deliveries == 2  # type: ignore[union-attr]


@pytest.mark.parametrize("verb", ["resend", "cancel"])
def test_a_refusal_while_the_code_is_valid_keeps_it_and_one_that_says_over_forgets_it(verb: str) -> None:
    provider = ScriptedProvider(refusal=ActionRefusedError("still valid"))
    cycle = lifecycle(provider)
    verification = started(cycle)
    act = getattr(cycle, verb)

    with pytest.raises(ActionRefusedError):
        act(CALLER, verification.id, None)
    assert cycle.store.get(verification.id) is not None

    provider.refusal = VerificationExpiredError("over")
    with pytest.raises(VerificationExpiredError) as exc:
        act(CALLER, verification.id, None)
    assert exc.value.ended == verification.id and cycle.store.get(verification.id) is None


def test_a_cancel_ends_the_verification_at_the_provider_and_here() -> None:
    provider = ScriptedProvider()
    cycle = lifecycle(provider)
    verification = started(cycle)

    assert cycle.cancel(CALLER, verification.id, NUMBER).id == verification.id
    assert provider.calls == ["start", "cancel"] and cycle.store.get(verification.id) is None


def test_a_caller_past_its_limit_is_refused_before_the_provider_whatever_else_was_wrong() -> None:
    provider = ScriptedProvider(starts=["rid-1", "rid-2"])
    cycle = lifecycle(provider, limits="true", OTP_RATELIMIT_REQUEST_IP="2/hour", OTP_RESEND_COOLDOWN="0")

    cycle.refused_send(CALLER)  # a malformed request counts too
    started(cycle)
    with pytest.raises(RateLimitedError) as exc:
        cycle.refused_send(CALLER)

    assert exc.value.scope == "send-ip" and provider.calls == ["start"]
