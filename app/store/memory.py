"""MemoryStore: pending verifications in this process's memory (the dev server or a single worker)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from . import Pending, Record, record_of

# Ended verifications kept for lookups in this process: the newest, up to this many.
MAX_RECORDS = 10_000


@dataclass
class _Entry:
    pending: Pending
    expires_at: float
    # The check that holds the verification ('' for none), until when.
    hold: str = ""
    hold_until: float = 0.0


class MemoryStore:
    """Dicts with expiry behind a lock: one process only (the dev server or a single worker)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, record_days: int = 0,
                 wall: Callable[[], float] = time.time) -> None:
        self._data: dict[str, _Entry] = {}
        self._index: dict[str, str] = {}
        # Ended verifications with their numbers, oldest first (dicts keep insertion order).
        self._records: dict[str, tuple[str, Record]] = {}
        self._record_seconds = record_days * 86_400
        self._lock = threading.Lock()
        self._clock = clock
        self._wall = wall

    def _live(self, verification_id: str) -> _Entry | None:
        # An entry whose time ran out stays until expired() ends it (and records it): it is just not served.
        entry = self._data.get(verification_id)
        return None if entry is None or entry.expires_at <= self._clock() else entry

    def _drop(self, pending: Pending) -> None:
        del self._data[pending.id]
        if self._index.get(pending.number) == pending.id:
            del self._index[pending.number]

    def create(self, pending: Pending, ttl: int) -> None:
        with self._lock:
            self._put(pending, ttl)

    def _put(self, pending: Pending, ttl: int) -> None:
        started = pending.started or self._wall()
        self._data[pending.id] = _Entry(replace(pending, started=started), self._clock() + ttl)
        self._index[pending.number] = pending.id

    def _record(self, pending: Pending, outcome: str) -> Record:
        record = record_of(pending, outcome, self._wall())
        if self._record_seconds:
            self._records[pending.id] = (pending.number, replace(record, address=""))  # the end's event had it
            while len(self._records) > MAX_RECORDS:
                del self._records[next(iter(self._records))]
            for key, (_, old) in list(self._records.items())[:100]:  # oldest first
                if (old.ended or 0) >= (record.ended or 0) - self._record_seconds:
                    break
                del self._records[key]
        return record

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

    def settle(self, verification_id: str, check: str, lost: bool = False, uncount: bool = False) -> None:
        with self._lock:
            entry = self._live(verification_id)
            if entry is None:
                return
            if entry.hold == check:
                entry.hold = ""
                if uncount:
                    entry.pending = replace(entry.pending, checks=entry.pending.checks - 1)
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
            entry = self._live(pending.id)
            if entry is None:
                if outcome == "approved" and pending.id in self._records:
                    # A concurrent check ended it first, with the provider's "verified already": approved.
                    number, record = self._records[pending.id]
                    self._records[pending.id] = (number, replace(record, outcome=outcome))
                return False
            self._drop(entry.pending)
            if outcome:
                self._record(entry.pending, outcome)
            return True

    def expired(self, limit: int) -> list[Record]:
        with self._lock:
            now = self._clock()
            ran_out = [e.pending for e in self._data.values() if e.expires_at <= now][:limit]
            for pending in ran_out:
                self._drop(pending)
            return [self._record(pending, "expired") for pending in ran_out]

    def lookup(self, key: str) -> list[Record]:
        with self._lock:
            live = [e.pending for e in self._data.values()
                    if (e.pending.id == key or e.pending.number == key) and e.expires_at > self._clock()]
            ended = [r for number, r in self._records.values() if key in (r.id, number)]
        found = [record_of(p) for p in live] + ended
        return sorted(found, key=lambda r: r.started, reverse=True)

    def ping(self) -> None:
        return None

    def close(self) -> None:
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
