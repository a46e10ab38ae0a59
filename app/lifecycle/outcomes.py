"""What the lifecycle records of a verification's end: the store's delete and settle, a best-effort cancel
at the provider, each event's log line and metric, and the sweep that ends verifications whose time ran
out. A store fault here costs only a log line: the entry expires on its own, and the provider refuses a
finished verification if it is checked again.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from collections.abc import Callable

from .. import phone
from ..callers import Caller
from ..errors import OtpError, StoreError
from ..metrics import VERIFICATIONS, last_provider_ms
from ..providers import channel_of
from ..providers.failover import Failover
from ..store import Pending, Record, Store, record_of

# The lifecycle's own logger: its events are one stream, whichever module writes them.
log = logging.getLogger("app.lifecycle")


class Outcomes:
    """Ends, settles and events of the verifications in one store, started by one provider."""

    def __init__(self, store: Store, provider: Failover, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.provider = provider
        self._clock = clock

    def end(self, verification: Pending, outcome: str, caller: Caller | None) -> bool:
        """End a verification with ``outcome`` (the store keeps its record) and, when this call ended it, log
        the end and count it; False when another request ended it first."""
        try:
            ended = self.store.delete(verification, outcome)
        except StoreError:
            log.error("could not remove the pending verification for %s", phone.mask(verification.number))
            ended = True
        if ended:
            self.ended(record_of(verification, outcome), caller)
        return ended

    def ended(self, record: Record, caller: Caller | None) -> None:
        """The one log event and metric of a verification's end, whatever ended it: a request of ``caller``,
        or (None) its time running out, when the event names who started it."""
        address, key = (caller.address, caller.api_key) if caller else (record.address, record.caller)
        channel = self._channel(record.provider, record.deliveries)
        extra: dict[str, object] = {
            "event": "verification_ended", "outcome": record.outcome, "number": record.number,
            "country": record.country, "provider": record.provider, "provider_request_id": record.request_id,
            "channel": channel, "client": address, "deliveries": record.deliveries, "checks": record.checks}
        if record.started:
            extra["age_s"] = round(self._clock() - record.started, 1)
        if key:
            extra["caller"] = key  # the API key's name, never the key
        if caller is not None:
            extra["vonage_ms"] = last_provider_ms.get()
        log.info("verification %s for %s (%s %s)", record.outcome, record.number, record.provider or "-",
                 record.request_id or "-", extra=extra)
        VERIFICATIONS.labels(record.outcome, record.country, channel, record.provider).inc()

    def event(self, outcome: str, verification: Pending, caller: Caller, event: str = "verification") -> None:
        """Log one event of a verification that goes on (started, resent, a wrong code, ...) and count it."""
        masked, country = phone.mask(verification.number), phone.country(verification.number)
        channel = self._channel(verification.provider, verification.deliveries) if verification.provider else ""
        extra: dict[str, object] = {
            "event": event, "outcome": outcome, "number": masked, "country": country,
            "provider": verification.provider, "provider_request_id": verification.request_id, "channel": channel,
            "client": caller.address, "vonage_ms": last_provider_ms.get()}
        if caller.api_key:
            extra["caller"] = caller.api_key  # the API key's name, never the key
        log.info("%s %s for %s", event, outcome, masked, extra=extra)
        VERIFICATIONS.labels(outcome, country, channel, verification.provider).inc()

    def _channel(self, provider: str, deliveries: int) -> str:
        """The channel of a verification's latest delivery."""
        return channel_of(self.provider.named(provider).channels, deliveries)

    def settle(self, verification: Pending, check: str, lost: bool = False, uncount: bool = False) -> None:
        """Release a check's hold (``lost``: its outcome is unknown; ``uncount``: it never reached the provider)."""
        try:
            self.store.settle(verification.id, check, lost, uncount)
        except StoreError:
            # The hold runs out by itself and then counts as lost: the next check asks the provider first.
            log.error("could not settle a check for %s", phone.mask(verification.number))

    def cancel_quietly(self, verification: Pending) -> None:
        """End the verification at the provider, best effort: the entry is already gone either way."""
        try:
            self.provider.cancel(verification)
        except OtpError as exc:
            log.info("could not cancel a finished verification: %s", exc.code)

    def sweep(self, limit: int = 100, rounds: int = 10) -> int:
        """End the verifications whose time ran out unchecked, each with its event: how many. A store fault
        is logged; the next sweep finds them still due."""
        count = 0
        for _ in range(rounds):
            try:
                ran_out = self.store.expired(limit)
            except StoreError:
                log.error("could not sweep expired verifications: the store did not answer")
                break
            for record in ran_out:
                self.ended(record, None)
            count += len(ran_out)
            if len(ran_out) < limit:
                break
        return count


class Sweeper:
    """Runs ``sweep`` every ``seconds`` (give or take a tenth, so that workers spread out) in a daemon thread
    (a greenlet under gevent), started once per process by its first ``ensure()``."""

    def __init__(self, sweep: Callable[[], object], seconds: float) -> None:
        self._sweep = sweep
        self._seconds = seconds
        self._pid = 0
        self._lock = threading.Lock()
        # Its own generator: the global one's state belongs to whoever else uses it.
        self._jitter = random.Random()

    def ensure(self) -> None:
        """Start the sweeper of this process unless it runs (after a fork, the child starts its own)."""
        if self._pid == os.getpid() or not self._seconds:
            return
        with self._lock:
            if self._pid != os.getpid():
                self._pid = os.getpid()
                threading.Thread(target=self._run, name="otp-expiry-sweep", daemon=True).start()

    def _run(self) -> None:
        while True:
            time.sleep(self._seconds * self._jitter.uniform(0.9, 1.1))
            try:
                self._sweep()
            except Exception:  # a sweep must never end the thread; the next one tries again
                log.exception("the expiry sweep failed")
