"""The limits on Redis: many moving windows in one round trip (limits' own Lua scripts, pipelined: its
storage API answers one window per call, and a send tests and counts a dozen), and the send budgets' sets.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from limits.errors import StorageError as LimitStorageError
from limits.storage import RedisStorage
from redis import Redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError, RedisError

from . import Window
from .budgets import Budget, Full


def moving_windows(storage: RedisStorage, read: Sequence[Window], take: Sequence[Window],
                   then: tuple[RedisBudgets, Sequence[Budget], str] | None = None
                   ) -> tuple[list[tuple[float, int]], list[bool], Full]:
    """The (start, count) of each window in ``read``, and whether an entry was acquired in each of ``take``,
    as limits' ``get_moving_window`` and ``acquire_entry`` would answer them, in one pipeline; with ``then``
    (the budget store, budgets and a member), the same pipeline also takes the budgets' slots as
    ``RedisBudgets.take`` does, and answers its full budgets (none without ``then``)."""
    now = time.time()
    prefixed = storage.prefixed_key
    calls: list[tuple[Script, list[str], list[Any]]] = [
        (storage.lua_moving_window, [prefixed(w.key)], [now - w.item.get_expiry(), w.item.amount]) for w in read]
    calls += [(storage.lua_acquire_moving_window, [prefixed(w.key)], [now, w.item.amount, w.item.get_expiry(), 1])
              for w in take]
    client = cast(Redis, storage.get_connection())
    if then:
        calls.append((then[0].script, *_take_call(then[1], then[2], False, now)))
    answers = _evalsha(client, calls)
    windows = [(float(answer[0]), int(answer[1])) if answer else (now, 0) for answer in answers[:len(read)]]
    taken = [bool(answer) for answer in answers[len(read):len(read) + len(take)]]
    return windows, taken, _full(then[1], answers[-1]) if then else []


def _evalsha(client: Redis, calls: Sequence[tuple[Script, list[str], list[Any]]]) -> list[Any]:
    """Run each (script, keys, args) in one pipeline. A script Redis has forgotten (after a restart or a
    failover) is loaded, as limits would, and only the calls that it failed run again."""
    def run(batch: Sequence[tuple[Script, list[str], list[Any]]]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for script, keys, args in batch:
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        try:
            return pipe.execute(raise_on_error=False)
        except RedisError as exc:
            raise LimitStorageError(exc) from exc

    answers = run(calls)
    forgotten = [i for i, answer in enumerate(answers) if isinstance(answer, NoScriptError)]
    if forgotten:
        try:
            for script in {calls[i][0] for i in forgotten}:
                client.script_load(script.script)
        except RedisError as exc:
            raise LimitStorageError(exc) from exc
        for i, answer in zip(forgotten, run([calls[i] for i in forgotten]), strict=True):
            answers[i] = answer
    if failed := next((answer for answer in answers if isinstance(answer, Exception)), None):
        raise LimitStorageError(failed)
    return answers


def close(storage: RedisStorage) -> None:
    """Release a Redis limits storage's connections."""
    from ..store.redis_client import close_client

    close_client(storage.get_connection())


def storage_options(url: str, timeout: float) -> dict[str, Any]:
    """Short timeouts for Redis (OTP_STORE_TIMEOUT, as the store's), and for one Redis a bounded pool that
    waits when all its connections are busy: redis-py's default pool raises MaxConnectionsError past 100
    concurrent requests."""
    if url.startswith(("redis://", "rediss://")):
        from ..store.redis_client import blocking_pool

        return {"connection_pool": blocking_pool(url, timeout)}
    if url.startswith("redis"):
        return {"socket_timeout": timeout, "socket_connect_timeout": timeout}
    return {}


# KEYS: the budgets' sets; ARGV: member, now, force, then each budget's limit, seconds and hardness. Nothing
# is taken past a full hard budget, nor past a full soft one unless forced; the answer lists the full ones
# that stopped it (1-based) with the score of their oldest slot, and is empty when the slots were taken.
_TAKE = """
local member, now, force, full, hard = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1', {}, false
for i, key in ipairs(KEYS) do
  local limit, seconds = tonumber(ARGV[1 + 3 * i]), tonumber(ARGV[2 + 3 * i])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - seconds)
  if redis.call('ZCARD', key) >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    table.insert(full, i)
    table.insert(full, oldest[2] or tostring(now))
    if ARGV[3 + 3 * i] == '1' then hard = true end
  end
end
if hard or (#full > 0 and not force) then return full end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, member)
  redis.call('EXPIRE', key, tonumber(ARGV[2 + 3 * i]))
end
return {}
"""


def _take_call(budgets: Sequence[Budget], member: str, force: bool, now: float) -> tuple[list[str], list[Any]]:
    """The keys and arguments of _TAKE for ``member``'s slot in each of ``budgets``."""
    args: list[Any] = [member, now, int(force)]
    for budget in budgets:
        args += [budget.limit, budget.seconds, int(budget.hard)]
    return [b.key for b in budgets], args


def _full(budgets: Sequence[Budget], answer: Sequence[Any]) -> Full:
    """_TAKE's answer as the full budgets that stopped it, each with the time its oldest slot frees."""
    return [(budgets[int(answer[i]) - 1], float(answer[i + 1]) + budgets[int(answer[i]) - 1].seconds)
            for i in range(0, len(answer), 2)]


class RedisBudgets:
    """Slots in sorted sets on the limits' Redis (one server, a Sentinel's master or a Cluster: every budget
    key carries one hash tag, so the one script that takes them runs on one node)."""

    def __init__(self, client: Any) -> None:
        self._redis = client
        self.script = client.register_script(_TAKE)

    def take(self, budgets: Sequence[Budget], member: str, force: bool = False) -> Full:
        keys, args = _take_call(budgets, member, force, time.time())
        try:
            return _full(budgets, self.script(keys=keys, args=args))
        except RedisError as exc:
            raise LimitStorageError(exc) from exc

    def give_back(self, budgets: Sequence[Budget], members: Sequence[str]) -> None:
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for budget in budgets:
                    pipe.zrem(budget.key, *members)
                pipe.execute()
        except RedisError as exc:
            raise LimitStorageError(exc) from exc
