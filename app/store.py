"""Pending verifications: normalised phone number -> provider request id and checks made, with a TTL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .config import ConfigError
from .errors import StoreError

# Each entry is a hash {rid, checks}. Storing a request id keeps its check count when the id is the one
# already stored (a 409 that names the request in progress must not hand out fresh attempts), and starts
# from zero for a new request.
_PUT = """
if redis.call('HGET', KEYS[1], 'rid') ~= ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], 'rid', ARGV[1], 'checks', 0)
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
"""
_COUNT_CHECK = """
local rid = redis.call('HGET', KEYS[1], 'rid')
if not rid then return false end
return {rid, redis.call('HINCRBY', KEYS[1], 'checks', 1)}
"""
# Compare-and-delete: a check that ends one verification cannot remove a newer one stored meanwhile.
_DELETE_IF_EQUAL = """
if redis.call('HGET', KEYS[1], 'rid') == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Store(Protocol):
    """Pending verifications, shared by every worker that uses the same backend."""

    def put(self, key: str, request_id: str, ttl: int) -> None:
        """Store ``request_id`` under ``key`` for ``ttl`` seconds (a new id starts with no checks)."""

    def get(self, key: str) -> str | None:
        """Return the request id under ``key``, or None when there is none or it has expired."""

    def count_check(self, key: str) -> tuple[str, int] | None:
        """Count one more check of ``key``'s verification: (request id, checks so far), or None."""

    def delete(self, key: str, expected: str | None = None) -> bool:
        """Remove ``key`` (only if it still holds ``expected``, when given); True when removed."""

    def ping(self) -> None:
        """Raise StoreError unless the backend answers."""


@dataclass
class _Entry:
    request_id: str
    expires_at: float
    checks: int = 0


class MemoryStore:
    """A dict with expiry behind a lock: one process only (the dev server or a single worker)."""

    SWEEP_EVERY = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, _Entry] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._puts = 0

    def _live(self, key: str) -> _Entry | None:
        entry = self._data.get(key)
        if entry is not None and entry.expires_at <= self._clock():
            del self._data[key]
            return None
        return entry

    def put(self, key: str, request_id: str, ttl: int) -> None:
        with self._lock:
            now = self._clock()
            entry = self._live(key)
            if entry is None or entry.request_id != request_id:
                self._data[key] = _Entry(request_id, now + ttl)
            else:
                entry.expires_at = now + ttl
            self._puts += 1
            if self._puts % self.SWEEP_EVERY == 0:
                # Entries nobody reads again would otherwise stay forever.
                self._data = {k: e for k, e in self._data.items() if e.expires_at > now}

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._live(key)
            return None if entry is None else entry.request_id

    def count_check(self, key: str) -> tuple[str, int] | None:
        with self._lock:
            entry = self._live(key)
            if entry is None:
                return None
            entry.checks += 1
            return entry.request_id, entry.checks

    def delete(self, key: str, expected: str | None = None) -> bool:
        with self._lock:
            entry = self._live(key)
            if entry is None or (expected is not None and entry.request_id != expected):
                return False
            del self._data[key]
            return True

    def ping(self) -> None:
        return None

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)


class RedisStore:
    """Entries in Redis: shared by every worker and instance, and kept across restarts of the service."""

    def __init__(self, client: redis.Redis, prefix: str = "otp:pending:") -> None:
        self._redis = client
        self._prefix = prefix
        self._put = client.register_script(_PUT)
        self._count_check = client.register_script(_COUNT_CHECK)
        self._delete_if_equal = client.register_script(_DELETE_IF_EQUAL)

    @classmethod
    def from_url(cls, url: str, prefix: str = "otp:pending:") -> RedisStore:
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

    def put(self, key: str, request_id: str, ttl: int) -> None:
        try:
            self._put(keys=[self._prefix + key], args=[request_id, ttl])
        except redis.RedisError as exc:
            raise StoreError() from exc

    def get(self, key: str) -> str | None:
        try:
            value = self._redis.hget(self._prefix + key, "rid")
        except redis.RedisError as exc:
            raise StoreError() from exc
        return None if value is None else str(value)

    def count_check(self, key: str) -> tuple[str, int] | None:
        try:
            found = self._count_check(keys=[self._prefix + key])
        except redis.RedisError as exc:
            raise StoreError() from exc
        return (str(found[0]), int(found[1])) if found else None

    def delete(self, key: str, expected: str | None = None) -> bool:
        try:
            if expected is None:
                return bool(self._redis.delete(self._prefix + key))
            return bool(self._delete_if_equal(keys=[self._prefix + key], args=[expected]))
        except redis.RedisError as exc:
            raise StoreError() from exc

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
