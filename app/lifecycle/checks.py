"""A code's check, one at a time: the hold that keeps a verification to one check at the provider, lost
answers and what the next action learns of them, and the single approval.

A check holds its verification in the store before the provider is asked and releases it when the answer is
known; the hold is also its read of the verification, whose number its limits are then counted for (a check
they or a malformed code refuse gives the hold, and the check it counted, back). A concurrent check (or
cancel), such as a form submitted twice, waits for that answer and then takes its own turn; only one still
waiting after ``wait`` seconds is told to retry (409, Retry-After 1). The cap counts only checks that went to
the provider, and no check ends a verification while another's answer is still coming. A check whose answer is
lost (a timeout, a dropped connection, this worker killed, so that its hold runs out) marks the verification
unsettled for good: every later check, resend and cancel asks the provider what became of it before concluding
anything.
"""

from __future__ import annotations

import itertools
import re
import secrets
import time
from collections.abc import Callable

from ..callers import Caller
from ..errors import (
    CheckInProgressError,
    NoPendingVerificationError,
    OtpError,
    TooManyAttemptsError,
    VerificationApprovedError,
    VerificationExpiredError,
    WrongCodeError,
)
from ..limits import Limits
from ..providers import State
from ..providers.failover import Failover
from ..store import Pending, Store
from .outcomes import Outcomes
from .results import Approved, delivery, ended

# Checks one pending verification may take, counted in the store (a provider ends one after a few wrong
# codes of its own accord; this also bounds checks that end in faults).
MAX_CHECKS = 5
# A provider that cannot say what became of a verification no longer knows one whose last check was lost:
# the code may have been accepted, and the person is told so.
LOST_ANSWER = ("This code may already have been accepted: the answer to an earlier check was lost, and the "
               "verification is over now. Please request a new code.")
APPROVED_ALREADY = "This code was already accepted: submit it once more to finish."
# A verification's id (app.lifecycle.ID_BYTES, URL-safe): anything else names no verification.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
# ASCII digits only: str.isdigit() and \d also accept other scripts' digits.
CODE_PATTERN = re.compile(r"[0-9]{4,10}")
# Seconds a check (or cancel) waits while another check of the same verification is at the provider (the
# web layer sets it from the providers' and the store's timeouts).
CHECK_WAIT = 12.0
# Seconds between a waiting check's attempts to take the hold: a provider answers a check in 50 ms at best
# (hundreds, usually), so the first look is after that, then at most four times a second. Each look is a
# store round trip.
WAIT_STEPS = (0.05, 0.1, 0.2, 0.25)


class Checks:
    """Checks of the verifications in one store, at the providers that started them."""

    def __init__(self, store: Store, provider: Failover, limits: Limits, outcomes: Outcomes, hold: float,
                 wait: float) -> None:
        self.store = store
        self.provider = provider
        self.limits = limits
        self.outcomes = outcomes
        # Seconds a check may hold its verification: past them (the worker died mid-call) it counts as lost.
        self.hold = hold
        # Seconds a check (or cancel) waits for another's hold to be released before it is told to retry.
        self.wait = wait

    def held(self, caller: Caller, verification_id: str, number: str | None,
             recover: Callable[[Pending], tuple[Pending, bool]], count: bool = True) -> tuple[Pending, str]:
        """The caller's verification held for one check (``count``) or a cancel, and the hold's name: its
        check limits count the request once the hold's read named its number (no read of its own), and it is
        ``recover``ed when its start's answer was lost. Refused after the hold, it gives the hold (and its
        count) back. A caller who names no verification spends nothing of a number's limits (the
        per-address ones still count)."""
        found, name = self.hold_once(verification_id, count) if ID_PATTERN.fullmatch(verification_id) else (None, "")
        held = None if found is None or found.busy else found
        try:
            if found is None or (number is not None and number != found.number):
                self.limits.count_check(caller, "")
                raise NoPendingVerificationError()
            # A test number's checks spend none of the number's limits: the check cap still ends a guessing loop.
            self.limits.count_check(caller, "" if self.provider.listed(found.number) else found.number)
            held = self.wait_for(found, name, count)
            return recover(held)[0], name
        except BaseException:
            if held is not None:
                self.give_back(held, name, count)
            raise

    def hold_once(self, verification_id: str, count: bool = True) -> tuple[Pending | None, str]:
        """One try at holding a verification for one check (or, ``count`` False, a cancel): the verification
        as held (``busy`` while another check holds it: nothing taken), None when there is none; and the
        hold's name."""
        name = secrets.token_hex(8)
        return self.store.begin_check(verification_id, name, self.hold, count), name

    def take(self, verification: Pending, count: bool = True) -> tuple[Pending, str]:
        """Hold ``verification`` for one check (or a cancel), waiting while another holds it (``wait_for``):
        the verification as held and the hold's name."""
        found, name = self.hold_once(verification.id, count)
        return self.wait_for(found, name, count), name

    def wait_for(self, found: Pending | None, name: str, count: bool = True) -> Pending:
        """The verification a first try found, held under ``name`` once no other check holds it. 404 when it
        is gone (an approval while this one waited included), 409 while another still holds it after
        ``wait`` seconds."""
        deadline = time.monotonic() + self.wait
        for attempt in itertools.count():
            if found is None:
                raise NoPendingVerificationError()
            if not found.busy:
                return found
            pause = WAIT_STEPS[min(attempt, len(WAIT_STEPS) - 1)]
            if time.monotonic() + pause > deadline:
                break
            time.sleep(pause)
            found = self.store.begin_check(found.id, name, self.hold, count)
        raise CheckInProgressError()

    def give_back(self, held: Pending, name: str, count: bool = True) -> None:
        """Release a hold refused before the provider was asked (its limits, a malformed code), with the
        check it counted: the cap counts only checks that went to the provider."""
        self.outcomes.settle(held, name, uncount=count)

    def release(self, verification: Pending, name: str, exc: OtpError) -> None:
        """Release a hold after ``exc``, unless it ended the verification: a fault after which the provider
        may have acted leaves the check lost (the provider may have approved it)."""
        if exc.ended != verification.id:
            self.outcomes.settle(verification, name, lost=exc.may_have_sent)

    def check(self, caller: Caller, counted: Pending, name: str, code: str) -> Approved:
        """Check the code the person typed against ``counted``, held under ``name``; Approved once, for the
        one check that ends the verification."""
        try:
            return self._check(caller, counted, code)
        except OtpError as exc:
            self.release(counted, name, exc)
            raise

    def _check(self, caller: Caller, counted: Pending, code: str) -> Approved:
        state = self.provider.status(counted) if counted.unsettled else State.IN_PROGRESS
        if state is State.APPROVED:
            # An earlier check was approved and its answer lost: this one gets what that one should have.
            return self._approved(counted, caller)
        if counted.checks > MAX_CHECKS:
            self.outcomes.end(counted, "too_many_attempts", caller)
            self.outcomes.cancel_quietly(counted)
            # Providers end a verification after fewer wrong codes than this, so the cap is mostly reached by
            # checks that ended in faults: say what happened, not "wrong codes".
            raise ended(TooManyAttemptsError("This code was checked too many times. Please request a new code."),
                        counted)
        if state is State.ENDED:
            self.outcomes.end(counted, "expired", caller)
            raise ended(VerificationExpiredError(), counted)
        try:
            self.provider.check(counted, code)
        except WrongCodeError:
            # The entry stays: a person who mistyped tries again with the same code.
            self.outcomes.event("wrong_code", counted, caller, event="code_checked")
            raise
        except TooManyAttemptsError as exc:
            self.outcomes.end(counted, "too_many_attempts", caller)
            exc.ended = counted.id
            raise
        except VerificationExpiredError as exc:
            if counted.unsettled:
                # An earlier check of this verification, whose answer was lost, may have been approved since.
                state = self.provider.status(counted) if state is not State.UNKNOWN else state
                if state is State.APPROVED:
                    return self._approved(counted, caller)
                if state is State.UNKNOWN:
                    # The provider cannot be asked. The entry is left to expiry: a later check asks again.
                    self.outcomes.event("unknown", counted, caller, event="code_checked")
                    raise VerificationExpiredError(LOST_ANSWER) from exc
            self.outcomes.end(counted, "expired", caller)
            exc.ended = counted.id
            raise
        return self._approved(counted, caller)

    def over(self, verification: Pending, exc: VerificationExpiredError, caller: Caller) -> OtpError:
        """What a resend or cancel the provider called over should answer. One whose earlier check's answer
        was lost may have been approved: then it says so and the verification is kept, for the next check to
        answer the token; one the provider cannot tell about is kept too, to expire."""
        if verification.unsettled:
            state = self.provider.status(verification)
            if state is State.APPROVED:
                return VerificationApprovedError(APPROVED_ALREADY)
            if state is State.UNKNOWN:
                return VerificationExpiredError(LOST_ANSWER)
        self.outcomes.end(verification, "expired", caller)
        return ended(exc, verification)

    def _approved(self, counted: Pending, caller: Caller) -> Approved:
        """End the verification and answer its approval, once: the check that ends it is Approved, any other
        that learns of the same approval 404, so that one approval never yields two tokens."""
        if not self.outcomes.end(counted, "approved", caller):
            raise ended(NoPendingVerificationError(), counted)
        if not self.provider.listed(counted.number):  # a test number took no budget slots
            made = range(1, counted.deliveries + 1)
            self.limits.converted(caller, counted.number, [delivery(counted.id, n) for n in made])
        return Approved(counted, self.provider.named(counted.provider).channels[:counted.deliveries])
