"""Pending verifications: verification id -> number, provider request id, nonce and counters, with a TTL.

Each verification is found by its id (the handle its owner holds); a per-number index names the latest
verification of each number, so that a second request for a number can tell whether the provider's
"already in progress" is one of ours.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .config import ConfigError
from .errors import StoreError


@dataclass(frozen=True)
class Pending:
    """One pending verification, as its owner's requests see it."""

    id: str
    number: str
    request_id: str
    nonce: str = ""
    checks: int = 0
    # Deliveries made so far: 1 after the first code, one more for each next step of the workflow.
    deliveries: int = 1
    # A check began and its outcome was never learnt (a timeout, a dropped connection, a worker killed
    # mid-call): Vonage may have approved the code. The next check asks Vonage first.
    unsettled: bool = False


class Store(Protocol):
    """Pending verifications, shared by every worker that uses the same backend."""

    def create(self, pending: Pending, ttl: int) -> None:
        """Keep ``pending`` for ``ttl`` seconds and make it the latest verification of its number."""

    def get(self, verification_id: str) -> Pending | None:
        """Return the verification with this id, or None when there is none or it has expired."""

    def latest(self, number: str) -> Pending | None:
        """Return the latest pending verification of ``number``, or None."""

    def begin_check(self, verification_id: str) -> Pending | None:
        """Count one more check and mark it unsettled, atomically; return the verification as it was
        before this mark (``unsettled`` says whether an earlier check never settled), or None."""

    def settle(self, verification_id: str) -> None:
        """Record that the last check's outcome is known."""

    def count_delivery(self, verification_id: str) -> None:
        """Count one more delivery of the code."""

    def delete(self, pending: Pending) -> bool:
        """Remove the verification (and the number's index when it still names it); True when removed."""

    def ping(self) -> None:
        """Raise StoreError unless the backend answers."""


@dataclass
class _Entry:
    pending: Pending
    expires_at: float


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
            now = self._clock()
            self._data[pending.id] = _Entry(pending, now + ttl)
            self._index[pending.number] = pending.id
            self._creates += 1
            if self._creates % self.SWEEP_EVERY == 0:
                # Entries nobody reads again would otherwise stay forever.
                for entry in [e for e in self._data.values() if e.expires_at <= now]:
                    self._drop(entry.pending)

    def get(self, verification_id: str) -> Pending | None:
        with self._lock:
            entry = self._live(verification_id)
            return None if entry is None else entry.pending

    def latest(self, number: str) -> Pending | None:
        with self._lock:
            verification_id = self._index.get(number)
            entry = None if verification_id is None else self._live(verification_id)
            return None if entry is None else entry.pending

    def begin_check(self, verification_id: str) -> Pending | None:
        with self._lock:
            entry = self._live(verification_id)
            if entry is None:
                return None
            before = entry.pending
            entry.pending = replace(before, checks=before.checks + 1, unsettled=True)
            return replace(entry.pending, unsettled=before.unsettled)

    def settle(self, verification_id: str) -> None:
        with self._lock:
            entry = self._live(verification_id)
            if entry is not None:
                entry.pending = replace(entry.pending, unsettled=False)

    def count_delivery(self, verification_id: str) -> None:
        with self._lock:
            entry = self._live(verification_id)
            if entry is not None:
                entry.pending = replace(entry.pending, deliveries=entry.pending.deliveries + 1)

    def delete(self, pending: Pending) -> bool:
        with self._lock:
            if self._live(pending.id) is None:
                return False
            self._drop(pending)
            return True

    def ping(self) -> None:
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


# Every script touches one key, so each key may live on its own node of a cluster; none recreates a
# record that expired meanwhile.
_BEGIN_CHECK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local before = redis.call('HGET', KEYS[1], 'unsettled') or '0'
redis.call('HINCRBY', KEYS[1], 'checks', 1)
redis.call('HSET', KEYS[1], 'unsettled', 1)
local values = redis.call('HMGET', KEYS[1], 'number', 'rid', 'nonce', 'checks', 'deliveries')
values[6] = before
return values
"""
_SET_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
"""
_INCR_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HINCRBY', KEYS[1], ARGV[1], 1) end
"""
# Compare-and-delete: ending one verification cannot unindex a newer one of the same number.
_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_FIELDS = ("number", "rid", "nonce", "checks", "deliveries", "unsettled")


class RedisStore:
    """Entries in Redis: shared by every worker and instance, and kept across restarts of the service.

    ``<prefix>v:<id>`` is a hash per verification; ``<prefix>n:<number>`` names the number's latest one.
    """

    def __init__(self, client: redis.Redis, prefix: str = "otp:") -> None:
        self._redis = client
        self._prefix = prefix
        self._begin_check = client.register_script(_BEGIN_CHECK)
        self._set_if_exists = client.register_script(_SET_IF_EXISTS)
        self._incr_if_exists = client.register_script(_INCR_IF_EXISTS)
        self._delete_if_equal = client.register_script(_DELETE_IF_EQUAL)

    @classmethod
    def from_url(cls, url: str, prefix: str = "otp:") -> RedisStore:
        """Connect lazily to ``redis://`` or ``rediss://`` with short timeouts, so an outage fails fast."""
        client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_timeout=2,
            socket_connect_timeout=2,
            health_check_interval=30,
            # One immediate retry covers a connection that a Redis restart closed; no backoff sleeps.
            retry=Retry(NoBackoff(), 1),
        )
        return cls(client, prefix)

    def _record(self, verification_id: str) -> str:
        return f"{self._prefix}v:{verification_id}"

    def _index(self, number: str) -> str:
        return f"{self._prefix}n:{number}"

    def _pending(self, verification_id: str, values: list[Any]) -> Pending | None:
        number, rid, nonce, checks, deliveries, unsettled = values
        if number is None or rid is None:
            return None
        return Pending(verification_id, number, rid, nonce or "", int(checks or 0), int(deliveries or 1),
                       unsettled == "1")

    def create(self, pending: Pending, ttl: int) -> None:
        record = self._record(pending.id)
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                pipe.hset(record, mapping={"number": pending.number, "rid": pending.request_id,
                                           "nonce": pending.nonce, "checks": pending.checks,
                                           "deliveries": pending.deliveries,
                                           "unsettled": int(pending.unsettled)})
                pipe.expire(record, ttl)
                pipe.set(self._index(pending.number), pending.id, ex=ttl)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError() from exc

    def get(self, verification_id: str) -> Pending | None:
        try:
            values = self._redis.hmget(self._record(verification_id), _FIELDS)
        except redis.RedisError as exc:
            raise StoreError() from exc
        return self._pending(verification_id, values)

    def latest(self, number: str) -> Pending | None:
        try:
            verification_id = self._redis.get(self._index(number))
        except redis.RedisError as exc:
            raise StoreError() from exc
        return None if verification_id is None else self.get(str(verification_id))

    def begin_check(self, verification_id: str) -> Pending | None:
        try:
            values = self._begin_check(keys=[self._record(verification_id)])
        except redis.RedisError as exc:
            raise StoreError() from exc
        return self._pending(verification_id, values) if values else None

    def settle(self, verification_id: str) -> None:
        try:
            self._set_if_exists(keys=[self._record(verification_id)], args=["unsettled", 0])
        except redis.RedisError as exc:
            raise StoreError() from exc

    def count_delivery(self, verification_id: str) -> None:
        try:
            self._incr_if_exists(keys=[self._record(verification_id)], args=["deliveries"])
        except redis.RedisError as exc:
            raise StoreError() from exc

    def delete(self, pending: Pending) -> bool:
        try:
            removed = bool(self._redis.delete(self._record(pending.id)))
            self._delete_if_equal(keys=[self._index(pending.number)], args=[pending.id])
        except redis.RedisError as exc:
            raise StoreError() from exc
        return removed

    def ping(self) -> None:
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise StoreError() from exc


def store_from_url(url: str) -> Store:
    """Build the backend the URL's scheme names; an unknown scheme fails at startup."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme == "memory":
        return MemoryStore()
    if scheme in ("redis", "rediss"):
        return RedisStore.from_url(url)
    raise ConfigError("OTP_STORE_URL must start with memory://, redis:// or rediss://")
