"""Who is calling, read from the request: API keys, the Origin check, and the caller the lifecycle is given.

The caller's identity is request-scoped (``g``) because log lines and metrics name it too.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping

from flask import g, request

from ..callers import Caller, caller, key_name
from ..errors import OriginNotAllowedError, UnauthorizedError

log = logging.getLogger(__name__)

_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def authenticate(keys: Mapping[bytes, str]) -> None:
    """With API keys configured, let a POST through only with ``Authorization: Bearer <a known key>``."""
    if not keys or request.method != "POST":
        return
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    name = key_name(keys, presented.strip()) if scheme.lower() == "bearer" and presented.strip() else None
    if name is None:
        raise UnauthorizedError()
    g.otp_api_key = name


def api_key_name() -> str:
    """The name of the key that authenticated this request, or ''."""
    return str(g.get("otp_api_key", ""))


def _origin(scheme: str, host: str) -> str:
    """scheme://host[:port] as browsers write it in Origin: lower case, no default port."""
    scheme, host = scheme.lower(), host.lower()
    return f"{scheme}://{host.removesuffix(_DEFAULT_PORTS.get(scheme, '::'))}"


def check_origin(allowed: frozenset[str]) -> None:
    """Refuse a POST whose Origin is neither this service nor an allowed one, before any limit counts it.

    A browser names the page's origin on every cross-site POST (forms included); curl and backends send
    none and pass. This service's own origin is the scheme and host it was reached by: behind a proxy, the
    scheme gunicorn takes from X-Forwarded-Proto of the proxies it trusts, and the Host header, or
    X-Forwarded-Host from the OTP_TRUSTED_PROXIES hops.
    """
    origin = request.headers.get("Origin")
    if request.method != "POST" or origin is None:
        return
    own = _origin(request.scheme, request.host)
    if origin != "null" and "://" in origin:
        scheme, _, host = origin.partition("://")
        named = _origin(scheme, host.rstrip("/"))
        if named in allowed or named == own:
            return
    raise OriginNotAllowedError(origin=origin[:200], expected=own[:200])


def refused(error: UnauthorizedError | OriginNotAllowedError, count: int, allowed: int) -> None:
    """Log a refusal of the caller, sampled: the first of a window, and the one that reaches its limit (the
    next are answered 429 without a line each)."""
    event = "unauthorized" if isinstance(error, UnauthorizedError) else "origin_refused"
    extra: dict[str, object] = {"event": event, "refused_in_window": count}
    detail = ""
    if isinstance(error, OriginNotAllowedError):
        # The service's own origin as this request reached it: behind a proxy that drops the port from Host
        # (nginx's $host) it differs from the page's, which is what an operator needs to see.
        extra.update(origin=error.origin, expected_origin=error.expected)
        detail = f" (Origin {error.origin}; this service is {error.expected}, or one of OTP_ALLOWED_ORIGINS)"
    if count == 1:
        log.info("refused a request: %s%s", error.code, detail, extra=extra)
    elif count == allowed:
        log.warning("refused %d requests of this client in the window (%s); the next get 429", count, error.code,
                    extra=extra)


def _end_user_address(hops: int) -> str | None:
    """The address a key-authenticated backend names for its end user: the last X-Forwarded-For entry it
    sent, which is the entry before those the OTP_TRUSTED_PROXIES hops appended."""
    entries = [e.strip() for e in request.headers.get("X-Forwarded-For", "").split(",") if e.strip()]
    if len(entries) <= hops:
        return None
    candidate = entries[-(hops + 1)]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return None
    return candidate


def current_caller(trusted_proxies: int, ipv6_prefix: int) -> Caller:
    """The caller of this request: its address (a backend's end user's, for key callers) and API key."""
    if "otp_caller" not in g:
        name = api_key_name()
        address = (_end_user_address(trusted_proxies) if name else None) or request.remote_addr or "unknown"
        g.otp_caller = caller(address, name, ipv6_prefix)
    found: Caller = g.otp_caller
    return found
