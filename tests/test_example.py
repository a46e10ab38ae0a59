"""examples/verify_token.py, the README's backend example, against the service's own JWK Set."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from flask import Flask
from werkzeug.serving import make_server

from .conftest import ISSUER, NUMBER, FakeVonage, MakeApp

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "verify_token.py"


@pytest.fixture
def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("verify_token", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def served(settings: dict[str, str], make_app: MakeApp) -> Iterator[tuple[Flask, str]]:
    app = make_app({**settings, "OTP_TOKEN_AUDIENCE": "https://app.example.com"})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def token_for(app: Flask, vonage: FakeVonage, nonce: str) -> str:
    vonage.start("ok")
    vonage.check("ok")
    client = app.test_client()
    assert client.post("/request-otp", json={"phoneNumber": NUMBER, "nonce": nonce}).status_code == 200
    return str(client.post("/check-otp", json={"code": "123456"}).json["token"])


def run(base: str, token: str, nonce: str, audience: str | None = "https://app.example.com") \
        -> subprocess.CompletedProcess[str]:
    args = [sys.executable, str(EXAMPLE), "--jwks-url", base + "/.well-known/jwks.json", "--issuer", ISSUER,
            "--nonce", nonce, token]
    if audience:
        args[2:2] = ["--audience", audience]
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def test_the_command_accepts_the_token_of_this_session(served: tuple[Flask, str], vonage: FakeVonage) -> None:
    app, base = served
    token = token_for(app, vonage, "session-1")

    done = run(base, token, "session-1")

    assert done.returncode == 0, done.stderr
    claims = json.loads(done.stdout)
    assert claims["phone_number"] == NUMBER and claims["nonce"] == "session-1"


@pytest.mark.parametrize(("nonce", "audience", "why"), [
    ("session-2", "https://app.example.com", "nonce"),
    ("session-1", "https://other.example.com", "audience"),
    ("session-1", None, "audience"),
])
def test_the_command_rejects_another_session_or_audience(served: tuple[Flask, str], vonage: FakeVonage,
                                                         nonce: str, audience: str | None, why: str) -> None:
    app, base = served
    token = token_for(app, vonage, "session-1")

    done = run(base, token, nonce, audience)

    assert done.returncode == 1 and done.stdout == ""
    assert why in done.stderr.lower()


def test_a_token_is_accepted_once(served: tuple[Flask, str], vonage: FakeVonage, example: ModuleType) -> None:
    app, base = served
    verifier = example.TokenVerifier(base + "/.well-known/jwks.json", ISSUER, "https://app.example.com")
    token = token_for(app, vonage, "session-1")

    assert verifier.verify(token, "session-1")["sub"] == NUMBER
    with pytest.raises(example.TokenRejected, match="already used"):
        verifier.verify(token, "session-1")
    with pytest.raises(example.TokenRejected, match="bad token"):
        verifier.verify(token[:-4] + "AAAA", "session-1")
