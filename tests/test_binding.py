"""A verification belongs to whoever started it: the verificationId, its cookie, and strangers who know the number."""

from __future__ import annotations

import re

import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient

from .conftest import NUMBER, REDIS_URL, FakeVonage, MakeApp, cookie_vid, pending_rid

STRANGER = {"REMOTE_ADDR": "203.0.113.9"}


def started(client: FlaskClient, **body: str):  # type: ignore[no-untyped-def]
    resp = client.post("/request-otp", json={"phoneNumber": NUMBER, **body})
    assert resp.status_code == 200, resp.json
    return resp


def test_request_answers_a_fresh_opaque_id_and_the_e164_number(client: FlaskClient, vonage: FakeVonage) -> None:
    vonage.start("ok", rid="req-0001")
    vonage.start("ok", rid="req-0002")

    first = client.post("/request-otp", json={"phoneNumber": "+1 (415) 555-2671"}).json
    second = client.post("/request-otp", json={"phoneNumber": "+14155552672"}).json

    assert set(first) == {"message", "expiresIn", "verificationId", "phoneNumber", "channel", "nextChannel",
                          "resendIn"}
    assert first["phoneNumber"] == NUMBER
    # secrets.token_urlsafe(32): 256 random bits, URL-safe, and not Vonage's id.
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", first["verificationId"])
    assert first["verificationId"] != second["verificationId"]
    assert "req-0001" not in first["verificationId"]


@pytest.mark.parametrize(("secure", "expected"), [(None, True), ("true", True), ("false", False)])
def test_the_cookie_holds_the_id_for_the_codes_lifetime(settings: dict[str, str], vonage: FakeVonage,
                                                        secure: str | None, expected: bool, make_app: MakeApp) -> None:
    if secure is not None:
        settings = {**settings, "OTP_COOKIE_SECURE": secure}
    client = make_app(settings).test_client()
    vonage.start("ok")

    resp = started(client)

    [header] = resp.headers.getlist("Set-Cookie")
    attributes = {part.strip().split("=")[0].lower(): part.strip() for part in header.split(";")}
    assert header.startswith(f"otp_verification={resp.json['verificationId']};")
    assert attributes["max-age"] == f"Max-Age={resp.json['expiresIn']}"
    assert "httponly" in attributes and attributes["path"] == "Path=/"
    assert attributes["samesite"] == "SameSite=Strict"
    assert ("secure" in attributes) is expected


def test_a_browser_form_works_with_the_cookie_alone(client: FlaskClient, vonage: FakeVonage) -> None:
    vonage.start("ok")
    vonage.check("ok")

    assert client.post("/request-otp", data={"phoneNumber": NUMBER}).status_code == 200
    resp = client.post("/check-otp", data={"code": "123456"})

    assert resp.status_code == 200 and resp.json["verified"] is True
    # The answer ends the verification, and with it the cookie.
    assert "otp_verification=;" in resp.headers["Set-Cookie"] and "Max-Age=0" in resp.headers["Set-Cookie"]


def test_the_id_in_the_body_wins_over_the_cookie(client: FlaskClient, vonage: FakeVonage, app: Flask) -> None:
    vonage.start("ok", rid="req-0001")
    vonage.start("ok", rid="req-0002")
    vonage.check("ok", rid="req-0001")
    first = started(client).json["verificationId"]
    started(client, phoneNumber="+14155552672")  # the cookie now names the second verification

    resp = client.post("/check-otp", json={"verificationId": first, "code": "123456"})

    assert resp.status_code == 200 and resp.json["verificationId"] == first
    [call] = vonage.calls("check", "req-0001")
    assert (vonage.sent(call).get("request_id") if vonage.api == "legacy" else call.request.url).endswith("req-0001")
    assert pending_rid(app, "+14155552672") == "req-0002"


@pytest.mark.parametrize("path", ["/check-otp", "/resend-otp", "/cancel-otp"])
def test_a_posted_number_must_be_the_verifications(client: FlaskClient, vonage: FakeVonage, path: str) -> None:
    vonage.start("ok")
    vid = started(client).json["verificationId"]

    other = client.post(path, json={"verificationId": vid, "phoneNumber": "+14155552672", "code": "123456"})
    unknown = client.post(path, json={"verificationId": "B" * 43, "phoneNumber": NUMBER, "code": "123456"})

    assert other.status_code == unknown.status_code == 404
    assert other.json == unknown.json and other.json["code"] == "no_pending_verification"
    assert vonage.calls("check") == [] and vonage.calls("next") == [] and vonage.calls("cancel") == []


def test_a_stranger_who_knows_the_number_can_do_nothing_and_the_owner_then_verifies(
        settings: dict[str, str], vonage: FakeVonage, clean_redis_pending: redis.Redis, make_app: MakeApp) -> None:
    # Default limits on Redis, as in production; the stranger comes from another address.
    settings = {**settings, "OTP_STORE_URL": REDIS_URL}
    del settings["OTP_RESEND_COOLDOWN"]
    app = make_app(settings)
    owner, stranger = app.test_client(), app.test_client()
    vonage.start("ok", rid="req-0001")
    vonage.start("ok", rid="req-0002")
    vonage.check("wrong")
    vonage.check("ok")
    vonage.control("next", "ok")
    started(owner)

    answers = []
    for i in range(12):
        guess = {"phoneNumber": NUMBER, "code": f"{i:06d}"}
        answers.append(stranger.post("/check-otp", json=guess, environ_base=STRANGER))
        answers.append(stranger.post("/check-otp", json={**guess, "verificationId": f"{i:043d}"},
                                     environ_base=STRANGER))
        answers.append(stranger.post("/resend-otp", json={"phoneNumber": NUMBER}, environ_base=STRANGER))
        answers.append(stranger.post("/cancel-otp", json={"phoneNumber": NUMBER}, environ_base=STRANGER))

    assert {a.status_code for a in answers} <= {400, 404, 429}
    assert any(a.status_code == 429 for a in answers)  # the stranger's own per-address limits
    # A stranger holding a verification of their own (its cookie) who posts the owner's number: 404.
    other = app.test_client()
    assert other.post("/request-otp", json={"phoneNumber": "+14155552672"},
                      environ_base={"REMOTE_ADDR": "198.51.100.7"}).status_code == 200
    for path in ("/check-otp", "/resend-otp", "/cancel-otp"):
        resp = other.post(path, json={"phoneNumber": NUMBER, "code": "123456"},
                          environ_base={"REMOTE_ADDR": "198.51.100.7"})
        assert resp.status_code == 404 and resp.json["code"] == "no_pending_verification"
    assert len(vonage.mock.calls) == 2  # the two starts: no check, resend or cancel reached Vonage
    # Nothing of the owner's budget is spent: two resends (3 sends per 10 minutes with the first), then
    # their checks.
    assert owner.post("/resend-otp", json={}).status_code == 429  # the 30 s cooldown after the first send
    clean_redis_pending.delete(*clean_redis_pending.scan_iter(match="LIMITS:*send-cooldown*"))
    assert owner.post("/resend-otp", json={}).status_code == 200
    assert owner.post("/check-otp", json={"code": "000000"}).status_code == 401
    assert owner.post("/check-otp", json={"code": "123456"}).status_code == 200


def test_a_second_request_for_a_pending_number_never_hands_out_the_first_id(
        client: FlaskClient, app: Flask, vonage: FakeVonage) -> None:
    vonage.start("ok", rid="req-0001")  # the stranger's request is answered from the store
    vid = started(client).json["verificationId"]
    stranger = app.test_client()

    resp = stranger.post("/request-otp", json={"phoneNumber": NUMBER})

    assert resp.status_code == 409 and resp.json["code"] == "verification_in_progress"
    assert vid not in resp.get_data(as_text=True) and "Set-Cookie" not in resp.headers
    assert stranger.get_cookie("otp_verification") is None


def test_a_lost_start_goes_to_the_caller_that_asked_and_to_nobody_else(
        client: FlaskClient, app: Flask, vonage: FakeVonage) -> None:
    vonage.raw("start", body=requests.ReadTimeout("lost"))
    vonage.start("in_progress", rid="req-lost")  # what Vonage answers when the check asks again
    vonage.check("ok", rid="req-lost")

    lost = client.post("/request-otp", json={"phoneNumber": NUMBER})

    assert lost.status_code == 504
    vid = lost.json["verificationId"]
    assert cookie_vid(client) == vid and pending_rid(app) == ""  # Vonage's request id is not known yet
    # The number is this caller's: a second request, its own or a stranger's, is a plain 409.
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 409
    assert app.test_client().post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 409
    assert client.post("/check-otp", json={"verificationId": vid, "code": "123456"}).status_code == 200


@pytest.mark.parametrize("nonce", ["x" * 129, "café", "line\nbreak", "tab\there", 42, ["n"]])
def test_a_bad_nonce_is_400_before_vonage(client: FlaskClient, vonage: FakeVonage, nonce: object) -> None:
    resp = client.post("/request-otp", json={"phoneNumber": NUMBER, "nonce": nonce})

    assert resp.status_code == 400 and resp.json["code"] == "invalid_request"
    assert "nonce" in resp.json["error"]
    assert vonage.calls("start") == []


def test_a_nonce_of_128_printable_characters_is_kept(client: FlaskClient, app: Flask, vonage: FakeVonage) -> None:
    vonage.start("ok")
    nonce = "".join(chr(32 + i % 95) for i in range(128))

    vid = started(client, nonce=nonce).json["verificationId"]

    pending = app.extensions["otp_store"].get(vid)
    assert pending is not None and pending.nonce == nonce
