"""The providers' breakers in Redis: one hash per provider, each step one script on the server's clock."""

from __future__ import annotations

import logging
from typing import Any

import redis

from . import Admission, Admitted, Change, _state

log = logging.getLogger(__name__)
# One key per script, under one hash tag: in a Cluster every breaker lives on one node.
PREFIX = "otp:breaker:{breakers}:"
_NOW = "local t = redis.call('TIME'); local now = tonumber(t[1]) + tonumber(t[2]) / 1e6\n"
# -> {admission (0 closed, 1 trial, 2 open), failures, milliseconds until a trial}
_ADMIT = _NOW + """
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
if open_until == 0 then return {0, failures, 0} end
local busy = math.max(open_until, tonumber(redis.call('HGET', KEYS[1], 'trial_until') or '0'))
if now < busy then return {2, failures, math.ceil((busy - now) * 1000)} end
redis.call('HSET', KEYS[1], 'trial_until', tostring(now + tonumber(ARGV[1])))
return {1, failures, 0}
"""
# ARGV: threshold, cooldown -> 0 nothing changed, 1 tripped, 2 reopened
_FAILED = _NOW + """
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
local cooldown = tonumber(ARGV[2])
redis.call('EXPIRE', KEYS[1], math.max(3600, cooldown * 4))
if open_until == 0 then
  if failures < tonumber(ARGV[1]) then return 0 end
  redis.call('HSET', KEYS[1], 'open_until', tostring(now + cooldown), 'trial_until', '0')
  return 1
end
if now < open_until then return 0 end
redis.call('HSET', KEYS[1], 'open_until', tostring(now + cooldown), 'trial_until', '0')
return 2
"""
# -> 1 when the breaker was open (recovered), else 0
_SUCCEEDED = """
local open_until = tonumber(redis.call('HGET', KEYS[1], 'open_until') or '0')
redis.call('DEL', KEYS[1])
if open_until > 0 then return 1 end
return 0
"""
_STATE = _NOW + """
return {redis.call('HGET', KEYS[1], 'open_until') or '0', tostring(now)}
"""


def _unanswered(step: str, exc: redis.RedisError) -> None:
    log.warning("provider breaker %s failed: %s", step, type(exc).__name__,
                extra={"event": "breaker_unavailable", "operation": step})


class RedisBreaker:
    """Breakers shared by every worker and machine using this Redis."""

    def __init__(self, client: Any, threshold: int, cooldown: int) -> None:
        self.threshold, self.cooldown = threshold, cooldown
        self._admit = client.register_script(_ADMIT)
        self._failed = client.register_script(_FAILED)
        self._succeeded = client.register_script(_SUCCEEDED)
        self._state = client.register_script(_STATE)

    # A Redis that cannot answer opens nothing: starts try the providers in order, as with no breaker (the
    # store or the limits in that Redis answer 503 by themselves).
    def admit(self, name: str) -> Admitted:
        try:
            admission, failures, wait_ms = self._admit(keys=[PREFIX + name], args=[self.cooldown])
        except redis.RedisError as exc:
            _unanswered("admit", exc)
            return Admitted(Admission.CLOSED, 0)
        kind = (Admission.CLOSED, Admission.TRIAL, Admission.OPEN)[int(admission)]
        return Admitted(kind, int(failures), int(wait_ms) / 1000)

    def failed(self, name: str) -> Change | None:
        try:
            changed = int(self._failed(keys=[PREFIX + name], args=[self.threshold, self.cooldown]))
        except redis.RedisError as exc:
            _unanswered("count", exc)
            return None
        return (None, Change.TRIPPED, Change.REOPENED)[changed]

    def succeeded(self, name: str) -> Change | None:
        try:
            return Change.RECOVERED if int(self._succeeded(keys=[PREFIX + name])) else None
        except redis.RedisError as exc:
            _unanswered("count", exc)
            return None

    def state(self, name: str) -> str:
        try:
            open_until, now = self._state(keys=[PREFIX + name])
        except redis.RedisError as exc:
            _unanswered("read", exc)
            return "unknown"
        return _state(float(open_until), float(now))

