"""Rate limits with Flask-Limiter: per client address and per normalised number, shared through Redis.

The limiter is the usual module-level extension object: routes decorate themselves with it at import
time, and ``init_limiter(app)`` binds it to an app's settings and storage.
"""

from __future__ import annotations

import logging
import time

from flask import Flask, Response, current_app, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from limits.errors import StorageError as LimitStorageError

from .errors import RateLimitedError, StoreError, error_response
from .metrics import RATE_LIMITED

log = logging.getLogger(__name__)

limiter = Limiter(key_func=get_remote_address)


def limit_from(name: str) -> str:
    """The limit string a setting holds, read per request from the app's config."""
    return str(current_app.config[name])


def request_ip_limit() -> str:
    return limit_from("OTP_RATELIMIT_REQUEST_IP")


def request_number_limit() -> str:
    return limit_from("OTP_RATELIMIT_REQUEST_NUMBER")


def check_ip_limit() -> str:
    return limit_from("OTP_RATELIMIT_CHECK_IP")


def check_number_limit() -> str:
    return limit_from("OTP_RATELIMIT_CHECK_NUMBER")


def cooldown_limit() -> str:
    """One send per OTP_RESEND_COOLDOWN seconds to a number; no limit when it is 0."""
    seconds = int(current_app.config["OTP_RESEND_COOLDOWN"])
    return f"1 per {seconds} seconds" if seconds else ""


def _retry_after(exc: RateLimitExceeded) -> int:
    try:
        current = limiter.current_limit
        if current is not None:
            return current.reset_at - int(time.time())
    except LimitStorageError:
        pass
    return int(exc.limit.limit.get_expiry())


def init_limiter(app: Flask) -> None:
    """Bind the limiter to the app: the store's Redis when it has one, moving windows, failing closed."""
    url = app.config["OTP_STORE_URL"]
    shared = url.startswith(("redis://", "rediss://"))
    app.config.update(
        RATELIMIT_ENABLED=app.config["OTP_RATELIMIT_ENABLED"],
        RATELIMIT_STORAGE_URI=url if shared else "memory://",
        # Storage faults surface as limits' StorageError (answered 503 below): no silent "unlimited SMS".
        RATELIMIT_STORAGE_OPTIONS={"wrap_exceptions": True, "socket_timeout": 2, "socket_connect_timeout": 2},
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
    limiter.init_app(app)

    @app.errorhandler(RateLimitExceeded)
    def handle_rate_limited(exc: RateLimitExceeded) -> Response:
        scope = exc.limit.scope if isinstance(exc.limit.scope, str) else "endpoint"
        log.info("rate limit hit: %s (%s)", exc.limit.limit, scope,
                 extra={"event": "rate_limited", "limit": str(exc.limit.limit), "scope": scope})
        RATE_LIMITED.labels(request.endpoint or "unmatched").inc()
        err = RateLimitedError(_retry_after(exc))
        return error_response(err.status, err.code, err.message, err.retry_after)

    @app.errorhandler(LimitStorageError)
    def handle_limit_storage_down(exc: LimitStorageError) -> Response:
        log.error("rate-limit storage unavailable: %s", type(exc.storage_error).__name__)
        err = StoreError()
        return error_response(err.status, err.code, err.message, err.retry_after)
