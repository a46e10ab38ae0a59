"""Who is calling: the caller of a request, API keys for backend callers, the client key of the limits.

Plain Python: app.web reads the request and asks these.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

API_KEY_PREFIX = "otp_live_"


@dataclass(frozen=True)
class Caller:
    """Who is asking: the client's address, the key its limits count under (the address or its IPv6
    network, within the API key that vouches for it) and the API key's name ('' without one)."""

    address: str
    key: str
    api_key: str = ""


def new_api_key() -> tuple[str, str]:
    """A new key and the SHA-256 hex digest the settings keep instead of it."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    return key, key_digest(key).hex()


def key_digest(key: str) -> bytes:
    # A plain SHA-256 suffices, where a password would need a slow, salted hash: the keys are 256 random
    # bits, so no dictionary or brute force can invert the digest, and the per-request cost stays tiny.
    return hashlib.sha256(key.encode()).digest()


def key_name(keys: Mapping[bytes, str], presented: str) -> str | None:
    """The name of the key ``presented`` is, or None."""
    digest = key_digest(presented)
    name = None
    # Every stored digest is compared, each in constant time: which key matched takes no longer.
    for known, known_name in keys.items():
        if hmac.compare_digest(digest, known):
            name = known_name
    return name


# A client sends many requests from one address: its bucket and network are parsed once per process.
@functools.lru_cache(maxsize=1024)
def bucket(address: str, ipv6_prefix: int) -> str:
    """IPv4 per address; IPv6 per ``ipv6_prefix`` network (one host usually holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ipaddress.ip_network(f"{ip}/{ipv6_prefix}", strict=False))


@functools.lru_cache(maxsize=1024)
def network(address: str) -> str:
    """The network an address shares with its neighbours: an IPv4 /24 (a carrier NAT, an office), an IPv6
    /48 (a site's delegation)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ipaddress.ip_network(f"{ip}/{24 if ip.version == 4 else 48}", strict=False))


def caller(address: str, api_key: str, ipv6_prefix: int) -> Caller:
    """The caller at ``address``, vouched for by the API key named ``api_key`` ('' for none)."""
    key = bucket(address, ipv6_prefix)
    return Caller(address, f"key:{api_key}|{key}" if api_key else key, api_key)
