"""The signed proof: the token /check-otp answers, checked with PyJWT against the JWK Set the app serves."""

from __future__ import annotations

import base64
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import jwt
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from flask import Flask
from werkzeug.serving import make_server

from app.cli import otp
from app.settings import ConfigError, load_settings
from app.tokens import generate_private_key_pem, public_jwk, public_pem

from .conftest import ISSUER, NUMBER, SIGNING_KEY_PEM, FakeVonage, MakeApp

ROOT = Path(__file__).resolve().parent.parent


def pem(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


@pytest.fixture
def serve() -> Iterator[Callable[[Flask], str]]:
    """Serve apps over real HTTP (PyJWKClient fetches the JWK Set with urllib); yields a starter."""
    servers = []

    def start(app: Flask) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield start
    for server in servers:
        server.shutdown()


def verified_token(client: object, vonage: FakeVonage, number: str = NUMBER, **request: str) -> dict[str, str]:
    """Run request then a right check through ``client``; return the check's answer."""
    vonage.start("ok")
    vonage.check("ok")
    started = client.post("/request-otp", json={"phoneNumber": number, **request})  # type: ignore[attr-defined]
    assert started.status_code == 200, started.json
    answer = client.post("/check-otp", json={"code": "123456"})  # type: ignore[attr-defined]
    assert answer.status_code == 200, answer.json
    return dict(answer.json, verificationIdAtStart=started.json["verificationId"])


def decode(token: str, base: str, **kwargs: object) -> dict[str, object]:
    key = jwt.PyJWKClient(base + "/.well-known/jwks.json").get_signing_key_from_jwt(token)
    return dict(jwt.decode(token, key.key, algorithms=["ES256", "EdDSA"], **kwargs))  # type: ignore[arg-type]


def test_the_token_carries_every_claim_and_verifies_against_the_jwks(
        settings: dict[str, str], vonage: FakeVonage, serve: Callable[[Flask], str], make_app: MakeApp) -> None:
    app = make_app({**settings, "OTP_TOKEN_AUDIENCE": "https://app.example.com", "OTP_TOKEN_TTL": "120"})
    base = serve(app)
    before = int(time.time())

    answer = verified_token(app.test_client(), vonage, nonce="session-4f1c")

    assert answer["verified"] is True and answer["phoneNumber"] == NUMBER
    assert answer["verificationId"] == answer["verificationIdAtStart"]
    claims = decode(answer["token"], base, issuer=ISSUER, audience="https://app.example.com")
    assert claims.pop("iat") in range(before, int(time.time()) + 1)  # type: ignore[operator]
    assert claims.pop("exp") - before in range(120, 122)  # type: ignore[operator]
    assert len(str(claims.pop("jti"))) >= 16
    assert claims == {"iss": ISSUER, "aud": "https://app.example.com", "sub": NUMBER, "phone_number": NUMBER,
                      "phone_number_verified": True, "amr": ["otp", "sms"], "vid": answer["verificationId"],
                      "nonce": "session-4f1c"}
    header = jwt.get_unverified_header(answer["token"])
    assert header["alg"] == "ES256" and header["typ"] == "JWT"
    assert header["kid"] == public_jwk(serialization.load_pem_private_key(
        SIGNING_KEY_PEM.encode(), None).public_key())["kid"]  # type: ignore[arg-type]


def test_several_audiences_and_no_nonce(settings: dict[str, str], vonage: FakeVonage,
                                        serve: Callable[[Flask], str], make_app: MakeApp) -> None:
    app = make_app({**settings, "OTP_TOKEN_AUDIENCE": "web, api"})
    base = serve(app)

    claims = decode(verified_token(app.test_client(), vonage)["token"], base, audience="api")

    assert claims["aud"] == ["web", "api"] and "nonce" not in claims


def test_each_token_has_its_own_jti(client: object, vonage: FakeVonage, app: Flask) -> None:
    first = jwt.decode(verified_token(client, vonage)["token"], options={"verify_signature": False})
    second = jwt.decode(verified_token(client, vonage)["token"], options={"verify_signature": False})

    assert first["jti"] != second["jti"] and first["vid"] != second["vid"]


@pytest.mark.parametrize("api", ["legacy"])
def test_amr_names_every_channel_the_code_travelled_by(client: object, vonage: FakeVonage) -> None:
    vonage.start("ok")
    vonage.control("next", "ok")
    vonage.check("ok")
    client.post("/request-otp", json={"phoneNumber": NUMBER})  # type: ignore[attr-defined]
    assert client.post("/resend-otp", json={}).status_code == 200  # type: ignore[attr-defined]

    token = client.post("/check-otp", json={"code": "123456"}).json["token"]  # type: ignore[attr-defined]

    # Legacy workflow 1: an SMS, then a voice call (RFC 8176 "tel").
    assert jwt.decode(token, options={"verify_signature": False})["amr"] == ["otp", "sms", "tel"]


def test_an_ed25519_key_signs_eddsa(settings: dict[str, str], vonage: FakeVonage,
                                    serve: Callable[[Flask], str], make_app: MakeApp) -> None:
    app = make_app({**settings, "OTP_TOKEN_PRIVATE_KEY": pem(ed25519.Ed25519PrivateKey.generate())})
    base = serve(app)

    token = verified_token(app.test_client(), vonage)["token"]

    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"
    assert decode(token, base, issuer=ISSUER)["phone_number"] == NUMBER
    [key] = app.test_client().get("/.well-known/jwks.json").json["keys"]
    assert {key["kty"], key["crv"], key["alg"], key["use"]} == {"OKP", "Ed25519", "EdDSA", "sig"}


def test_the_kid_is_the_rfc_7638_thumbprint() -> None:
    # RFC 8037, appendix A.1 and A.3: this Ed25519 key's thumbprint.
    d = base64.urlsafe_b64decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=")
    key = ed25519.Ed25519PrivateKey.from_private_bytes(d).public_key()

    assert public_jwk(key)["kid"] == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_the_jwks_is_public_and_cacheable(client: object) -> None:
    resp = client.get("/.well-known/jwks.json")  # type: ignore[attr-defined]

    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "public, max-age=300"
    [key] = resp.json["keys"]
    assert set(key) == {"kty", "crv", "x", "y", "kid", "alg", "use"}  # no private member
    assert client.post("/request-otp", json={}).headers["Cache-Control"] == "no-store"  # type: ignore[attr-defined]


def test_rotation_keeps_old_tokens_valid_until_the_old_key_leaves_the_jwks(
        settings: dict[str, str], vonage: FakeVonage, serve: Callable[[Flask], str], tmp_path: Path,
        make_app: MakeApp) -> None:
    old = make_app(settings)
    token = verified_token(old.test_client(), vonage)["token"]
    old_public = tmp_path / "old.pub.pem"
    old_public.write_text(public_pem(serialization.load_pem_private_key(SIGNING_KEY_PEM.encode(), None)))  # type: ignore[arg-type]
    new_key = generate_private_key_pem().decode()

    rotated = serve(make_app({**settings, "OTP_TOKEN_PRIVATE_KEY": new_key,
                                "OTP_TOKEN_PREVIOUS_KEYS": str(old_public)}))
    retired = serve(make_app({**settings, "OTP_TOKEN_PRIVATE_KEY": new_key}))

    assert decode(token, rotated, issuer=ISSUER)["sub"] == NUMBER
    assert len(jwt.PyJWKClient(rotated + "/.well-known/jwks.json").get_jwk_set().keys) == 2
    with pytest.raises(jwt.PyJWKClientError, match="Unable to find a signing key"):
        decode(token, retired, issuer=ISSUER)


def test_a_token_signed_by_a_key_outside_the_jwks_is_rejected(
        settings: dict[str, str], client: object, serve: Callable[[Flask], str], app: Flask) -> None:
    base = serve(app)
    foreign = ec.generate_private_key(ec.SECP256R1())
    real_kid = client.get("/.well-known/jwks.json").json["keys"][0]["kid"]  # type: ignore[attr-defined]
    claims = {"iss": ISSUER, "sub": NUMBER, "phone_number": NUMBER, "phone_number_verified": True,
              "exp": int(time.time()) + 60}

    forged = jwt.encode(claims, foreign, algorithm="ES256", headers={"kid": real_kid})
    unknown = jwt.encode(claims, foreign, algorithm="ES256", headers={"kid": "not-ours"})

    with pytest.raises(jwt.InvalidSignatureError):
        decode(forged, base, issuer=ISSUER)
    with pytest.raises(jwt.PyJWKClientError):
        decode(unknown, base, issuer=ISSUER)


def test_the_console_provider_signs_with_a_key_of_its_own_when_none_is_set(
        vonage: FakeVonage, serve: Callable[[Flask], str], caplog: pytest.LogCaptureFixture, make_app: MakeApp) -> None:
    app = make_app({"OTP_PROVIDER": "console", "OTP_RESEND_COOLDOWN": "0"})
    base = serve(app)
    client = app.test_client()
    with caplog.at_level("INFO"):
        client.post("/request-otp", json={"phoneNumber": NUMBER})
    code = next(r.getMessage().split(" is ")[1].split(",")[0] for r in caplog.records if r.name == "app.console")

    answer = client.post("/check-otp", json={"code": code}).json

    # No OTP_TOKEN_ISSUER: the service names itself as it was reached.
    assert decode(answer["token"], base, issuer="http://localhost")["phone_number"] == NUMBER
    assert "made for this process only" in caplog.text


def _config_error(**env: str) -> str:
    with pytest.raises(ConfigError) as exc:
        load_settings({"OTP_PROVIDER": "console", **env})
    return str(exc.value)


@pytest.mark.parametrize(("key", "named"), [
    (pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)), "RSA"),
    (pem(ec.generate_private_key(ec.SECP384R1())), "secp384r1"),
    ("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n", "not an unencrypted PEM private key"),
    ("/nonexistent/signing-key.pem", "neither a PEM nor a readable key file"),
])
def test_a_key_that_cannot_sign_stops_startup_with_a_message_that_names_it(key: str, named: str) -> None:
    message = _config_error(OTP_TOKEN_PRIVATE_KEY=key)

    assert "OTP_TOKEN_PRIVATE_KEY" in message and named in message
    assert "BEGIN" not in message  # the key itself is never repeated


def test_previous_keys_must_be_public_keys() -> None:
    assert "public keys only" in _config_error(OTP_TOKEN_PREVIOUS_KEYS=SIGNING_KEY_PEM)
    assert "no PEM public key" in _config_error(OTP_TOKEN_PREVIOUS_KEYS="-----BEGIN nothing")


def test_the_vonage_provider_without_a_key_names_the_command_that_makes_one() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings({"VONAGE_API_KEY": "k", "VONAGE_API_SECRET": "s"})

    assert "missing OTP_TOKEN_PRIVATE_KEY" in str(exc.value)
    assert "flask --app wsgi otp keygen" in str(exc.value)
    assert "missing OTP_TOKEN_ISSUER" in str(exc.value)


@pytest.mark.parametrize("ttl", ["0", "29", "3601", "soon"])
def test_the_token_lifetime_is_bounded(ttl: str) -> None:
    assert "OTP_TOKEN_TTL" in _config_error(OTP_TOKEN_TTL=ttl)


def test_keygen_writes_a_pkcs8_p256_key_readable_by_its_owner_only(tmp_path: Path) -> None:
    out = tmp_path / "key.pem"

    result = CliRunner().invoke(otp, ["keygen", "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert out.stat().st_mode & 0o777 == 0o600
    assert out.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(out.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert f"OTP_TOKEN_PRIVATE_KEY={out}" in result.output
    assert load_settings({"OTP_PROVIDER": "console", "OTP_TOKEN_PRIVATE_KEY": str(out)}).OTP_TOKEN_PRIVATE_KEY
    again = CliRunner().invoke(otp, ["keygen", "--out", str(out)])
    assert again.exit_code != 0 and "exists" in again.output


def test_keygen_runs_through_flask_before_any_setting_exists(tmp_path: Path) -> None:
    flask = Path(sys.executable).parent / "flask"

    done = subprocess.run([str(flask), "--app", "wsgi", "otp", "keygen", "--out", str(tmp_path / "k.pem")],
                          cwd=ROOT, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, timeout=60)

    assert done.returncode == 0, done.stderr
    assert (tmp_path / "k.pem").exists()
