"""Rate limits on limits' moving windows: per client, per API key, per destination, and the resend cooldown.

Flask-Limiter is the extension that configures the limits storage for an app (``init_limiter``) and holds
it. The routes' decorators (``send_limits``, ``check_limits``) and ``send_budget`` count a request's
windows themselves, all of them in one round trip: Flask-Limiter checks limits one at a time, a round
trip each, which was 40 % of a send's CPU (BENCHMARKS.md). The storage keys are those Flask-Limiter gives
a shared limit of the same scope.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar, cast

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from limits import RateLimitItem, RateLimitItemPerSecond, parse_many
from limits.errors import StorageError as LimitStorageError
from limits.storage import MovingWindowSupport, RedisClusterStorage, RedisStorage, Storage
from redis import Redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError, RedisError

from . import phone
from .callers import api_key_name, client_key
from .errors import RateLimitedError, StoreError, error_response
from .metrics import RATE_LIMITED

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger(__name__)

limiter = Limiter(key_func=client_key)


@limiter.request_filter
def _counted_here() -> bool:
    """Flask-Limiter has no limit of its own to evaluate: this module counts every route's, so its
    before_request is skipped (3 % of a send's instructions)."""
    return True


# Limits on where codes go, as carriers' and Vonage's anti-fraud do: they name SMS pumping, so a breach is a
# warning for operators, not a client's mistake.
VELOCITY_SCOPES = ("send-country", "send-prefix", "send-global")


def limit_from(name: str) -> str:
    """The limit string a setting holds, read per request from the app's config."""
    return str(current_app.config[name])


class Window(NamedTuple):
    """One limit on one key: what limits' moving-window storage counts."""

    scope: str
    item: RateLimitItem
    key: str


@functools.lru_cache(maxsize=64)
def _parsed(limit: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(limit))


def _windows(scope: str, setting: str, key: str) -> list[Window]:
    """The windows of the limits a setting holds on ``key``."""
    return [Window(scope, item, item.key_for("otp", key, scope)) for item in _parsed(limit_from(setting))]


# The per-client limit of the routes that send a code, counted by send_budget or, failing that, send_limits.
SEND_CALLER = ("send-ip", "OTP_RATELIMIT_REQUEST_IP")


def _caller_windows(scope: str, setting: str) -> list[Window]:
    """Per client (``scope``, the limits ``setting`` holds), and per API key for backend callers."""
    windows = _windows(scope, setting, client_key())
    if key_name := api_key_name():
        windows += _windows("api-key", "OTP_RATELIMIT_KEY", key_name)
    return windows


def _destination_windows(number: str) -> list[Window]:
    """Per number and client, per number, per country, per block of 10,000 numbers (as pumping rotates
    through) and overall."""
    return [*_windows("send-number", "OTP_RATELIMIT_REQUEST_NUMBER", f"{number}|{client_key()}"),
            *_windows("send-number-total", "OTP_RATELIMIT_REQUEST_NUMBER_TOTAL", number),
            *_windows("send-country", "OTP_RATELIMIT_COUNTRY", phone.country(number)),
            *_windows("send-prefix", "OTP_RATELIMIT_PREFIX", number[:-4]),
            *_windows("send-global", "OTP_RATELIMIT_GLOBAL", "all")]


def _cooldown_window(number: str) -> Window | None:
    seconds = int(current_app.config["OTP_RESEND_COOLDOWN"])
    if not seconds:
        return None
    item = RateLimitItemPerSecond(1, seconds)
    return Window("send-cooldown", item, item.key_for("otp", "send-cooldown", number))


def _count(windows: Sequence[Window]) -> None:
    """Count a request in each window, in one round trip; 429 when one had no room left."""
    _refuse_past(limiter.storage, windows, _moving_windows(limiter.storage, [], windows)[1])


def send_limits(view: F) -> F:
    """Count every request to a route that sends a code against its client's and API key's limits.

    Malformed requests count too. A request that reaches its send is counted by ``send_budget``, in the
    round trip that tests its destination; one that ends before (a bad number, a refused CAPTCHA, nothing
    to resend) is counted here, and a caller past its limits is answered 429 whatever else was wrong.
    """
    @functools.wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        g.otp_caller_counted = not current_app.config["OTP_RATELIMIT_ENABLED"]
        try:
            return view(*args, **kwargs)
        finally:
            if not g.otp_caller_counted:
                g.otp_caller_counted = True
                _count(_caller_windows(*SEND_CALLER))
    return cast(F, limited)


def check_limits(number_key: Callable[[], str]) -> Callable[[F], F]:
    """Count every request to check or cancel against its client's and API key's limits and, for a caller
    who holds a verification, its number's (``number_key``; '' for a caller who names none), in one round
    trip before the view: past any of them, 429 and no Vonage call."""
    def decorate(view: F) -> F:
        @functools.wraps(view)
        def limited(*args: Any, **kwargs: Any) -> Any:
            if current_app.config["OTP_RATELIMIT_ENABLED"]:
                windows = _caller_windows("check-ip", "OTP_RATELIMIT_CHECK_IP")
                if number := number_key():
                    windows += _windows("check-number", "OTP_RATELIMIT_CHECK_NUMBER", number)
                _count(windows)
            return view(*args, **kwargs)
        return cast(F, limited)
    return decorate


@contextmanager
def send_budget(number: str) -> Iterator[None]:
    """Hold a send to ``number`` to its caller's and its destination's limits, and to its cooldown.

    Before the send, in one round trip to the limits storage: the request is counted against its client's
    and API key's limits, every limit on the destination is tested, and the number's resend cooldown is
    taken in one atomic step (of two sends racing to one number only one goes out; the other is answered
    429). Past a limit, nothing is sent: 429. A send that raised (nothing went out: a 409, a refused number,
    a Vonage failure) gives the cooldown back and spends none of the destination's budget, so a stranger's
    requests cannot use up the owner's; a send that delivered a code counts against every destination
    limit, again in one round trip.
    """
    if not current_app.config["OTP_RATELIMIT_ENABLED"]:
        yield
        return
    storage = limiter.storage
    callers = [] if g.get("otp_caller_counted") else _caller_windows(*SEND_CALLER)
    destination = _destination_windows(number)
    cooldown = _cooldown_window(number)
    g.otp_caller_counted = True
    counts, taken = _moving_windows(storage, destination, [*callers, *([cooldown] if cooldown else [])])
    try:
        _refuse_past(storage, callers, taken[:len(callers)])
        if cooldown:
            _refuse_past(storage, [cooldown], taken[len(callers):])
        if full := [(start + w.item.get_expiry(), w) for w, (start, count) in zip(destination, counts, strict=True)
                    if count >= w.item.amount]:
            raise _too_many(full)
        yield
    except BaseException:
        if cooldown and taken[-1]:
            storage.clear(cooldown.key)
        raise
    try:
        _moving_windows(storage, [], destination)
    except LimitStorageError as exc:
        # The code is on its way: a 503 now would only make the person ask for another.
        log.error("could not count a send against its limits: %s", type(exc.storage_error).__name__)


def _refuse_past(storage: Storage, windows: Sequence[Window], taken: Sequence[bool]) -> None:
    """Answer 429 when a window had no room left for the entry it was asked for."""
    if full := [w for w, ok in zip(windows, taken, strict=True) if not ok]:
        starts = _moving_windows(storage, full, [])[0]
        raise _too_many([(start + w.item.get_expiry(), w) for w, (start, _) in zip(full, starts, strict=True)])


def _too_many(full: Sequence[tuple[float, Window]]) -> RateLimitedError:
    """The 429 for full windows (each with the time it frees an entry): the wait is the longest of them."""
    reset, window = max(full, key=lambda pair: pair[0])
    _breached(window.scope, str(window.item))
    return RateLimitedError(max(1, math.ceil(reset - time.time())))


def _moving_windows(storage: Storage, read: Sequence[Window],
                    take: Sequence[Window]) -> tuple[list[tuple[float, int]], list[bool]]:
    """The (start, count) of each moving window in ``read``, and whether an entry was acquired in each of
    ``take``: what limits' storage answers for one window at a time (``get_moving_window``,
    ``acquire_entry``), here in one round trip to one Redis, as a pipeline of the same scripts."""
    assert isinstance(storage, MovingWindowSupport)  # init_limiter chooses the moving-window strategy
    if not isinstance(storage, RedisStorage) or isinstance(storage, RedisClusterStorage):
        # Memory, and a Cluster, whose keys live on several nodes: one window at a time.
        return ([storage.get_moving_window(w.key, w.item.amount, w.item.get_expiry()) for w in read],
                [storage.acquire_entry(w.key, w.item.amount, w.item.get_expiry()) for w in take])
    now = time.time()
    prefixed = storage.prefixed_key
    calls: list[tuple[Script, tuple[Any, ...]]] = [
        (storage.lua_moving_window, (prefixed(w.key), now - w.item.get_expiry(), w.item.amount)) for w in read]
    calls += [(storage.lua_acquire_moving_window, (prefixed(w.key), now, w.item.amount, w.item.get_expiry(), 1))
              for w in take]
    answers = _evalsha(storage.get_connection(), calls)
    windows = [(float(answer[0]), int(answer[1])) if answer else (now, 0) for answer in answers[:len(read)]]
    return windows, [bool(answer) for answer in answers[len(read):]]


def _evalsha(client: Redis, calls: Sequence[tuple[Script, tuple[Any, ...]]]) -> list[Any]:
    """Run each (script, (key, *args)) in one pipeline. A script Redis has forgotten (after a restart or a
    failover) is loaded, as limits would, and only the calls that it failed run again."""
    def run(batch: Sequence[tuple[Script, tuple[Any, ...]]]) -> list[Any]:
        pipe = client.pipeline(transaction=False)
        for script, (key, *args) in batch:
            pipe.evalsha(script.sha, 1, key, *args)
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


def _breached(scope: str, limit: str) -> None:
    RATE_LIMITED.labels(request.endpoint or "unmatched", scope).inc()
    number = g.get("otp_destination", "")
    if scope in VELOCITY_SCOPES and number:
        # Country and prefix only: enough to find a pumping campaign, not who was targeted.
        country, prefix = phone.country(number), phone.mask(number[:-4])
        log.warning("send limit %s hit (%s) for %s, prefix %s", limit, scope, country, prefix,
                    extra={"event": "velocity_limited", "limit": limit, "scope": scope, "country": country,
                           "prefix": prefix})
    else:
        log.info("rate limit hit: %s (%s)", limit, scope,
                 extra={"event": "rate_limited", "limit": limit, "scope": scope})


def _storage_options(url: str) -> dict[str, Any]:
    """Short timeouts for Redis, and for one Redis a bounded pool that waits when all its connections are
    busy: redis-py's default pool raises MaxConnectionsError past 100 concurrent requests."""
    if url.startswith(("redis://", "rediss://")):
        from .store.redis import blocking_pool

        return {"connection_pool": blocking_pool(url, socket_timeout=2, socket_connect_timeout=2)}
    if url.startswith("redis"):
        return {"socket_timeout": 2, "socket_connect_timeout": 2}
    return {}


def init_limiter(app: Flask) -> None:
    """Bind the limiter to the app: OTP_RATELIMIT_STORAGE_URL (the store's Redis by default), moving windows,
    failing closed."""
    app.config.update(
        RATELIMIT_ENABLED=app.config["OTP_RATELIMIT_ENABLED"],
        RATELIMIT_STORAGE_URI=app.config["OTP_RATELIMIT_STORAGE_URL"],
        # Storage faults surface as limits' StorageError (answered 503 below): no silent "unlimited SMS".
        RATELIMIT_STORAGE_OPTIONS={"wrap_exceptions": True,
                                   **_storage_options(app.config["OTP_RATELIMIT_STORAGE_URL"])},
        RATELIMIT_SWALLOW_ERRORS=False,
        RATELIMIT_IN_MEMORY_FALLBACK_ENABLED=False,
        # A moving window is exact, which a cooldown of "1 per 30 seconds" needs.
        RATELIMIT_STRATEGY="moving-window",
        RATELIMIT_KEY_PREFIX="otp",
        RATELIMIT_HEADERS_ENABLED=False,
    )
    # Flask-Limiter logs a breach with its key, which may be a full phone number: keep it quiet, should a
    # limit of its own ever be added. Breaches are logged by _breached, with no key.
    logging.getLogger("flask-limiter").setLevel(logging.CRITICAL)
    # Flask-Limiter 4.1 merges RATELIMIT_STORAGE_OPTIONS into those of every earlier init_app: a second app
    # in the process (the tests build many) would inherit the first one's connection pool. Start afresh.
    limiter._storage_options = {}
    limiter.init_app(app)

    @app.errorhandler(LimitStorageError)
    def handle_limit_storage_down(exc: LimitStorageError) -> Response:
        log.error("rate-limit storage unavailable: %s", type(exc.storage_error).__name__)
        err = StoreError()
        return error_response(err.status, err.code, err.message, err.retry_after)
