"""Failover: the providers of OTP_PROVIDER in order, each behind its breaker (app.breaker).

A start goes to the first provider whose breaker admits it, and on to the next only when that one
certainly sent nothing: a provider fault (unreachable, 503, throttled, the account refused) whose error
says ``may_have_sent`` is False. A fault that may have sent (a read timeout, a dropped connection, a 5xx,
an unusable answer) is answered as it is, never repeated elsewhere: a person must not get two codes. A
refusal about the number or the person is final and counts as an answer, not a failure. Check, resend and
cancel go to the provider that started the verification; a resend that provider certainly could not take
moves the verification to the next provider that takes starts (after the last, the first).

With one provider there is no breaker: its failures are answered exactly as they come.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ..breaker import Admission, Admitted, Breaker, Change
from ..errors import (
    OtpError,
    ProvidersUnavailableError,
    ProviderThrottledError,
    ProviderUnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
    VerificationInProgressError,
)
from ..metrics import FAILOVERS, PROVIDER_STATE
from ..store import Pending
from . import Provider, State
from .test_numbers import TestNumbers

log = logging.getLogger(__name__)

# A provider's own failures: these count against its breaker (a person's typo or refused number never does).
FAULTS = (ProviderThrottledError, ProviderUnavailableError, UpstreamError, UpstreamUnavailableError,
          UpstreamTimeoutError)
# A verification stored before providers were recorded was started by Vonage.
STORED_BEFORE_PROVIDERS = "vonage"
STATES = ("closed", "open", "half_open")


@dataclass(frozen=True)
class Sent:
    """A code on its way: the provider's request id, and the provider that holds the verification."""

    request_id: str
    provider: Provider


class Failover:
    """The verbs of app.providers.Provider over an ordered list of providers."""

    def __init__(self, providers: Sequence[Provider], breaker: Breaker | None = None,
                 test: TestNumbers | None = None) -> None:
        self.providers = tuple(providers)
        self._breaker = breaker if len(self.providers) > 1 else None
        # The operator's test numbers: their starts go there, never to a real provider.
        self.test = test if test is not None else TestNumbers({}, self.providers[0].lifetime)

    def listed(self, number: str) -> bool:
        """Whether ``number`` is one of the operator's test numbers."""
        return number in self.test

    def named(self, name: str) -> Provider:
        """The provider that holds a verification stored with ``name`` (the first, when it is no longer
        configured)."""
        name = name or STORED_BEFORE_PROVIDERS
        if name == self.test.name:
            return self.test
        return next((p for p in self.providers if p.name == name), self.providers[0])

    def start(self, number: str) -> Sent:
        """Send a code by the first provider that takes it; ProvidersUnavailableError when none would. A
        fault that may have sent names the provider that was asked (``provider``), which holds the code.
        The lifecycle has made sure the number has no pending verification of ours (app.store's reserve):
        a provider that would send that code again, or one that cannot see another provider's, is not asked.
        """
        if self.listed(number):
            return Sent(self.test.start(number), self.test)
        return self._start(number, self.providers)

    def _start(self, number: str, order: Sequence[Provider], moved_from: Provider | None = None,
               reason: str = "") -> Sent:
        waits: list[float] = []
        last: OtpError | None = None
        for provider in order:
            admitted = self._breaker.admit(provider.name) if self._breaker else Admitted(Admission.CLOSED, 0)
            if admitted.admission is Admission.OPEN:
                waits.append(admitted.retry_in)
                if moved_from is None:
                    moved_from, reason = provider, "open"
                continue
            if moved_from is not None:
                FAILOVERS.labels(moved_from.name, provider.name, reason).inc()
                if reason != "open":  # the breaker's opening was logged once; each skip is only counted
                    log.warning("failover from %s to %s: %s", moved_from.name, provider.name, reason, extra={
                        "event": "provider_failover", "from_provider": moved_from.name,
                        "to_provider": provider.name, "reason": reason})
            try:
                request_id = provider.start(number)
            except FAULTS as exc:
                self._failed(provider)
                if exc.may_have_sent:
                    exc.provider = provider.name
                    raise
                last, moved_from, reason = exc, provider, exc.code
                continue
            except VerificationInProgressError as exc:
                exc.provider = provider.name
                self._answered(provider, admitted)
                raise
            except OtpError:
                self._answered(provider, admitted)
                raise
            self._answered(provider, admitted)
            return Sent(request_id, provider)
        if last is not None:
            raise last
        raise ProvidersUnavailableError(math.ceil(min(waits, default=1)))

    def check(self, verification: Pending, code: str) -> None:
        self.named(verification.provider).check(verification, code)

    def status(self, verification: Pending) -> State:
        return self.named(verification.provider).status(verification)

    def cancel(self, verification: Pending) -> None:
        self.named(verification.provider).cancel(verification)

    def resend(self, verification: Pending) -> Sent | None:
        """Deliver the code again by its provider's next step (None); when that provider certainly could not,
        a new code by the next provider that takes starts, for the same verification (its Sent)."""
        provider = self.named(verification.provider)
        try:
            provider.resend(verification)
        except FAULTS as exc:
            self._failed(provider)
            if exc.may_have_sent or self._breaker is None:
                raise
            at = self.providers.index(provider)
            others = self.providers[at + 1:] + self.providers[:at]
            try:
                sent = self._start(verification.number, others, moved_from=provider, reason=exc.code)
            except OtpError as moving:
                # The new provider may have sent a code: say so. Otherwise the verification stays where it was.
                raise moving if moving.may_have_sent else exc from None
            try:
                provider.cancel(verification)  # its code must no longer verify; best effort, it is failing
            except OtpError as cancelling:
                log.info("could not cancel a verification moved off %s: %s", provider.name, cancelling.code)
            return sent
        except OtpError:
            self._answered(provider, None)
            raise
        self._answered(provider, None)
        return None

    def states(self) -> dict[str, str]:
        """Each provider's breaker: closed (takes starts), open (skipped), half_open (the next start tries it)."""
        states = {p.name: self._breaker.state(p.name) if self._breaker else "closed" for p in self.providers}
        for name, state in states.items():
            _show(name, state)
        return states

    def _failed(self, provider: Provider) -> None:
        if self._breaker is not None:
            self._changed(provider, self._breaker.failed(provider.name))

    def _answered(self, provider: Provider, admitted: Admitted | None) -> None:
        """The provider answered (a code sent, or a refusal about the number or the person)."""
        if self._breaker is not None and (admitted is None or admitted.failures or
                                          admitted.admission is Admission.TRIAL):
            self._changed(provider, self._breaker.succeeded(provider.name))

    def _changed(self, provider: Provider, change: Change | None) -> None:
        """One log event and the gauge for a breaker's change of state (called only with a breaker)."""
        if change is None:
            return
        after = "closed" if change is Change.RECOVERED else "open"
        log.log(logging.INFO if after == "closed" else logging.ERROR, "provider %s %s", provider.name,
                change.value, extra={"event": "provider_state", "provider": provider.name,
                                     "change": change.value, "state": after})
        _show(provider.name, after)


def _show(provider: str, state: str) -> None:
    """Set the state gauge: 1 for the provider's current state, 0 for the others."""
    for known in STATES:
        PROVIDER_STATE.labels(provider, known).set(int(known == state))
