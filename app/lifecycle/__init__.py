"""The verification lifecycle: start (reserved in the store before any provider is asked), resend and
cancel, a lost start's recovery; the checks are app.lifecycle.checks, the ends app.lifecycle.outcomes.

Plain Python with explicit inputs (the caller, the verification's id and the posted fields, parsed). It
holds a verification to its limits (app.limits), keeps it in the store (app.store), asks the provider
(app.providers) and answers typed results (app.lifecycle.results) or the service's errors. It knows no
Flask, SDK or driver, nor a provider's status codes or timing rules: its errors say what happened.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import TypeVar

import phonenumbers

from .. import phone
from ..callers import Caller
from ..errors import (
    InvalidCodeFormatError,
    NoPendingVerificationError,
    OtpError,
    StoreError,
    VerificationExpiredError,
    VerificationInProgressError,
)
from ..limits import Limits
from ..providers import Provider
from ..providers.failover import Failover, Sent
from ..store import Pending, Store
from .checks import CHECK_WAIT, CODE_PATTERN, ID_PATTERN, Checks
from .outcomes import Outcomes
from .results import Approved, Delivery, HumanCheck, ProofOfWork, Resent, Started, delivery

log = logging.getLogger(__name__)
T = TypeVar("T")

# Keep the entry a little longer than the provider keeps the verification, so a late check still reaches
# the provider and gets its own answer ("expired") instead of our "nothing pending".
TTL_MARGIN = 60
# Seconds a check holds its verification at most, and a start its number before the provider's answer is
# recorded (the web layer sets both from the providers' and the store's timeouts).
CHECK_HOLD = 35.0
START_HOLD = 15.0
# The verification handle: 32 random bytes, 43 URL-safe characters (ID_PATTERN).
ID_BYTES = 32


class Lifecycle:
    """The four verbs of a verification, over one store, the providers (in failover order) and one set of
    limits."""

    def __init__(self, *, store: Store, provider: Failover, limits: Limits, captcha: HumanCheck,
                 challenges: ProofOfWork, allowed_countries: Collection[str] = (),
                 allowed_kinds: Collection[str] = (), check_hold: float = CHECK_HOLD,
                 start_hold: float = START_HOLD, check_wait: float = CHECK_WAIT) -> None:
        self.store = store
        self.provider = provider
        self.limits = limits
        self._captcha = captcha
        self._challenges = challenges
        self._countries = allowed_countries
        self._kinds = allowed_kinds
        self._resend_in = limits.cooldown if limits.enabled else 0
        self.outcomes = Outcomes(store, provider)
        self.checks = Checks(store, provider, limits, self.outcomes, check_hold, check_wait)
        self._start_hold = math.ceil(start_hold)

    def refused_send(self, caller: Caller) -> None:
        """Count a send request that ended before the lifecycle (malformed): 429 past its caller's limits."""
        self.limits.count_send(caller)

    def start(self, caller: Caller, number: phonenumbers.PhoneNumber, nonce: str, captcha_token: object,
              solution: object = None) -> Started:
        """Send a code to ``number`` and keep the new verification under a fresh id. Past a shared budget the
        send needs ``solution`` (of a challenge) or a configured CAPTCHA."""
        e164 = phone.e164(number)
        # The id is made first: the delivery's budget slots are named by it.
        verification_id = secrets.token_urlsafe(ID_BYTES)
        if self.provider.listed(e164):
            # A test number is the operator's choice, screened by nobody; it costs nothing, so it spends
            # none of the number's limits, budgets or cooldown (a QA loop must not lock itself out). Its
            # caller's limits and the CAPTCHA hold as for any number.
            self.limits.count_send(caller)
            self._captcha.verify(captcha_token, caller.address)
            return self._start(caller, e164, nonce, verification_id, "")
        try:
            phone.screen(number, self._countries, self._kinds)
        except OtpError:
            self.limits.count_send(caller)
            raise
        with self.limits.send_budget(caller, e164, delivery(verification_id, 1)) as send:
            # Inside the budget, whose round trip counted the caller: a refused CAPTCHA gives the cooldown back
            # and spends none of the number's budget. A CAPTCHA, when there is one, proves a person as a
            # solved challenge does.
            self._captcha.verify(captcha_token, caller.address)
            send.take_budgets(lambda: self._captcha.configured or self._challenges.redeem(solution))
            return self._start(caller, e164, nonce, verification_id, send.challenge)

    def _start(self, caller: Caller, number: str, nonce: str, verification_id: str, challenge: str) -> Started:
        # Written before any provider is asked, as the number's one pending verification: a store that cannot
        # take it is 503 before any SMS, and a concurrent send to the number is 409 (no provider asked: one
        # would send the pending code again, or could not see another provider's).
        reserved = Pending(verification_id, number, "", nonce, challenge=challenge, address=caller.address,
                           caller=caller.api_key)
        try:
            taken = self.store.reserve(reserved, self._start_hold)
        except StoreError:
            # A stalled store may take it after all, when it runs what it was sent (redis-py's resend): give
            # the number back once it has had time to recover, not only when the reservation expires.
            later = threading.Timer(self._start_hold / 2, self._release, (reserved,))
            later.daemon = True
            later.start()
            raise
        if taken is not None:
            self.outcomes.event("in_progress", reserved, caller)
            raise VerificationInProgressError()
        try:
            sent = self.provider.start(number)
        except VerificationInProgressError as exc:
            if not exc.request_id:
                self._release(reserved)
                self.outcomes.event("in_progress", reserved, caller)
                raise
            # The provider has one in progress that no verification of ours holds (its record was lost): the
            # code is on its way, and this verification takes it.
            sent, event = Sent(exc.request_id, self.provider.named(exc.provider)), "verification_adopted"
        except OtpError as exc:
            if not exc.may_have_sent:
                self._release(reserved)
                raise
            # The answer was lost: the code may be on its way. The caller gets the id (a check recovers the
            # provider's request id), and the number stays with it.
            held = self.provider.named(exc.provider)
            self._bind(reserved, Sent("", held))
            exc.kept = (verification_id, held.lifetime)
            raise
        else:
            event = "verification"
        held = sent.provider
        self._bind(reserved, sent)
        verification = replace(reserved, request_id=sent.request_id, provider=held.name)
        self.outcomes.event("started", verification, caller, event=event)
        return Started(verification, self._delivery(1, held), held.lifetime)

    def _bind(self, reserved: Pending, sent: Sent) -> None:
        """Record the provider's request for a reserved verification. The code is on its way whatever
        happens here: a store fault is logged, not answered (the verification's checks recover the request)."""
        try:
            self.store.move(reserved, sent.request_id, sent.provider.name, sent.provider.lifetime + TTL_MARGIN)
        except StoreError:
            log.error("could not record the verification started for %s", phone.mask(reserved.number),
                      extra={"event": "record_failed", "provider": sent.provider.name})

    def _release(self, reserved: Pending) -> None:
        """Give up a reservation no code was sent for (best effort: it expires soon by itself)."""
        try:
            self.store.delete(reserved)
        except StoreError:
            log.warning("could not release the number of %s", phone.mask(reserved.number))

    def recovered(self, verification: Pending) -> tuple[Pending, bool]:
        """A verification whose start's answer was lost (no request id recorded), bound to the provider's
        request: asked again, the provider names the one in progress, or (the first start never reached it,
        or it sends a pending code again) sends the code now, which the second value says. Any other
        verification as it is."""
        if verification.request_id:
            return verification, False
        held = self.provider.named(verification.provider)
        sent = True
        try:
            request_id = held.start(verification.number)
        except VerificationInProgressError as exc:
            if not exc.request_id:
                raise
            request_id, sent = exc.request_id, False
        self.store.move(verification, request_id, held.name, held.lifetime + TTL_MARGIN)
        return replace(verification, request_id=request_id, provider=held.name, deliveries=1), sent

    def resend(self, caller: Caller, verification_id: str, number: str | None, solution: object = None) -> Resent:
        """Deliver the pending code again by the workflow's next step (e.g. a voice call after the SMS); past
        a shared budget it needs ``solution``."""
        try:
            verification, sent = self.recovered(self.owned(verification_id, number))
        except OtpError:
            self.limits.count_send(caller)
            raise
        if sent:
            # Recovering a lost start delivered the code just now: that is the delivery asked for.
            self.outcomes.event("resent", verification, caller)
            return Resent(verification, self._delivery(1, self.provider.named(verification.provider)))
        made = delivery(verification.id, verification.deliveries + 1)
        if self.provider.listed(verification.number):
            self.limits.count_send(caller)
            moved = self._act(verification, self.provider.resend, caller)
        else:
            with self.limits.send_budget(caller, verification.number, made) as send:
                # A verification started past a budget pays a fresh solution for each resend (mostly voice).
                send.take_budgets(lambda: self._challenges.redeem(solution), required=verification.challenge)
                moved = self._act(verification, self.provider.resend, caller)
        if moved is not None:
            return self._moved(caller, verification, moved)
        try:
            self.store.count_delivery(verification.id, verification.deliveries + 1)
        except StoreError:
            # The code is on its way: say so. Only the token's amr misses the channel.
            log.error("could not count a delivery for %s", phone.mask(verification.number))
        self.outcomes.event("resent", replace(verification, deliveries=verification.deliveries + 1), caller)
        held = self.provider.named(verification.provider)
        return Resent(verification, self._delivery(verification.deliveries + 1, held))

    def _moved(self, caller: Caller, verification: Pending, sent: Sent) -> Resent:
        """Bind the verification to the new code another provider sent (its old code no longer verifies)."""
        held = sent.provider
        try:
            self.store.move(verification, sent.request_id, held.name, held.lifetime + TTL_MARGIN)
        except StoreError:
            # The new code is on its way, but a check would still go to the old provider: say it failed.
            log.error("could not record a verification moved to %s for %s", held.name, phone.mask(verification.number))
            raise
        moved = replace(verification, request_id=sent.request_id, provider=held.name, deliveries=1, unsettled=False)
        self.outcomes.event("moved", moved, caller)
        return Resent(moved, self._delivery(1, held), expires_in=held.lifetime)

    def _delivery(self, made: int, held: Provider) -> Delivery:
        return Delivery.of(held.channels, made, self._resend_in)

    def refused_check(self, caller: Caller) -> None:
        """Count a check or cancel that ended before the lifecycle (malformed): 429 past its caller's limits."""
        self.limits.count_check(caller, "")

    def owned(self, verification_id: str, number: str | None) -> Pending:
        """The pending verification with this id (and of ``number``, when one was posted).

        Unknown, expired, finished, or of another number: the same 404, so that the answer tells a stranger
        nothing.
        """
        found = self.store.get(verification_id) if ID_PATTERN.fullmatch(verification_id) else None
        if found is None or (number is not None and number != found.number):
            raise NoPendingVerificationError()
        return found

    def cancel(self, caller: Caller, verification_id: str, number: str | None) -> Pending:
        """Cancel the caller's pending verification, at the provider and here; never while a check of it is
        at the provider (409: that check may be approved)."""
        return self._cancel(caller, *self.checks.held(caller, verification_id, number, self.recovered, count=False))

    def cancel_for_operator(self, verification_id: str) -> Pending:
        """An operator's cancel (``flask otp cancel``): as a caller's, counted against no limit."""
        held = self.recovered(self.owned(verification_id, None))[0]
        return self._cancel(Caller("operator", "operator"), *self.checks.take(held, count=False))

    def _cancel(self, caller: Caller, verification: Pending, hold: str) -> Pending:
        try:
            self._act(verification, self.provider.cancel, caller)
        except OtpError as exc:
            if exc.ended != verification.id:
                self.outcomes.settle(verification, hold)
            raise
        self.outcomes.end(verification, "cancelled", caller)
        return verification

    def _act(self, verification: Pending, action: Callable[[Pending], T], caller: Caller) -> T:
        """Run a resend or cancel at the provider. One the provider says is over is forgotten (410) unless
        a lost check may have approved it (app.lifecycle.checks); one it refuses while the code stays valid,
        or that it says was approved, is kept (409)."""
        try:
            return action(verification)
        except VerificationExpiredError as exc:
            answer = self.checks.over(verification, exc, caller)
            if answer is exc:
                raise
            raise answer from exc

    def check(self, caller: Caller, verification_id: str, number: str | None, code: str) -> Approved:
        """Check the code the person typed; Approved once, for the one check that ends the verification."""
        verification, hold = self.checks.held(caller, verification_id, number, self.recovered)
        if not CODE_PATTERN.fullmatch(code):
            self.checks.give_back(verification, hold)
            raise InvalidCodeFormatError()
        return self.checks.check(caller, verification, hold, code)
