"""POST /check-otp for legacy and v2: the entry is kept on a typo and on faults, removed when it is over."""

from __future__ import annotations

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient

from .conftest import NUMBER, FakeVonage, MakeApp, basic_auth, cookie_vid, pending_rid


@pytest.fixture
def pending(client: FlaskClient, vonage: FakeVonage) -> str:
    """A verification started for NUMBER, as Vonage's request id."""
    vonage.start("ok", rid="req-0001")
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    return "req-0001"


def check(client: FlaskClient, code: str = "123456", number: str = NUMBER, form: bool = False,  # type: ignore[no-untyped-def]
          vid: str | None = None):
    body = {"phoneNumber": number, "code": code}
    if vid:
        body["verificationId"] = vid
    return client.post("/check-otp", data=body) if form else client.post("/check-otp", json=body)


def test_right_code_gets_200_and_cannot_be_used_twice(client: FlaskClient, vonage: FakeVonage, app: Flask,
                                                      pending: str) -> None:
    vonage.check("ok", rid=pending)
    vid = cookie_vid(client)

    resp = check(client, "123456")

    assert resp.status_code == 200
    assert resp.json["verified"] is True and resp.json["verificationId"] == vid
    assert resp.json["phoneNumber"] == NUMBER
    assert pending not in resp.get_data(as_text=True) and "123456" not in resp.get_data(as_text=True)
    [call] = vonage.calls("check", pending)
    assert vonage.sent(call)["code"] == "123456"
    assert call.request.headers["Authorization"] == basic_auth()
    assert pending_rid(app) is None
    assert client.get_cookie("otp_verification") is None  # the cookie ends with the verification
    again = check(client, "123456", vid=vid)
    assert again.status_code == 404
    assert again.json["code"] == "no_pending_verification"
    assert len(vonage.calls("check", pending)) == 1


@pytest.mark.parametrize("api", ["legacy"])
def test_legacy_check_is_a_form_with_request_id_and_code(client: FlaskClient, vonage: FakeVonage,
                                                         pending: str) -> None:
    vonage.check("ok", rid=pending)

    check(client, "123456")

    assert vonage.sent(vonage.calls("check", pending)[0]) == {"request_id": pending, "code": "123456"}


@pytest.mark.parametrize("api", ["v2"])
def test_v2_check_posts_the_code_to_the_request(client: FlaskClient, vonage: FakeVonage, pending: str) -> None:
    vonage.check("ok", rid=pending)

    check(client, "123456")

    [call] = vonage.calls("check", pending)
    assert call.request.url.endswith(f"/v2/verify/{pending}")
    assert vonage.sent(call) == {"code": "123456"}


def test_form_encoded_check_and_another_spelling_of_the_number(client: FlaskClient, vonage: FakeVonage,
                                                                pending: str) -> None:
    vonage.check("ok", rid=pending)

    assert check(client, "123456", number="+1 415-555-2671", form=True).status_code == 200


def test_wrong_code_gets_401_and_the_person_can_try_again(client: FlaskClient, vonage: FakeVonage, app: Flask,
                                                          pending: str) -> None:
    vonage.check("wrong", rid=pending)
    vonage.check("ok", rid=pending)

    resp = check(client, "000000")

    assert resp.status_code == 401
    assert resp.json["code"] == "wrong_code"
    assert pending not in resp.get_data(as_text=True) and "000000" not in resp.get_data(as_text=True)
    assert pending_rid(app) == pending
    assert check(client, "123456").status_code == 200


@pytest.mark.parametrize(("outcome", "code"), [("too_many", "too_many_attempts"), ("expired", "code_expired")])
def test_finished_attempt_gets_410_and_a_new_code_can_be_requested(
        client: FlaskClient, vonage: FakeVonage, app: Flask, pending: str, outcome: str, code: str) -> None:
    vonage.check(outcome, rid=pending)
    vid = cookie_vid(client)

    resp = check(client, "000000")

    assert resp.status_code == 410
    assert resp.json["code"] == code
    assert pending_rid(app) is None
    assert check(client, "000000", vid=vid).status_code == 404
    vonage.mock.replace("POST", vonage.start_url(), status=202 if vonage.api == "v2" else 200,
                        json={"request_id": "req-0002", "status": "0"})
    assert client.post("/request-otp", json={"phoneNumber": NUMBER}).status_code == 200
    assert pending_rid(app) == "req-0002"


@pytest.mark.parametrize("api", ["legacy"])
def test_legacy_unknown_request_is_410(client: FlaskClient, vonage: FakeVonage, app: Flask, pending: str) -> None:
    vonage.raw("check", json={"request_id": pending, "status": "101", "error_text": "No response found"})

    assert check(client, "000000").status_code == 410
    assert pending_rid(app) is None


@pytest.mark.parametrize("vid", ["x" * 43, "short", "a" * 2000, "../../etc"])
def test_an_unknown_verification_gets_404_without_calling_vonage(client: FlaskClient, vonage: FakeVonage,
                                                                vid: str) -> None:
    resp = check(client, "123456", vid=vid)

    assert resp.status_code == 404
    assert resp.json["code"] == "no_pending_verification"
    assert len(vonage.mock.calls) == 0


def test_a_check_without_a_verification_id_or_cookie_gets_400(client: FlaskClient, vonage: FakeVonage) -> None:
    resp = check(client, "123456")

    assert resp.status_code == 400
    assert resp.json["code"] == "verification_id_required"
    assert len(vonage.mock.calls) == 0


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"code": "123456", "verificationId": 123}, "invalid_request"),
        ({"phoneNumber": NUMBER}, "invalid_request"),
        ({"phoneNumber": NUMBER, "code": 123456}, "invalid_request"),
        ({"phoneNumber": 14155552671, "code": "123456"}, "invalid_request"),
        ({"phoneNumber": NUMBER, "code": ""}, "invalid_request"),
        ({"phoneNumber": NUMBER, "code": "123"}, "invalid_code_format"),
        ({"phoneNumber": NUMBER, "code": "12345678901"}, "invalid_code_format"),
        ({"phoneNumber": NUMBER, "code": "12a456"}, "invalid_code_format"),
        ({"phoneNumber": NUMBER, "code": "١٢٣٤٥٦"}, "invalid_code_format"),
        ({"phoneNumber": NUMBER, "code": "123 456"}, "invalid_code_format"),
        ({"phoneNumber": "12345", "code": "123456"}, "invalid_phone_number"),
    ],
)
def test_bad_input_gets_400_and_never_reaches_vonage(client: FlaskClient, vonage: FakeVonage, pending: str,
                                                     body: dict[str, object], code: str) -> None:
    resp = client.post("/check-otp", json=body)

    assert resp.status_code == 400
    assert resp.json["code"] == code
    assert vonage.calls("check", pending) == []


@pytest.mark.parametrize(
    ("answer", "http", "lost"),
    [
        # A dropped connection, a timeout, a 5xx or an unusable answer: Vonage may have approved the code.
        ({"body": requests.ConnectionError("refused")}, 503, True),
        ({"body": requests.ReadTimeout("timed out")}, 504, True),
        ({"status": 500, "json": {"error": "boom"}}, 502, True),
        ({"status": 200, "body": "not json"}, 502, True),
        # Vonage refused the call itself (unavailable, throttled): it checked nothing.
        ({"status": 503, "body": "down"}, 503, False),
        ({"status": 429, "json": {"title": "Too Many Requests"}}, 503, False),
    ],
)
def test_faults_during_the_check_keep_the_entry(client: FlaskClient, vonage: FakeVonage, app: Flask,
                                                pending: str, answer: dict[str, object], http: int,
                                                lost: bool) -> None:
    vonage.raw("check", rid=pending, **answer)
    vonage.check("ok", rid=pending)
    vonage.search("IN PROGRESS", rid=pending)
    vonage.may_go_unused("the search is asked only after some faults; the test counts searches itself")

    resp = check(client, "123456")

    assert resp.status_code == http
    assert pending_rid(app) == pending
    assert check(client, "123456").status_code == 200
    # A fault after which the check may have reached Vonage makes the next check ask what became of the
    # request first (legacy search: v2 cannot be asked); a fault that says nothing was checked does not.
    assert len(vonage.searches()) == (1 if lost and vonage.api == "legacy" else 0)


@pytest.mark.parametrize("api", ["legacy"])
@pytest.mark.parametrize(("status", "http"), [("5", 502), ("1", 503)])
def test_legacy_fault_statuses_during_the_check_keep_the_entry(client: FlaskClient, vonage: FakeVonage, app: Flask,
                                                               pending: str, status: str, http: int) -> None:
    vonage.raw("check", json={"request_id": pending, "status": status, "error_text": "fault"})

    assert check(client, "123456").status_code == http
    assert pending_rid(app) == pending


def test_leading_and_trailing_spaces_around_the_code_are_ignored(client: FlaskClient, vonage: FakeVonage,
                                                                 pending: str) -> None:
    vonage.check("ok", rid=pending)

    assert check(client, " 123456 ").status_code == 200
    assert vonage.sent(vonage.calls("check", pending)[0])["code"] == "123456"


def test_a_check_refused_before_the_provider_spends_none_of_the_verifications_checks(
        make_app: MakeApp, settings: dict[str, str], vonage: FakeVonage) -> None:
    app = make_app(settings, OTP_RATELIMIT_CHECK_IP="1/hour")
    client, store = app.test_client(), app.extensions["otp_store"]
    vonage.start("ok", rid="req-0001")
    vid = client.post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]
    vonage.check("wrong", rid="req-0001")
    vonage.check("wrong", rid="req-0001")

    def check_from(address: str, **body: str) -> int:
        answer = client.post("/check-otp", json={"verificationId": vid, "code": "000000", **body},
                             environ_base={"REMOTE_ADDR": address})
        return answer.status_code

    assert check_from("192.0.2.1") == 401
    # Past its client's limit, with a malformed code, with another number: each held the verification to
    # read it, then gave the hold back with its count.
    assert check_from("192.0.2.1") == 429
    assert check_from("192.0.2.2", code="12a456") == 400
    assert check_from("192.0.2.3", phoneNumber="+14155550100") == 404
    assert store.get(vid).checks == 1

    assert check_from("192.0.2.4") == 401  # not held by any of them: no wait
    assert store.get(vid).checks == 2
