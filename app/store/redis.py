"""RedisStore: pending verifications in Redis, shared by every worker and instance."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import replace
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.exceptions import NoScriptError

from .. import phone
from ..errors import StoreError
from . import Pending, Record
from . import redis_scripts as lua
from .redis_client import TIMEOUT, close_client, connect

_FIELDS = ("number", "rid", "nonce", "checks", "deliveries", "unsettled", "challenge", "provider", "address", "caller",
           "started")
# A record's fields (<prefix>r:{<id>}): written with the verification, closed at its end.
_RECORD = ("masked", "country", "provider", "rid", "deliveries", "checks", "started", "outcome", "ended", "address",
           "caller")
# Seconds an open record outlives its verification: the expiry sweep's time to close it.
RECORD_GRACE = 3600
# The sorted set of verifications by expiry (epoch seconds), which the expiry sweep reads.
EXPIRIES = "x"


def _record(verification_id: str, values: list[Any]) -> Record:
    masked, country, provider, rid, deliveries, checks, started, outcome, ended, address, caller = values
    return Record(verification_id, masked or "", country or "", provider or "", rid or "", int(deliveries or 1),
                  int(checks or 0), float(started or 0), outcome or "", float(ended) if ended else None,
                  address or "", caller or "")


class RedisStore:
    """Entries in Redis: shared by every worker and instance, and kept across restarts of the service.

    ``<prefix>v:{<id>}`` is a hash per verification; ``<prefix>n:<number>`` names the number's latest one;
    ``<prefix>c:{<id>}`` names the check that holds a verification, ``<prefix>d:{<id>}`` a delete's token.
    ``<prefix>r:{<id>}`` is its record (no number: masked, country, provider, counts, outcome), written with it
    and closed at its end, ``<prefix>x`` the sorted set of verifications by expiry that the expiry sweep
    reads, ``<prefix>h:<number's keyed hash>`` the records of a number (support lookups).
    """

    def __init__(self, client: redis.Redis, prefix: str = "otp:", record_days: int = 0,
                 record_key: bytes = b"") -> None:
        self._redis = client
        self._prefix = prefix
        # One server (not a Cluster, whose pipelines cannot run scripts): a verb's commands share round trips.
        self._single = not isinstance(client, RedisCluster)
        self._record_seconds = record_days * 86_400
        self._record_key = record_key
        self._begin_check = client.register_script(lua.BEGIN_CHECK)
        self._settle = client.register_script(lua.SETTLE)
        self._count_delivery = client.register_script(lua.COUNT_DELIVERY)
        self._expire = client.register_script(lua.EXPIRE)
        self._delete_if_equal = client.register_script(lua.DELETE_IF_EQUAL)
        self._move = client.register_script(lua.MOVE)
        self._delete_once = client.register_script(lua.DELETE_ONCE)
        self._expire_if_equal = client.register_script(lua.EXPIRE_IF_EQUAL)
        self._claim = client.register_script(lua.CLAIM)
        self._reserve = client.register_script(lua.RESERVE)
        self._move_all = client.register_script(lua.MOVE_ALL)

    @property
    def client(self) -> redis.Redis:
        """The Redis client (the providers' breakers share it)."""
        return self._redis

    @classmethod
    def from_url(cls, url: str, prefix: str = "otp:", timeout: float = TIMEOUT, record_days: int = 0,
                 record_key: bytes = b"") -> RedisStore:
        """Connect lazily to the Redis, Sentinel or Cluster the URL names (app.store.redis_client)."""
        return cls(connect(url, timeout), prefix, record_days, record_key)

    def _record(self, verification_id: str) -> str:
        # The verification's id as the hash tag: in a Cluster its key has the slot of its own, and every
        # script touches one key.
        return f"{self._prefix}v:{{{verification_id}}}"

    def _hold(self, verification_id: str) -> str:
        return f"{self._prefix}c:{{{verification_id}}}"

    def _index(self, number: str) -> str:
        return f"{self._prefix}n:{number}"

    def _log(self, verification_id: str) -> str:
        # The record of a verification, under its hash tag: its scripts reach it beside the verification.
        return f"{self._prefix}r:{{{verification_id}}}"

    def _of_number(self, number: str) -> str:
        """The sorted set of a number's records, named by its keyed hash (a record never holds the number)."""
        digest = hmac.new(self._record_key or b"otp-service records", number.encode(), hashlib.sha256).hexdigest()
        return f"{self._prefix}h:{digest}"

    def _pending(self, verification_id: str, values: list[Any]) -> Pending | None:
        number, rid, nonce, checks, deliveries, unsettled, challenge, provider, address, caller, started = values
        if number is None or rid is None:
            return None
        return Pending(verification_id, number, rid, nonce or "", int(checks or 0), int(deliveries or 1),
                       unsettled == "1", challenge or "", provider or "", address=address or "", caller=caller or "",
                       started=float(started or 0))

    def create(self, pending: Pending, ttl: int) -> None:
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                self._write(pipe, pending, ttl)
                pipe.set(self._index(pending.number), pending.id, ex=ttl)
                pipe.execute()
        except redis.RedisError as exc:
            raise StoreError() from exc

    @staticmethod
    def _fields(pending: Pending, started: float) -> tuple[dict[str, Any], dict[str, Any]]:
        """The verification's fields, and its record's (open until an end, or the expiry sweep, closes it)."""
        return ({"number": pending.number, "rid": pending.request_id, "nonce": pending.nonce,
                 "checks": pending.checks, "deliveries": pending.deliveries, "unsettled": int(pending.unsettled),
                 "challenge": pending.challenge, "provider": pending.provider, "address": pending.address,
                 "caller": pending.caller, "started": started},
                {"masked": phone.mask(pending.number), "country": phone.country(pending.number),
                 "provider": pending.provider, "rid": pending.request_id, "deliveries": pending.deliveries,
                 "checks": pending.checks, "started": started, "outcome": "", "ended": "",
                 "address": pending.address, "caller": pending.caller})

    def _write(self, pipe: Any, pending: Pending, ttl: int) -> None:  # RESERVE's writes, as commands in a pipeline
        fields, record = self._fields(pending, started := pending.started or time.time())
        pipe.hset(self._record(pending.id), mapping=fields)
        pipe.expire(self._record(pending.id), ttl)
        pipe.hset(self._log(pending.id), mapping=record)
        pipe.expire(self._log(pending.id), ttl + RECORD_GRACE)
        pipe.zadd(self._prefix + EXPIRIES, {pending.id: started + ttl})
        if self._record_seconds:
            of_number = self._of_number(pending.number)
            pipe.zadd(of_number, {pending.id: started})
            pipe.expire(of_number, self._record_seconds + ttl)

    def _reserved(self, pending: Pending, ttl: int) -> Any:
        """Write ``pending`` and claim its number (RESERVE's work): the live holder the claim found, if any."""
        index = [self._index(pending.number)]
        if not self._single:
            with self._redis.pipeline(transaction=False) as pipe:
                self._write(pipe, pending, ttl)
                pipe.execute()
            return self._claim(keys=index, args=[pending.id, ttl, ""])
        fields, record = self._fields(pending, started := pending.started or time.time())
        keys = [*index, self._record(pending.id), self._log(pending.id), self._prefix + EXPIRIES]
        if self._record_seconds:
            keys.append(self._of_number(pending.number))
        pairs = [item for mapping in (fields, record) for pair in mapping.items() for item in pair]
        return self._reserve(keys=keys, args=[pending.id, ttl, "", ttl + RECORD_GRACE, started + ttl, started,
                                              self._record_seconds + ttl, 2 * len(fields), *pairs])

    def reserve(self, pending: Pending, ttl: int) -> Pending | None:
        # The record first (its own key, in a Cluster its own slot), then the number's index: a concurrent
        # send finds either no claim, or a claim whose record exists. On one Redis both are one script.
        try:
            holder = self._reserved(pending, ttl)
            for _ in range(3):
                if not holder:
                    return None
                live = self.get(str(holder))
                if live is not None:
                    self._redis.delete(self._record(pending.id), self._log(pending.id))
                    return live
                # Ended or expired without unindexing: take its place.
                holder = self._claim(keys=[self._index(pending.number)], args=[pending.id, ttl, str(holder)])
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
            values = self._begin_check(keys=[self._record(verification_id), self._hold(verification_id),
                                             self._log(verification_id)],
                                       args=[check, max(1, int(hold * 1000)), int(count)])
        except redis.RedisError as exc:
            raise StoreError() from exc
        if not values:
            return None
        found = self._pending(verification_id, values[:11])
        return None if found is None else replace(found, busy=values[11] == 1)

    def settle(self, verification_id: str, check: str, lost: bool = False, uncount: bool = False) -> None:
        try:
            self._settle(keys=[self._record(verification_id), self._hold(verification_id), self._log(verification_id)],
                         args=[check, int(lost), int(uncount)])
        except redis.RedisError as exc:
            raise StoreError() from exc

    def count_delivery(self, verification_id: str, made: int) -> None:
        try:
            self._count_delivery(keys=[self._record(verification_id), self._log(verification_id)], args=[made])
        except redis.RedisError as exc:
            raise StoreError() from exc

    def move(self, pending: Pending, request_id: str, provider: str, ttl: int) -> None:
        keys = [self._record(pending.id), self._log(pending.id)]
        args: list[Any] = [request_id, provider, ttl, RECORD_GRACE]
        index, expires = self._index(pending.number), time.time() + ttl
        try:
            if self._single:  # one command: MOVE_ALL
                self._move_all(keys=[*keys, self._prefix + EXPIRIES, index], args=[*args, pending.id, expires])
            elif self._move(keys=keys, args=args):
                self._expire_if_equal(keys=[index], args=[pending.id, ttl])
                self._redis.zadd(self._prefix + EXPIRIES, {pending.id: expires})
        except redis.RedisError as exc:
            raise StoreError() from exc

    @staticmethod
    def _answered(answer: Any, script: Any, keys: list[str], args: list[Any]) -> Any:
        """A pipelined ``script``'s answer: one Redis has forgotten (a restart, a failover) runs again alone,
        which loads it; an error is raised."""
        if isinstance(answer, NoScriptError):
            return script(keys=keys, args=args)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def delete(self, pending: Pending, outcome: str = "") -> bool:
        try:
            removed = bool(self._delete_once(
                keys=[self._record(pending.id), f"{self._prefix}d:{{{pending.id}}}", self._log(pending.id)],
                args=[secrets.token_hex(8), outcome, time.time(), self._record_seconds]))
            self._delete_if_equal(keys=[self._index(pending.number)], args=[pending.id])
        except redis.RedisError as exc:
            raise StoreError() from exc
        return removed

    def expired(self, limit: int) -> list[Record]:
        expiries = self._prefix + EXPIRIES
        ended: list[Record] = []
        try:
            due = [str(i) for i in self._redis.zrangebyscore(expiries, "-inf", time.time(), start=0, num=limit)]
            for verification_id, values in self._close_expired(expiries, due):
                if isinstance(values, int):  # moved to a later expiry meanwhile: due again then
                    self._redis.zadd(expiries, {verification_id: time.time() + values})
                elif values:
                    ended.append(_record(verification_id, values))
        except redis.RedisError as exc:
            raise StoreError() from exc
        return ended

    def _close_expired(self, expiries: str, due: list[str]) -> list[tuple[str, Any]]:
        """Take each due id from the expiry set (whoever removes it closes it: each is answered to one sweep
        of all workers) and close its record: (id, the record's fields, or the seconds it has left, or None).
        On one Redis, two round trips for the whole batch (a Cluster's pipelines cannot run scripts)."""
        with self._redis.pipeline(transaction=False) as pipe:
            for verification_id in due:
                pipe.zrem(expiries, verification_id)
            taken = [i for i, removed in zip(due, pipe.execute() if due else [], strict=True) if removed]
        closing: list[Any] = [time.time(), self._record_seconds, *_RECORD]
        steps = [([self._record(i), self._log(i)], closing) for i in taken]
        if not self._single or not steps:
            return [(i, self._expire(keys=keys, args=args)) for i, (keys, args) in zip(taken, steps, strict=True)]
        with self._redis.pipeline(transaction=False) as pipe:
            for keys, args in steps:
                pipe.evalsha(self._expire.sha, len(keys), *keys, *args)
            answers = pipe.execute(raise_on_error=False)
        return [(i, self._answered(answer, self._expire, keys, args))
                for i, answer, (keys, args) in zip(taken, answers, steps, strict=True)]

    def lookup(self, key: str) -> list[Record]:
        try:
            ids = self._redis.zrevrange(self._of_number(key), 0, 49) if key.startswith("+") else [key]
            found = []
            for verification_id in map(str, ids):
                values = self._redis.hmget(self._log(verification_id), _RECORD)
                if values[0] is not None:
                    found.append(_record(verification_id, values))
        except redis.RedisError as exc:
            raise StoreError() from exc
        return sorted(found, key=lambda r: r.started, reverse=True)

    def ping(self) -> None:
        try:
            self._redis.ping()
        except redis.RedisError as exc:
            raise StoreError() from exc

    def close(self) -> None:
        close_client(self._redis)
