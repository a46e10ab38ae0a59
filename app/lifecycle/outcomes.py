"""What the lifecycle records of a verification's end: the store's delete and settle, a best-effort cancel
at the provider, and each event's log line and metric. A store fault here costs only a log line: the
entry expires on its own, and the provider refuses a finished verification if it is checked again.
"""

from __future__ import annotations

import logging

from .. import phone
from ..callers import Caller
from ..errors import OtpError, StoreError
from ..metrics import VERIFICATIONS, last_provider_ms
from ..providers.failover import Failover
from ..store import Pending, Store

# The lifecycle's own logger: its events are one stream, whichever module writes them.
log = logging.getLogger("app.lifecycle")


class Outcomes:
    """Ends, settles and events of the verifications in one store, started by one provider."""

    def __init__(self, store: Store, provider: Failover) -> None:
        self.store = store
        self.provider = provider

    def end(self, verification: Pending, outcome: str) -> bool:
        """Forget a verification that is over (a SQL store keeps its record); False when another request
        ended it first."""
        try:
            return self.store.delete(verification, outcome)
        except StoreError:
            log.error("could not remove the pending verification for %s", phone.mask(verification.number))
            return True

    def settle(self, verification: Pending, check: str, lost: bool = False) -> None:
        """Release a check's hold (``lost``: its outcome is unknown)."""
        try:
            self.store.settle(verification.id, check, lost)
        except StoreError:
            # The hold runs out by itself and then counts as lost: the next check asks the provider first.
            log.error("could not settle a check for %s", phone.mask(verification.number))

    def cancel_quietly(self, verification: Pending) -> None:
        """End the verification at the provider, best effort: the entry is already gone either way."""
        try:
            self.provider.cancel(verification)
        except OtpError as exc:
            log.info("could not cancel a finished verification: %s", exc.code)

    def event(self, outcome: str, number: str, caller: Caller, event: str = "verification") -> None:
        """Log one verification event (masked number, provider latency) and count its outcome."""
        masked = phone.mask(number)
        extra = {"event": event, "outcome": outcome, "number": masked, "vonage_ms": last_provider_ms.get()}
        if caller.api_key:
            extra["caller"] = caller.api_key  # the API key's name, never the key
        log.info("%s %s for %s", event, outcome, masked, extra=extra)
        VERIFICATIONS.labels(outcome, phone.country(number) if outcome in ("started", "approved") else "").inc()
