"""The signed proof of a verification: a JWT signed with the service's key, and the JWK Set that checks it.

The algorithm follows the key: a P-256 key signs ES256, an Ed25519 key signs EdDSA. Claim names are the
standard ones (RFC 7519, OpenID Connect's phone_number and phone_number_verified, RFC 8176's amr), and
each key's ``kid`` is its RFC 7638 thumbprint, so any JOSE library can pick the key and check the token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from jwt.algorithms import ECAlgorithm, OKPAlgorithm

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

KEYGEN_COMMAND = "flask --app wsgi otp keygen --out signing-key.pem"
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----.+?-----END \1-----", re.DOTALL)
# RFC 8176 authentication method reference values for the channels a code can travel by.
# "test": a verification of one of the operator's test numbers (OTP_TEST_NUMBERS): no code was sent, and a
# backend may refuse such tokens in production.
AMR_BY_CHANNEL = {"sms": "sms", "voice": "tel", "test": "test"}


class SigningKeyError(ValueError):
    """A key that cannot sign or verify this service's tokens; the message says why."""


def _algorithm(key: object) -> str | None:
    """The JWS algorithm this key signs or verifies, or None for a key this service does not use."""
    if isinstance(key, ed25519.Ed25519PrivateKey | ed25519.Ed25519PublicKey):
        return "EdDSA"
    if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) and isinstance(key.curve,
                                                                                              ec.SECP256R1):
        return "ES256"
    return None


def _usable(key: object, verb: str) -> str:
    """The key's algorithm; a message that names the key (never its bytes) when it has none."""
    algorithm = _algorithm(key)
    if algorithm is None:
        if isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
            kind = f"an EC key on {key.curve.name}"
        else:
            kind = f"a {type(key).__name__.lstrip('_').removesuffix('PrivateKey').removesuffix('PublicKey')} key"
        raise SigningKeyError(f"{verb} {kind}; it must be a P-256 (ES256) or Ed25519 (EdDSA) key")
    return algorithm


def load_private_key(pem: str) -> PrivateKey:
    """Parse an unencrypted PEM private key of a type this service signs with."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningKeyError("is not an unencrypted PEM private key") from exc
    _usable(key, "is")
    assert isinstance(key, ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey)  # what _usable let through
    return key


def load_public_keys(text: str) -> list[PublicKey]:
    """Parse every PEM public key block in ``text``."""
    keys: list[PublicKey] = []
    for block in _PEM_BLOCK.finditer(text):
        if block.group(1) != "PUBLIC KEY":
            raise SigningKeyError(f"holds a {block.group(1)} block; give public keys only "
                                  "('openssl pkey -in old.pem -pubout' prints one)")
        try:
            key = serialization.load_pem_public_key(block.group(0).encode())
        except (ValueError, TypeError) as exc:
            raise SigningKeyError("holds a PUBLIC KEY block that does not parse") from exc
        _usable(key, "holds")
        assert isinstance(key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey)
        keys.append(key)
    if not keys:
        raise SigningKeyError("holds no PEM public key")
    return keys


def generate_private_key_pem() -> bytes:
    """A new P-256 key as unencrypted PKCS#8 PEM."""
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key: PrivateKey) -> str:
    """The PEM of the private key's public half, for OTP_TOKEN_PREVIOUS_KEYS after a rotation."""
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_jwk(key: PublicKey) -> dict[str, Any]:
    """The public JWK of ``key`` with ``kid`` (its RFC 7638 thumbprint), ``alg`` and ``use``."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        members: dict[str, Any] = OKPAlgorithm.to_jwk(key, as_dict=True)
    else:
        members = ECAlgorithm.to_jwk(key, as_dict=True)
    # RFC 7638: the required members only, sorted, no whitespace, SHA-256, base64url without padding.
    required: dict[str, Any] = {name: members[name] for name in ("crv", "kty", "x", "y") if name in members}
    digest = hashlib.sha256(json.dumps(required, sort_keys=True, separators=(",", ":")).encode()).digest()
    kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return {**required, "kid": kid, "alg": _usable(key, "is"), "use": "sig"}


@dataclass(frozen=True)
class Verified:
    """What the token states about one successful verification."""

    verification_id: str
    number: str
    nonce: str
    channels: Sequence[str]


class TokenIssuer:
    """Signs verification tokens with one private key and publishes it, and earlier keys, as a JWK Set."""

    def __init__(self, key: PrivateKey, *, issuer: str, audience: Sequence[str] = (), ttl: int = 300,
                 previous: Sequence[PublicKey] = ()) -> None:
        self._key = key
        self._algorithm = _usable(key, "is")
        self._jwk = public_jwk(key.public_key())
        self.issuer = issuer
        self._audience: str | list[str] | None = (audience[0] if len(audience) == 1 else list(audience)) or None
        self.ttl = ttl
        keys = [self._jwk]
        for old in previous:
            jwk = public_jwk(old)
            if jwk["kid"] not in {k["kid"] for k in keys}:
                keys.append(jwk)
        self.jwks: dict[str, Any] = {"keys": keys}

    @property
    def kid(self) -> str:
        return str(self._jwk["kid"])

    def derived_secret(self, purpose: str) -> bytes:
        """A secret for ``purpose`` that every worker and machine holding this signing key derives alike."""
        der = self._key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())
        return hmac.new(der, f"otp-service {purpose}".encode(), hashlib.sha256).digest()

    def issue(self, verified: Verified, issuer: str | None = None) -> str:
        """Sign the token for one verification (``issuer`` stands in when none is configured)."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer or issuer,
            "sub": verified.number,
            "phone_number": verified.number,
            "phone_number_verified": True,
            "amr": ["otp", *dict.fromkeys(AMR_BY_CHANNEL[c] for c in verified.channels if c in AMR_BY_CHANNEL)],
            "iat": now,
            "exp": now + self.ttl,
            "jti": secrets.token_urlsafe(16),
            "vid": verified.verification_id,
        }
        if self._audience is not None:
            claims["aud"] = self._audience
        if verified.nonce:
            claims["nonce"] = verified.nonce
        return jwt.encode(claims, self._key, algorithm=self._algorithm, headers={"kid": self.kid, "typ": "JWT"})
