"""Verify v2 settings: JWT auth with a key made at test time, and the per-API rules at startup."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from app.settings import ConfigError, load_settings

from .conftest import NUMBER, SDK_NUMBER, SETTINGS, FakeVonage, MakeApp

APPLICATION_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


@pytest.fixture(scope="module")
def key_pair() -> tuple[str, rsa.RSAPublicKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return pem, key.public_key()


def jwt_settings(private_key: str) -> dict[str, str]:
    settings = {k: v for k, v in SETTINGS.items() if not k.startswith("VONAGE_API_")}
    return {**settings, "VONAGE_VERIFY_API": "v2", "VONAGE_APPLICATION_ID": APPLICATION_ID,
            "VONAGE_PRIVATE_KEY": private_key}


@pytest.mark.parametrize("api", ["v2"])
@pytest.mark.parametrize("given_as", ["pem", "one_line_pem", "path"])
def test_v2_signs_each_call_with_a_jwt_for_the_application(vonage: FakeVonage, tmp_path: Path,
                                                           key_pair: tuple[str, rsa.RSAPublicKey],
                                                           given_as: str, make_app: MakeApp) -> None:
    pem, public_key = key_pair
    value = {"pem": pem, "one_line_pem": pem.replace("\n", "\\n"), "path": str(tmp_path / "private.key")}[given_as]
    (tmp_path / "private.key").write_text(pem)
    client = make_app(jwt_settings(value)).test_client()
    vonage.start("ok")
    vonage.check("ok")

    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    assert client.post("/check-otp", json={"phoneNumber": NUMBER, "code": "123456"}).status_code == 200

    for call in (vonage.calls("start")[0], vonage.calls("check")[0]):
        header = call.request.headers["Authorization"]
        scheme, token = (header.decode() if isinstance(header, bytes) else header).split(" ", 1)
        assert scheme == "Bearer"
        claims = jwt.decode(token, public_key, algorithms=["RS256"])
        assert claims["application_id"] == APPLICATION_ID
    assert vonage.sent_number(vonage.calls("start")[0]) == SDK_NUMBER


@pytest.mark.parametrize(("given", "message"), [
    ({"VONAGE_PRIVATE_KEY": "/nonexistent/private.key"}, "VONAGE_PRIVATE_KEY is neither"),
    ({"VONAGE_PRIVATE_KEY": "-----BEGIN RSA PRIVATE KEY-----\nMII\n-----END RSA PRIVATE KEY-----"}, "PKCS#8"),
    ({"VONAGE_APPLICATION_ID": ""}, "missing VONAGE_APPLICATION_ID"),
])
def test_unusable_jwt_settings_stop_startup(key_pair: tuple[str, rsa.RSAPublicKey], given: dict[str, str],
                                            message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings({**jwt_settings(key_pair[0]), **given})


def test_v2_without_any_credentials_names_both_ways() -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings({"VONAGE_VERIFY_API": "v2"})

    assert "VONAGE_API_KEY, VONAGE_API_SECRET" in str(exc.value)
    assert "VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY" in str(exc.value)


def test_private_key_never_appears_in_errors(key_pair: tuple[str, rsa.RSAPublicKey]) -> None:
    body = key_pair[0].splitlines()[1]
    with pytest.raises(ConfigError) as exc:
        load_settings({**jwt_settings(key_pair[0]), "VONAGE_APPLICATION_ID": "", "VONAGE_CODE_LENGTH": "12"})

    assert body not in str(exc.value)


@pytest.mark.parametrize(("api", "given", "ok"), [
    ("legacy", {"VONAGE_CODE_LENGTH": "8"}, False),
    ("v2", {"VONAGE_CODE_LENGTH": "8"}, True),
    ("v2", {"VONAGE_CODE_LENGTH": "11"}, False),
    ("legacy", {"VONAGE_PIN_EXPIRY": "30"}, False),
    ("v2", {"VONAGE_PIN_EXPIRY": "30"}, True),
    ("v2", {"VONAGE_PIN_EXPIRY": "1000"}, False),
    ("legacy", {"VONAGE_BRAND": "B" * 18}, True),
    ("v2", {"VONAGE_BRAND": "B" * 17}, False),
    ("v2", {"VONAGE_WORKFLOW": "sms,voice"}, True),
    ("v2", {"VONAGE_WORKFLOW": "sms,email"}, False),
    ("v2", {"VONAGE_WORKFLOW": "whatsapp"}, False),
    ("v2", {"VONAGE_WORKFLOW": "whatsapp", "VONAGE_WHATSAPP_FROM": "447700900001"}, True),
    ("v2", {"VONAGE_LOCALE": "en-gb"}, True),
    ("v2", {"VONAGE_LOCALE": "xx-yy"}, False),
    ("both", {"VONAGE_VERIFY_API": "v3"}, False),
])
def test_settings_follow_the_rules_of_their_api(api: str, given: dict[str, str], ok: bool, make_app: MakeApp) -> None:
    settings = {**SETTINGS, **({"VONAGE_VERIFY_API": api} if api != "both" else {}), **given}
    if ok:
        make_app(settings)
    else:
        with pytest.raises(ConfigError):
            make_app(settings)
