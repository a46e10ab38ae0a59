"""Where pending verifications live: normalised phone number -> provider request id, with a TTL."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from .config import ConfigError
from .errors import StoreError

# Compare-and-delete: remove the entry only if it still names the request we acted on, so a check that
# ends one verification cannot remove a newer one that another request stored in the meantime.
_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class Store(Protocol):
    """A small key-value store with expiry, shared by every worker that uses the same backend."""

    def put(self, key: str, value: str, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any previous value."""

    def get(self, key: str) -> str | None:
        """Return the value under ``key``, or None when there is none or it has expired."""

    def delete(self, key: str, expected: str | None = None) -> bool:
        """Remove ``key`` (only if it still holds ``expected``, when given); True when removed."""

    def ping(self) -> None:
        """Raise StoreError unless the backend answers."""


class MemoryStore:
    """A dict with expiry behind a lock: one process only (the dev server or a single worker)."""

    SWEEP_EVERY = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()
        self._clock = clock
        self._puts = 0

    def put(self, key: str, value: str, ttl: int) -> None:
        with self._lock:
            now = self._clock()
            self._data[key] = (value, now + ttl)
            self._puts += 1
            if self._puts % self.SWEEP_EVERY == 0:
                # Entries nobody reads again would otherwise stay forever.
                self._data = {k: v for k, v in self._data.items() if v[1] > now}

    def get(self, key: str) -> str | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            if item[1] <= self._clock():
                del self._data[key]
                return None
            return item[0]

    def delete(self, key: str, expected: str | None = None) -> bool:
        with self._lock:
            item = self._data.get(key)
            if item is None or (expected is not None and item[0] != expected):
                return False
            del self._data[key]
            return item[1] > self._clock()

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

    def put(self, key: str, value: str, ttl: int) -> None:
        try:
            self._redis.set(self._prefix + key, value, ex=ttl)
        except redis.RedisError as exc:
            raise StoreError() from exc

    def get(self, key: str) -> str | None:
        try:
            value = self._redis.get(self._prefix + key)
        except redis.RedisError as exc:
            raise StoreError() from exc
        return None if value is None else str(value)

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
