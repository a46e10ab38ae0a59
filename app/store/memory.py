"""MemoryStore: pending verifications in this process's memory (the dev server or a single worker)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from . import Pending


@dataclass
class _Entry:
    pending: Pending
    expires_at: float
    # The check that holds the verification ('' for none), until when.
    hold: str = ""
    hold_until: float = 0.0


class MemoryStore:
    """Dicts with expiry behind a lock: one process only (the dev server or a single worker)."""

    SWEEP_EVERY = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, _Entry] = {}
        self._index: dict[str, str] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._creates = 0

    def _live(self, verification_id: str) -> _Entry | None:
        entry = self._data.get(verification_id)
        if entry is not None and entry.expires_at <= self._clock():
            self._drop(entry.pending)
            return None
        return entry

    def _drop(self, pending: Pending) -> None:
        del self._data[pending.id]
        if self._index.get(pending.number) == pending.id:
            del self._index[pending.number]

    def create(self, pending: Pending, ttl: int) -> None:
        with self._lock:
            self._put(pending, ttl)

    def _put(self, pending: Pending, ttl: int) -> None:
        now = self._clock()
        self._data[pending.id] = _Entry(pending, now + ttl)
        self._index[pending.number] = pending.id
        self._creates += 1
        if self._creates % self.SWEEP_EVERY == 0:
            # Entries nobody reads again would otherwise stay forever.
            for entry in [e for e in self._data.values() if e.expires_at <= now]:
                self._drop(entry.pending)

    def reserve(self, pending: Pending, ttl: int) -> Pending | None:
        with self._lock:
            holder = self._index.get(pending.number)
            entry = None if holder is None or holder == pending.id else self._live(holder)
            if entry is not None:
                return entry.pending
            self._put(pending, ttl)
            return None

    def get(self, verification_id: str) -> Pending | None:
        with self._lock:
            entry = self._live(verification_id)
            return None if entry is None else entry.pending

    def latest(self, number: str) -> Pending | None:
        with self._lock:
            verification_id = self._index.get(number)
            entry = None if verification_id is None else self._live(verification_id)
            return None if entry is None else entry.pending

    def begin_check(self, verification_id: str, check: str, hold: float, count: bool = True) -> Pending | None:
        with self._lock:
            entry = self._live(verification_id)
            if entry is None:
                return None
            now = self._clock()
            if entry.hold and entry.hold_until > now:
                return replace(entry.pending, busy=True)
            before = entry.pending
            entry.pending = replace(before, checks=before.checks + int(count),
                                    unsettled=before.unsettled or bool(entry.hold))
            entry.hold, entry.hold_until = check, now + hold
            return entry.pending

    def settle(self, verification_id: str, check: str, lost: bool = False) -> None:
        with self._lock:
            entry = self._live(verification_id)
            if entry is None:
                return
            if entry.hold == check:
                entry.hold = ""
            if lost:
                entry.pending = replace(entry.pending, unsettled=True)

    def count_delivery(self, verification_id: str, made: int) -> None:
        with self._lock:
            entry = self._live(verification_id)
            if entry is not None:
                entry.pending = replace(entry.pending, deliveries=max(made, entry.pending.deliveries))

    def move(self, pending: Pending, request_id: str, provider: str, ttl: int) -> None:
        with self._lock:
            entry = self._live(pending.id)
            if entry is not None:
                entry.pending = replace(entry.pending, request_id=request_id, provider=provider, deliveries=1,
                                        unsettled=False)
                entry.expires_at = self._clock() + ttl

    def delete(self, pending: Pending, outcome: str = "") -> bool:
        with self._lock:
            if self._live(pending.id) is None:
                return False
            self._drop(pending)
            return True

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
