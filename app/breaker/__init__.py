"""Circuit breakers of the providers: which ones new starts skip, shared by every worker that shares a Redis.

Each provider has one breaker. ``threshold`` consecutive failures (a success resets the count) open it:
new starts skip the provider for ``cooldown`` seconds. Then one start, one across every worker and machine
that share the breaker, claims the trial (atomically); the others keep skipping while it runs. The
trial's success closes the breaker, its failure opens it for another cooldown, and a trial that never
reports (its worker died) frees the claim after a cooldown. What counts as a failure is the caller's
business (app.providers.failover).

In Redis (the store's, else the limits storage's) one script per step reads and writes a provider's hash
on the server's clock, so a fleet learns once; without Redis the state is this process's own.
"""

from __future__ import annotations

import enum
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from limits.storage import RedisStorage, Storage


class Admission(enum.Enum):
    """What a breaker lets a start do."""

    CLOSED = "closed"  # the provider takes starts
    TRIAL = "trial"  # this start is the one that tries the provider again
    OPEN = "open"  # skip the provider


class Change(enum.Enum):
    """A breaker's change of state, for one log event and the metric."""

    TRIPPED = "tripped"  # closed -> open: the threshold was reached
    REOPENED = "reopened"  # the trial (or another call past the cooldown) failed: another cooldown
    RECOVERED = "recovered"  # open -> closed: a call succeeded


@dataclass(frozen=True)
class Admitted:
    admission: Admission
    # Consecutive failures counted so far: a success need not be reported while there are none.
    failures: int
    # Seconds until the provider is tried again (0 unless open).
    retry_in: float = 0


class Breaker(Protocol):
    threshold: int
    cooldown: int

    def admit(self, name: str) -> Admitted:
        """Whether a new start may use provider ``name`` (claiming the trial when it is due)."""

    def failed(self, name: str) -> Change | None:
        """Count one failure of ``name``; the change of state it caused, if any."""

    def succeeded(self, name: str) -> Change | None:
        """Reset ``name``'s failures; RECOVERED when that closed the breaker."""

    def state(self, name: str) -> str:
        """closed, open (skipped) or half_open (its cooldown is over: the next start tries it)."""


@dataclass
class _Entry:
    failures: int = 0
    open_until: float = 0  # 0: closed
    trial_until: float = 0


class MemoryBreaker:
    """Breakers in this process's memory, behind a lock: each worker learns on its own."""

    def __init__(self, threshold: int, cooldown: int) -> None:
        self.threshold, self.cooldown = threshold, cooldown
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def admit(self, name: str) -> Admitted:
        with self._lock:
            entry, now = self._entries.setdefault(name, _Entry()), time.time()
            if not entry.open_until:
                return Admitted(Admission.CLOSED, entry.failures)
            if now < max(entry.open_until, entry.trial_until):
                return Admitted(Admission.OPEN, entry.failures, max(entry.open_until, entry.trial_until) - now)
            entry.trial_until = now + self.cooldown
            return Admitted(Admission.TRIAL, entry.failures)

    def failed(self, name: str) -> Change | None:
        with self._lock:
            entry, now = self._entries.setdefault(name, _Entry()), time.time()
            entry.failures += 1
            if not entry.open_until:
                if entry.failures < self.threshold:
                    return None
                entry.open_until, entry.trial_until = now + self.cooldown, 0
                return Change.TRIPPED
            if now < entry.open_until:
                return None
            entry.open_until, entry.trial_until = now + self.cooldown, 0
            return Change.REOPENED

    def succeeded(self, name: str) -> Change | None:
        with self._lock:
            entry = self._entries.pop(name, None)
            return Change.RECOVERED if entry is not None and entry.open_until else None

    def state(self, name: str) -> str:
        with self._lock:
            entry = self._entries.get(name, _Entry())
        return _state(entry.open_until, time.time())


def _state(open_until: float, now: float) -> str:
    return "closed" if not open_until else "open" if now < open_until else "half_open"


def breaker_for(store: Any, storage: Storage, threshold: int, cooldown: int) -> Breaker:
    """The breakers in the store's Redis when it is one (its ``client``), else in the limits storage's Redis,
    else in this process."""
    client = getattr(store, "client", None)
    if client is None and isinstance(storage, RedisStorage):
        client = storage.get_connection()
    if client is None:
        return MemoryBreaker(threshold, cooldown)
    from .redis import RedisBreaker

    return RedisBreaker(client, threshold, cooldown)
