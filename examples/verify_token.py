"""Verify the token /check-otp answers, as your app's backend would: signature, iss, aud, exp, nonce, jti.

Usage:
    python examples/verify_token.py --jwks-url http://127.0.0.1:5000/.well-known/jwks.json \
        --issuer http://127.0.0.1:5000 --nonce "$NONCE" "$TOKEN"

It needs only PyJWT with cryptography (``pip install 'pyjwt[crypto]'``). In your backend, keep one
``TokenVerifier`` for the process: PyJWKClient caches the JWK Set and fetches it again when a token
names a key it has not seen (after a key rotation), and the verifier remembers the ``jti`` of every
token it accepted until that token expires, so a token cannot be used twice. With several backend
processes, keep the seen ``jti`` values in your shared store instead (for example Redis ``SET jti 1 NX EX``).
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any

import jwt

ALGORITHMS = ["ES256", "EdDSA"]  # the algorithms the OTP service signs with; never accept "none" or HS*


class TokenRejected(Exception):
    """The token does not prove a verification for this session."""


class TokenVerifier:
    """Checks verification tokens against the service's JWK Set."""

    def __init__(self, jwks_url: str, issuer: str, audience: str | None = None) -> None:
        self._jwks = jwt.PyJWKClient(jwks_url, cache_jwk_set=True, lifespan=300)
        self._issuer = issuer
        self._audience = audience
        self._seen: dict[str, int] = {}  # jti -> exp
        self._lock = threading.Lock()

    def verify(self, token: str, nonce: str) -> dict[str, Any]:
        """Return the token's claims, or raise TokenRejected."""
        try:
            key = self._jwks.get_signing_key_from_jwt(token)
            claims: dict[str, Any] = jwt.decode(
                token, key.key, algorithms=ALGORITHMS, issuer=self._issuer, audience=self._audience,
                # With no audience given, PyJWT refuses a token that names one: set --audience when the
                # service sets OTP_TOKEN_AUDIENCE.
                options={"require": ["iss", "sub", "exp", "iat", "jti", "phone_number"]})
        except jwt.PyJWTError as exc:
            raise TokenRejected(f"bad token: {exc}") from exc
        if claims.get("nonce") != nonce:
            raise TokenRejected("the nonce is not this session's")
        if claims.get("phone_number_verified") is not True:
            raise TokenRejected("the phone number is not verified")
        now = int(time.time())
        with self._lock:
            self._seen = {jti: exp for jti, exp in self._seen.items() if exp > now}
            if claims["jti"] in self._seen:
                raise TokenRejected("the token was already used")
            self._seen[claims["jti"]] = int(claims["exp"])
        return claims


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("token")
    parser.add_argument("--jwks-url", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--audience")
    parser.add_argument("--nonce", required=True, help="the nonce your backend made for this session")
    args = parser.parse_args(argv)
    try:
        claims = TokenVerifier(args.jwks_url, args.issuer, args.audience).verify(args.token, args.nonce)
    except TokenRejected as exc:
        print(f"rejected: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(claims, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
