"""Rate limits with Flask-Limiter and limits: per client, per API key, per destination, and the resend cooldown.

The limiter is the usual module-level extension object: routes decorate themselves with it at import
time, and ``init_limiter(app)`` binds it to an app's settings and storage.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter, RateLimitExceeded
from limits import RateLimitItem, RateLimitItemPerSecond
from limits.errors import StorageError as LimitStorageError

from . import phone
from .callers import api_key_name, client_key
from .errors import RateLimitedError, StoreError, error_response
from .metrics import RATE_LIMITED

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger(__name__)

limiter = Limiter(key_func=client_key)
# Limits on where codes go, as carriers' and Vonage's anti-fraud do: they name SMS pumping, so a breach is a
# warning for operators, not a client's mistake.
VELOCITY_SCOPES = ("send-country", "send-prefix", "send-global")


def limit_from(name: str) -> str:
    """The limit string a setting holds, read per request from the app's config."""
    return str(current_app.config[name])


def _number_limits(number_key: Callable[[], str]) -> dict[str, Callable[[], str]]:
    """Keys of the limits on a destination number, from the view's way of naming the number."""
    def number_and_client() -> str:
        number = number_key()
        return f"{number}|{client_key()}" if number else ""

    def country() -> str:
        number = number_key()
        return phone.country(number) if number else ""

    def prefix() -> str:
        # The number without its last four digits: a block of 10,000 numbers, as pumping rotates through.
        number = number_key()
        return number[:-4] if number else ""

    def everything() -> str:
        return "all" if number_key() else ""

    return {"send-number": number_and_client, "send-number-total": number_key, "send-country": country,
            "send-prefix": prefix, "send-global": everything}


_SEND_SETTINGS = {"send-number": "OTP_RATELIMIT_REQUEST_NUMBER",
                  "send-number-total": "OTP_RATELIMIT_REQUEST_NUMBER_TOTAL", "send-country": "OTP_RATELIMIT_COUNTRY",
                  "send-prefix": "OTP_RATELIMIT_PREFIX", "send-global": "OTP_RATELIMIT_GLOBAL"}


def _code_sent(response: Response) -> bool:
    return response.status_code == 200


def send_limits(number_key: Callable[[], str]) -> Callable[[F], F]:
    """The limits of a route that sends a code to the number ``number_key`` names.

    Per client and per API key, every request counts (malformed ones too). On the destination (per number
    and client, per number, per country, per prefix, and overall) only sends that delivered a code count:
    a 409, a refused number or a Vonage failure cost nobody's budget, so a stranger's requests cannot use
    up the owner's. Those are tested before the view and counted after it (Flask-Limiter deduct_when).
    """
    keys = _number_limits(number_key)
    decorators: list[Callable[[Any], Any]] = [
        limiter.shared_limit(lambda: limit_from("OTP_RATELIMIT_REQUEST_IP"), key_func=client_key, scope="send-ip"),
        limiter.shared_limit(lambda: limit_from("OTP_RATELIMIT_KEY"), key_func=api_key_name, scope="api-key"),
        *[limiter.shared_limit(functools.partial(limit_from, setting), key_func=keys[scope], scope=scope,
                               deduct_when=_code_sent) for scope, setting in _SEND_SETTINGS.items()],
    ]
    return _apply(decorators)


def check_limits(number_key: Callable[[], str]) -> Callable[[F], F]:
    """The limits of check and cancel: per client and per API key, and per number for its holders."""
    return _apply([
        limiter.shared_limit(lambda: limit_from("OTP_RATELIMIT_CHECK_IP"), key_func=client_key, scope="check-ip"),
        limiter.shared_limit(lambda: limit_from("OTP_RATELIMIT_KEY"), key_func=api_key_name, scope="api-key"),
        limiter.shared_limit(lambda: limit_from("OTP_RATELIMIT_CHECK_NUMBER"), key_func=number_key,
                             scope="check-number"),
    ])


def _apply(decorators: Sequence[Callable[[Any], Any]]) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        for decorator in reversed(decorators):
            view = decorator(view)
        return view
    return decorate


def _cooldown() -> tuple[RateLimitItem, list[str]] | None:
    seconds = int(current_app.config["OTP_RESEND_COOLDOWN"])
    if not seconds or not current_app.config["OTP_RATELIMIT_ENABLED"]:
        return None
    return RateLimitItemPerSecond(1, seconds), ["otp", "send-cooldown"]


@contextmanager
def cooldown(number: str) -> Iterator[None]:
    """Hold the number's resend cooldown around a send: taken in one atomic step in the limits storage
    before it (of two sends racing to the same number only one goes out; the other is answered 429), and
    given back when the send raised, since no code went out (a send Vonage failed can be tried at once)."""
    window = _cooldown()
    if window is None:
        yield
        return
    item, scope = window
    if not limiter.limiter.hit(item, *scope, number):
        reset = limiter.limiter.get_window_stats(item, *scope, number).reset_time
        _breached("send-cooldown", str(item))
        raise RateLimitedError(math.ceil(reset - time.time()))
    try:
        yield
    except BaseException:
        limiter.limiter.clear(item, *scope, number)
        raise


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


def _retry_after(exc: RateLimitExceeded) -> int:
    try:
        current = limiter.current_limit
        if current is not None:
            return current.reset_at - int(time.time())
    except LimitStorageError:
        pass
    return int(exc.limit.limit.get_expiry())


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
    # Flask-Limiter logs every breach with its key, which here may be a full phone number, and an error for
    # each limit it skips on purpose (the per-number ones when the number is invalid). Breaches are logged
    # below with no key; storage faults are raised, not logged.
    logging.getLogger("flask-limiter").setLevel(logging.CRITICAL)
    # Flask-Limiter 4.1 merges RATELIMIT_STORAGE_OPTIONS into those of every earlier init_app: a second app
    # in the process (the tests build many) would inherit the first one's connection pool. Start afresh.
    limiter._storage_options = {}
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def handle_rate_limited(exc: RateLimitExceeded) -> Response:
        scope = exc.limit.scope if isinstance(exc.limit.scope, str) else "endpoint"
        _breached(scope, str(exc.limit.limit))
        err = RateLimitedError(_retry_after(exc))
        return error_response(err.status, err.code, err.message, err.retry_after)

    @app.errorhandler(LimitStorageError)
    def handle_limit_storage_down(exc: LimitStorageError) -> Response:
        log.error("rate-limit storage unavailable: %s", type(exc.storage_error).__name__)
        err = StoreError()
        return error_response(err.status, err.code, err.message, err.retry_after)
