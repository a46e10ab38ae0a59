"""Who is calling: API keys for backend callers, the Origin check for browsers, the client key of the limits."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets
from collections.abc import Mapping

from flask import current_app, g, request

from .errors import OriginNotAllowedError, UnauthorizedError

log = logging.getLogger(__name__)

API_KEY_PREFIX = "otp_live_"
_DEFAULT_PORTS = {"http": ":80", "https": ":443"}


def new_api_key() -> tuple[str, str]:
    """A new key and the SHA-256 hex digest the settings keep instead of it."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key_digest(key).hex()


def key_digest(key: str) -> bytes:
    # A plain SHA-256 suffices, where a password would need a slow, salted hash: the keys are 256 random
    # bits, so no dictionary or brute force can invert the digest, and the per-request cost stays tiny.
    return hashlib.sha256(key.encode()).digest()


def authenticate(keys: Mapping[bytes, str]) -> None:
    """With API keys configured, let a POST through only with ``Authorization: Bearer <a known key>``."""
    if not keys or request.method != "POST":
        return
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    name = None
    if scheme.lower() == "bearer" and presented.strip():
        digest = key_digest(presented.strip())
        # Every stored digest is compared, each in constant time: which key matched takes no longer.
        for known, key_name in keys.items():
            if hmac.compare_digest(digest, known):
                name = key_name
    if name is None:
        log.info("refused a request without a valid API key", extra={"event": "unauthorized"})
        raise UnauthorizedError()
    g.otp_api_key = name


def api_key_name() -> str:
    """The name of the key that authenticated this request, or '' (no per-key limit applies)."""
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
    if origin != "null" and "://" in origin:
        scheme, _, host = origin.partition("://")
        named = _origin(scheme, host.rstrip("/"))
        if named in allowed or named == _origin(request.scheme, request.host):
            return
    log.info("refused a POST from another origin", extra={"event": "origin_refused", "origin": origin[:200]})
    raise OriginNotAllowedError()


def _end_user_address() -> str | None:
    """The address a key-authenticated backend names for its end user: the last X-Forwarded-For entry it
    sent, which is the entry before those the OTP_TRUSTED_PROXIES hops appended."""
    entries = [e.strip() for e in request.headers.get("X-Forwarded-For", "").split(",") if e.strip()]
    hops = int(current_app.config["OTP_TRUSTED_PROXIES"])
    if len(entries) <= hops:
        return None
    candidate = entries[-(hops + 1)]
    try:
        ipaddress.ip_address(candidate)
    except ValueError:
        return None
    return candidate


def _bucket(address: str) -> str:
    """IPv4 per address; IPv6 per OTP_IPV6_PREFIX network (one host usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/{current_app.config['OTP_IPV6_PREFIX']}", strict=False))


def client_key() -> str:
    """Rate-limit key of the client: its address (or network), within the API key that vouches for it."""
    if "otp_client" not in g:
        name = api_key_name()
        address = (_end_user_address() if name else None) or request.remote_addr or "unknown"
        g.otp_client = f"key:{name}|{_bucket(address)}" if name else _bucket(address)
    return str(g.otp_client)
