"""RedisStore: pending verifications in Redis, shared by every worker and instance."""

from __future__ import annotations

import secrets
import urllib.parse
from dataclasses import replace
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry
from redis.sentinel import Sentinel

from ..errors import StoreError
from . import Pending

# Every script touches one verification's keys, all under its id's hash tag, so each verification may live
# on its own node of a cluster; none recreates a record that expired meanwhile.
# A check's hold: KEYS[2] names its holder while the hold is live (it expires by itself), the record's
# 'hold' field the last holder. A hold that ran out with the field still set was a check whose answer was
# lost. Sent again by redis-py after a lost answer, the script finds its own hold and counts nothing more.
_BEGIN_CHECK = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
local holder = redis.call('GET', KEYS[2])
local busy = 0
if holder ~= ARGV[1] then
  if holder then
    busy = 1
  else
    local last = redis.call('HGET', KEYS[1], 'hold')
    if last and last ~= '' then redis.call('HSET', KEYS[1], 'unsettled', 1) end
    redis.call('HINCRBY', KEYS[1], 'checks', ARGV[3])
    redis.call('HSET', KEYS[1], 'hold', ARGV[1])
    redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[2])
  end
end
local values = redis.call('HMGET', KEYS[1], 'number', 'rid', 'nonce', 'checks', 'deliveries', 'unsettled',
                          'challenge', 'provider')
values[9] = busy
return values
"""
_SETTLE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if redis.call('HGET', KEYS[1], 'hold') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'hold', '')
  if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
end
if ARGV[2] == '1' then redis.call('HSET', KEYS[1], 'unsettled', 1) end
return 1
"""
# Raise a count to ARGV[2], never lower it: the same answer when redis-py sends it again.
_RAISE_IF_EXISTS = """
if redis.call('EXISTS', KEYS[1]) == 1 and (tonumber(redis.call('HGET', KEYS[1], ARGV[1])) or 0) < tonumber(ARGV[2]) then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
end
"""
_MOVE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'rid', ARGV[1], 'provider', ARGV[2], 'deliveries', 1, 'unsettled', 0)
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
"""
_EXPIRE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('EXPIRE', KEYS[1], ARGV[2]) end
"""
# Delete, answering the same when sent again: redis-py resends a command whose answer timed out, and the
# plain DEL's second answer (0) would say that another request ended the verification. The first run leaves
# the operation's token beside the record (same hash tag) for a minute; a resend finds it and answers 1.
_DELETE_ONCE = """
if redis.call('DEL', KEYS[1]) == 1 then
  redis.call('SET', KEYS[2], ARGV[1], 'EX', 60)
  return 1
end
if redis.call('GET', KEYS[2]) == ARGV[1] then return 1 end
return 0
"""
# Claim a number for a verification (KEYS[1], the number's index; ARGV: the verification, seconds, and the
# holder found stale, whose record is gone): answers the live holder instead, or nothing once claimed. The
# record is written before, so a holder without one is stale; a resend by redis-py finds its own claim.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] and holder ~= ARGV[3] then return holder end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
"""
# Compare-and-delete: ending one verification cannot unindex a newer one of the same number.
_DELETE_IF_EQUAL = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
_FIELDS = ("number", "rid", "nonce", "checks", "deliveries", "unsettled", "challenge", "provider")


# Connections per process to one Redis. Under many concurrent requests (gevent workers) a request waits
# for a free one, up to the socket timeout, instead of failing: redis-py's own pool refuses the 101st.
POOL_CONNECTIONS = 64


# Seconds a Redis command may take by default (OTP_STORE_TIMEOUT): connecting, a free connection, an answer.
TIMEOUT = 2


def blocking_pool(url: str, timeout: float = TIMEOUT, **options: Any) -> redis.BlockingConnectionPool:
    """A bounded pool whose exhausted state is a short wait, not an error; every wait bounded by ``timeout``."""
    return redis.BlockingConnectionPool.from_url(url, max_connections=POOL_CONNECTIONS, timeout=timeout,
                                                 socket_timeout=timeout, socket_connect_timeout=timeout, **options)


def close_client(client: Any) -> None:
    """Close a client and its pool: a client given its pool leaves the pool's connections open on close()."""
    client.close()
    pool = getattr(client, "connection_pool", None)
    if pool is not None:
        pool.disconnect()


def _nodes(netloc: str, default_port: int) -> list[tuple[str, int]]:
    """``[user:password@]host[:port][,host[:port]...]`` -> [(host, port), ...]."""
    nodes = []
    for node in netloc.rpartition("@")[2].split(","):
        host, _, port = node.rpartition(":") if ":" in node else (node, "", "")
        nodes.append((host, int(port) if port else default_port))
    return nodes


class RedisStore:
    """Entries in Redis: shared by every worker and instance, and kept across restarts of the service.

    ``<prefix>v:{<id>}`` is a hash per verification; ``<prefix>n:<number>`` names the number's latest one;
    ``<prefix>c:{<id>}`` names the check that holds a verification, ``<prefix>d:{<id>}`` a delete's token.
    """

    def __init__(self, client: redis.Redis, prefix: str = "otp:") -> None:
        self._redis = client
        self._prefix = prefix
        self._begin_check = client.register_script(_BEGIN_CHECK)
        self._settle = client.register_script(_SETTLE)
        self._raise_if_exists = client.register_script(_RAISE_IF_EXISTS)
        self._delete_if_equal = client.register_script(_DELETE_IF_EQUAL)
        self._move = client.register_script(_MOVE)
        self._delete_once = client.register_script(_DELETE_ONCE)
        self._expire_if_equal = client.register_script(_EXPIRE_IF_EQUAL)
        self._claim = client.register_script(_CLAIM)

    @property
    def client(self) -> redis.Redis:
        """The Redis client (the providers' breakers share it)."""
        return self._redis

    @classmethod
    def from_url(cls, url: str, prefix: str = "otp:", timeout: float = TIMEOUT) -> RedisStore:
        """Connect lazily, with short timeouts so an outage fails fast, to one Redis (``redis://``,
        ``rediss://``), the master a Sentinel names (``redis+sentinel://host:port[,host:port]/service``) or
        a Cluster (``redis+cluster://host:port[,host:port]``): the URL forms `limits` takes too."""
        # One immediate retry covers a connection that a restart closed; no sleeps.
        options: dict[str, Any] = {"decode_responses": True, "retry": Retry(NoBackoff(), 1)}
        bounds: dict[str, Any] = {"socket_timeout": timeout, "socket_connect_timeout": timeout}
        scheme, _, rest = url.partition("://")
        if scheme in ("redis+sentinel", "redis+cluster"):
            parsed = urllib.parse.urlsplit(f"//{rest}")
            nodes = _nodes(parsed.netloc, 26379 if scheme == "redis+sentinel" else 6379)
            if parsed.password:
                options["password"] = urllib.parse.unquote(parsed.password)
            if scheme == "redis+cluster":
                cluster = RedisCluster(startup_nodes=[ClusterNode(h, p) for h, p in nodes],  # type: ignore[no-untyped-call]
                                       **options, **bounds)
                return cls(cluster, prefix)  # type: ignore[arg-type]
            service = parsed.path.strip("/").split("/")[0] or "mymaster"
            sentinel = Sentinel(nodes, sentinel_kwargs=bounds, **options, **bounds)  # type: ignore[no-untyped-call]
            return cls(sentinel.master_for(service), prefix)  # type: ignore[no-untyped-call]
        pool = blocking_pool(url, timeout, health_check_interval=30, **options)
        return cls(redis.Redis(connection_pool=pool), prefix)

    def _record(self, verification_id: str) -> str:
        # The verification's id as the hash tag: in a Cluster its key has the slot of its own, and every
        # script touches one key.
        return f"{self._prefix}v:{{{verification_id}}}"

    def _hold(self, verification_id: str) -> str:
        return f"{self._prefix}c:{{{verification_id}}}"

    def _index(self, number: str) -> str:
        return f"{self._prefix}n:{number}"

    def _pending(self, verification_id: str, values: list[Any]) -> Pending | None:
        number, rid, nonce, checks, deliveries, unsettled, challenge, provider = values
        if number is None or rid is None:
            return None
        return Pending(verification_id, number, rid, nonce or "", int(checks or 0), int(deliveries or 1),
                       unsettled == "1", challenge or "", provider or "")

    def create(self, pending: Pending, ttl: int) -> None:
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                self._write(pipe, pending, ttl)
                pipe.set(self._index(pending.number), pending.id, ex=ttl)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError() from exc

    def _write(self, pipe: Any, pending: Pending, ttl: int) -> None:
        record = self._record(pending.id)
        pipe.hset(record, mapping={"number": pending.number, "rid": pending.request_id, "nonce": pending.nonce,
                                   "checks": pending.checks, "deliveries": pending.deliveries,
                                   "unsettled": int(pending.unsettled), "challenge": pending.challenge,
                                   "provider": pending.provider})
        pipe.expire(record, ttl)

    def reserve(self, pending: Pending, ttl: int) -> Pending | None:
        # The record first (its own key, in a Cluster its own slot), then the number's index: a concurrent
        # send finds either no claim, or a claim whose record exists.
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                self._write(pipe, pending, ttl)
                pipe.execute()
            stale = ""
            for _ in range(3):
                holder = self._claim(keys=[self._index(pending.number)], args=[pending.id, ttl, stale])
                if not holder:
                    return None
                live = self.get(str(holder))
                if live is not None:
                    self._redis.delete(self._record(pending.id))
                    return live
                stale = str(holder)  # ended or expired without unindexing: take its place
        except redis.RedisError as exc:
            raise StoreError() from exc
        raise StoreError()  # the number changed hands three times meanwhile: answered 503, retried by the caller

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

    def begin_check(self, verification_id: str, check: str, hold: float, count: bool = True) -> Pending | None:
        try:
            values = self._begin_check(keys=[self._record(verification_id), self._hold(verification_id)],
                                       args=[check, max(1, int(hold * 1000)), int(count)])
        except redis.RedisError as exc:
            raise StoreError() from exc
        if not values:
            return None
        found = self._pending(verification_id, values[:8])
        return None if found is None else replace(found, busy=values[8] == 1)

    def settle(self, verification_id: str, check: str, lost: bool = False) -> None:
        try:
            self._settle(keys=[self._record(verification_id), self._hold(verification_id)], args=[check, int(lost)])
        except redis.RedisError as exc:
            raise StoreError() from exc

    def count_delivery(self, verification_id: str, made: int) -> None:
        try:
            self._raise_if_exists(keys=[self._record(verification_id)], args=["deliveries", made])
        except redis.RedisError as exc:
            raise StoreError() from exc

    def move(self, pending: Pending, request_id: str, provider: str, ttl: int) -> None:
        try:
            if self._move(keys=[self._record(pending.id)], args=[request_id, provider, ttl]):
                self._expire_if_equal(keys=[self._index(pending.number)], args=[pending.id, ttl])
        except redis.RedisError as exc:
            raise StoreError() from exc

    def delete(self, pending: Pending, outcome: str = "") -> bool:
        try:
            removed = bool(self._delete_once(keys=[self._record(pending.id), f"{self._prefix}d:{{{pending.id}}}"],
                                             args=[secrets.token_hex(8)]))
            self._delete_if_equal(keys=[self._index(pending.number)], args=[pending.id])
        except redis.RedisError as exc:
            raise StoreError() from exc
        return removed

    def ping(self) -> None:
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise StoreError() from exc

    def close(self) -> None:
        close_client(self._redis)
