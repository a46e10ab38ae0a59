"""POST /resend-otp and /cancel-otp for legacy and v2."""

from __future__ import annotations

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from .conftest import NUMBER, FakeVonage, MakeApp, cookie_vid, pending_rid


@pytest.fixture
def pending(client: FlaskClient, vonage: FakeVonage) -> str:
    vonage.start("ok", rid="req-0001")
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    return "req-0001"


def post(client: FlaskClient, path: str, number: str = NUMBER, vid: str | None = None):  # type: ignore[no-untyped-def]
    return client.post(path, json={"phoneNumber": number, **({"verificationId": vid} if vid else {})})


def test_resend_asks_vonage_for_the_next_step(client: FlaskClient, vonage: FakeVonage, app: Flask,
                                              pending: str) -> None:
    vonage.control("next", "ok", rid=pending)

    resp = post(client, "/resend-otp")

    assert resp.status_code == 200
    assert "message" in resp.json
    [call] = vonage.calls("next", pending)
    if vonage.api == "legacy":
        assert vonage.sent(call) == {"request_id": pending, "cmd": "trigger_next_event"}
    assert pending_rid(app) == pending


def test_resend_with_nothing_pending_is_404(client: FlaskClient, vonage: FakeVonage) -> None:
    resp = post(client, "/resend-otp", vid="A" * 43)

    assert resp.status_code == 404
    assert resp.json["code"] == "no_pending_verification"
    assert len(vonage.mock.calls) == 0


def test_resend_refused_is_409_and_the_code_stays(client: FlaskClient, vonage: FakeVonage, app: Flask,
                                                  pending: str) -> None:
    vonage.control("next", "refused", rid=pending)
    if vonage.api == "legacy":  # v2 cannot be asked what became of a request
        vonage.search("IN PROGRESS", rid=pending)

    resp = post(client, "/resend-otp")

    assert resp.status_code == 409
    assert resp.json["code"] == "action_refused"
    assert pending_rid(app) == pending
    if vonage.api == "legacy":
        assert "enter it" in resp.json["error"]  # Vonage said the request is in progress


@pytest.mark.parametrize("api", ["legacy"])
@pytest.mark.parametrize(("path", "verb"), [("/resend-otp", "next"), ("/cancel-otp", "cancel")])
@pytest.mark.parametrize("state", ["EXPIRED", "FAILED", "CANCELLED"])
def test_legacy_19_on_a_request_that_is_over_is_410_not_the_code_stays_valid(
        client: FlaskClient, vonage: FakeVonage, app: Flask, pending: str, path: str, verb: str, state: str) -> None:
    # Status 19 means "too early" or "too late"; the search endpoint says which.
    vonage.control(verb, "refused", rid=pending)
    vonage.search(state, rid=pending)

    resp = post(client, path)

    assert resp.status_code == 410 and resp.json["code"] == "code_expired"
    assert "valid" not in resp.json["error"]
    assert pending_rid(app) is None
    assert len(vonage.searches()) == 1


@pytest.mark.parametrize("api", ["legacy"])
@pytest.mark.parametrize(("path", "verb"), [("/resend-otp", "next"), ("/cancel-otp", "cancel")])
def test_after_a_lost_check_answer_a_resend_or_cancel_says_approved_and_the_next_check_gets_the_token(
        client: FlaskClient, vonage: FakeVonage, app: Flask, pending: str, path: str, verb: str) -> None:
    vonage.raw("check", rid=pending, body=requests.ReadTimeout("lost"))  # Vonage approved it meanwhile
    vonage.control(verb, "refused", rid=pending)  # status 19: "too late"
    vonage.search("SUCCESS", rid=pending)
    vonage.search("SUCCESS", rid=pending)
    assert client.post("/check-otp", json={"code": "123456"}).status_code == 504

    resp = post(client, path)

    assert (resp.status_code, resp.json["code"]) == (409, "already_approved")
    assert pending_rid(app) == pending  # kept for the next check
    checked = client.post("/check-otp", json={"code": "123456"})
    assert checked.status_code == 200 and checked.json["token"]
    assert len(vonage.calls("check", pending)) == 1  # the approval was asked about, not checked again


def test_resend_of_an_expired_request_is_410_and_forgets_it(client: FlaskClient, vonage: FakeVonage, app: Flask,
                                                            pending: str) -> None:
    vonage.control("next", "expired", rid=pending)

    resp = post(client, "/resend-otp")

    assert resp.status_code == 410
    assert pending_rid(app) is None


def test_resend_waits_for_the_cooldown(settings: dict[str, str], vonage: FakeVonage, make_app: MakeApp) -> None:
    client = make_app({**settings, "OTP_RESEND_COOLDOWN": "30"}).test_client()
    vonage.start("ok")

    assert post(client, "/request-otp").status_code == 200
    resp = post(client, "/resend-otp")

    assert resp.status_code == 429
    assert resp.json["code"] == "rate_limited"
    assert 1 <= int(resp.headers["Retry-After"]) <= 31
    assert vonage.calls("next") == []


def test_resends_count_against_the_per_number_send_limit(client: FlaskClient, vonage: FakeVonage,
                                                         pending: str) -> None:
    vonage.control("next", "ok", rid=pending)

    statuses = [post(client, "/resend-otp").status_code for _ in range(3)]

    assert statuses == [200, 200, 429]  # 3 sends per 10 minutes: the request and two resends
    assert len(vonage.calls("next", pending)) == 2


def test_cancel_ends_the_verification(client: FlaskClient, vonage: FakeVonage, app: Flask, pending: str) -> None:
    vonage.control("cancel", "ok", rid=pending)
    vid = cookie_vid(client)

    resp = post(client, "/cancel-otp")

    assert resp.status_code == 200
    [call] = vonage.calls("cancel", pending)
    if vonage.api == "legacy":
        assert vonage.sent(call) == {"request_id": pending, "cmd": "cancel"}
    else:
        assert call.request.method == "DELETE"
    assert pending_rid(app) is None
    assert post(client, "/cancel-otp", vid=vid).status_code == 404


def test_cancel_with_nothing_pending_is_404(client: FlaskClient, vonage: FakeVonage) -> None:
    assert post(client, "/cancel-otp", vid="A" * 43).status_code == 404
    assert len(vonage.mock.calls) == 0


def test_cancel_refused_is_409_and_the_code_stays_checkable(client: FlaskClient, vonage: FakeVonage, app: Flask,
                                                            pending: str) -> None:
    vonage.control("cancel", "refused", rid=pending)
    if vonage.api == "legacy":  # v2 cannot be asked what became of a request
        vonage.search("IN PROGRESS", rid=pending)
    vonage.check("ok", rid=pending)

    resp = post(client, "/cancel-otp")

    assert resp.status_code == 409
    assert resp.json["code"] == "action_refused"
    assert pending_rid(app) == pending
    assert client.post("/check-otp", json={"phoneNumber": NUMBER, "code": "123456"}).status_code == 200


def test_cancel_of_an_expired_request_is_410_and_forgets_it(client: FlaskClient, vonage: FakeVonage, app: Flask,
                                                            pending: str) -> None:
    vonage.control("cancel", "expired", rid=pending)

    assert post(client, "/cancel-otp").status_code == 410
    assert pending_rid(app) is None


@pytest.mark.parametrize("path", ["/resend-otp", "/cancel-otp"])
def test_bad_input_gets_400(client: FlaskClient, vonage: FakeVonage, pending: str, path: str) -> None:
    vid = cookie_vid(client)
    assert post(client, path, "12345").json["code"] == "invalid_phone_number"
    assert client.post(path, json={"verificationId": ["x"]}).json["code"] == "invalid_request"
    client.delete_cookie("otp_verification")
    assert client.post(path, json={}).json["code"] == "verification_id_required"
    assert post(client, path, "12345", vid=vid).json["code"] == "invalid_phone_number"
    assert vonage.calls("next") == [] and vonage.calls("cancel") == []


@pytest.mark.parametrize(("settings_extra", "answers"), [
    # Legacy workflow 1: an SMS, then two voice calls.
    ({"VONAGE_VERIFY_API": "legacy", "VONAGE_WORKFLOW_ID": "1"},
     [("sms", "voice"), ("voice", "voice"), ("voice", None)]),
    ({"VONAGE_VERIFY_API": "legacy", "VONAGE_WORKFLOW_ID": "6"}, [("sms", None)]),
    ({"VONAGE_VERIFY_API": "v2", "VONAGE_WORKFLOW": "sms,voice"}, [("sms", "voice"), ("voice", None)]),
])
def test_each_send_says_its_channel_the_next_and_when_to_ask(settings: dict[str, str], vonage: FakeVonage,
                                                             settings_extra: dict[str, str],
                                                             answers: list[tuple[str, str | None]],
                                                             make_app: MakeApp) -> None:
    client = make_app({**settings, **settings_extra, "OTP_RESEND_COOLDOWN": "0"}).test_client()
    vonage.api = settings_extra["VONAGE_VERIFY_API"]
    vonage.start("ok")
    if len(answers) > 1:
        vonage.control("next", "ok")

    said = [client.post("/request-otp", json={"phoneNumber": NUMBER}).json]
    said += [client.post("/resend-otp", json={}).json for _ in answers[1:]]

    assert [(a["channel"], a["nextChannel"]) for a in said] == answers
    assert {a["resendIn"] for a in said} == {0}


def test_the_answer_names_the_cooldown(settings: dict[str, str], vonage: FakeVonage, make_app: MakeApp) -> None:
    vonage.start("ok")

    answer = make_app({**settings, "OTP_RESEND_COOLDOWN": "45"}).test_client().post(
        "/request-otp", json={"phoneNumber": NUMBER}).json

    assert answer["resendIn"] == 45
