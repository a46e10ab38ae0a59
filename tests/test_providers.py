"""One provider contract, run against every provider: what each verb answers, in the service's errors.

Vonage's two APIs run through the real SDK against `responses`; the console provider as it is. A harness per
provider arranges what the provider will say (for Vonage, its HTTP answers; the console decides itself).
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Iterator

import pytest
import requests
import responses
from urllib3.exceptions import MaxRetryError, NewConnectionError, ReadTimeoutError

from app.errors import (
    ActionRefusedError,
    NumberNotSupportedError,
    OtpError,
    ProviderThrottledError,
    ProviderUnavailableError,
    RateLimitedError,
    TooManyAttemptsError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
    VerificationExpiredError,
    VerificationInProgressError,
    WrongCodeError,
)
from app.providers import Provider, State
from app.providers.console import ConsoleProvider
from app.providers.registry import provider_from_settings
from app.settings import load_settings
from app.store import Pending

from .conftest import NUMBER, SETTINGS, FakeVonage


def held(request_id: str, deliveries: int = 1) -> Pending:
    return Pending("v" * 43, NUMBER, request_id, deliveries=deliveries)


class Printed(logging.Handler):
    """The console provider's lines, where its codes are."""

    def __init__(self) -> None:
        super().__init__()
        self.codes: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.codes.append(record.getMessage().split(" is ")[1].split(",")[0])


class ConsoleHarness:
    def __init__(self, deliveries: int = 2) -> None:
        self.printed = Printed()
        out = logging.getLogger(f"test.console.{id(self)}")
        out.addHandler(self.printed)
        out.propagate = False
        self.provider: Provider = ConsoleProvider(code_length=6, pin_expiry=300, channels=("sms", "voice")[:deliveries],
                                                  out=out)
        self.knows_status = True

    def start(self) -> str:
        return self.provider.start(NUMBER)

    def in_progress(self, rid: str) -> None:
        """The next start finds ``rid`` in progress: the console knows its own."""

    def check(self, rid: str, outcome: str) -> str:
        """The code that gets ``outcome`` (ok, wrong, too_many, expired) from the provider."""
        right = self.printed.codes[-1]
        return right if outcome == "ok" else f"{(int(right) + 1) % 10**6:06d}"

    def resend(self, rid: str, outcome: str) -> None:
        """The console allows as many deliveries as its workflow has steps (two here), then refuses."""

    def cancel(self, rid: str) -> None:
        """The cancel goes through."""

    def approved(self, rid: str) -> None:
        """What became of ``rid``: the console remembers its approvals."""


class VonageHarness:
    def __init__(self, api: str, mock: responses.RequestsMock) -> None:
        self.vonage = FakeVonage(api, mock)
        self.provider = provider_from_settings(load_settings({**SETTINGS, "VONAGE_VERIFY_API": api}))
        self.knows_status = api == "legacy"

    def start(self) -> str:
        self.vonage.start("ok", rid="req-c1")
        return self.provider.start(NUMBER)

    def in_progress(self, rid: str) -> None:
        self.vonage.start("in_progress", rid=rid)

    def check(self, rid: str, outcome: str) -> str:
        self.vonage.check(outcome, rid=rid)
        return "123456"

    def resend(self, rid: str, outcome: str) -> None:
        self.vonage.control("next", outcome, rid=rid)
        if outcome == "refused" and self.knows_status:
            self.vonage.search("IN PROGRESS", rid=rid)

    def cancel(self, rid: str) -> None:
        self.vonage.control("cancel", "ok", rid=rid)

    def approved(self, rid: str) -> None:
        if self.knows_status:
            self.vonage.search("SUCCESS", rid=rid)


TWILIO = "https://verify.twilio.com/v2/Services/VA0123456789abcdef0123456789abcdef"
TWILIO_SETTINGS = {"OTP_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC0123456789abcdef0123456789abcdef",
                   "TWILIO_AUTH_TOKEN": "twilio-s3cret-token", "TWILIO_VERIFY_SERVICE_SID": TWILIO.rsplit("/", 1)[1],
                   "OTP_TOKEN_PRIVATE_KEY": SETTINGS["OTP_TOKEN_PRIVATE_KEY"], "OTP_TOKEN_ISSUER": "https://otp.test"}


def twilio_error(http: int, code: int) -> dict[str, object]:
    return {"status": http, "json": {"code": code, "message": f"error {code}", "status": http,
                                     "more_info": f"https://www.twilio.com/docs/errors/{code}"}}


class TwilioHarness:
    """Twilio Verify v2 at the HTTP level, as twilio-python calls it."""

    def __init__(self, mock: responses.RequestsMock) -> None:
        self.mock = mock
        self.provider = provider_from_settings(load_settings(TWILIO_SETTINGS))
        self.knows_status = False  # approved verifications are deleted: a later fetch cannot tell

    def _verification(self, rid: str, status: str = "pending", channel: str = "sms") -> dict[str, object]:
        return {"sid": rid, "status": status, "to": NUMBER, "channel": channel, "valid": status == "approved"}

    def start(self) -> str:
        self.mock.add(responses.POST, f"{TWILIO}/Verifications", status=201, json=self._verification("VE-c1"))
        return self.provider.start(NUMBER)

    def in_progress(self, rid: str) -> None:
        # Twilio sends the pending code again, under the same sid.
        self.mock.add(responses.POST, f"{TWILIO}/Verifications", status=201, json=self._verification(rid))

    def check(self, rid: str, outcome: str) -> str:
        answer: dict[str, object] = {
            "ok": {"json": self._verification(rid, "approved")}, "wrong": {"json": self._verification(rid)},
            "too_many": twilio_error(429, 60202), "expired": twilio_error(404, 20404)}[outcome]
        self.mock.add(responses.POST, f"{TWILIO}/VerificationCheck", **answer)  # type: ignore[arg-type]
        return "123456"

    def resend(self, rid: str, outcome: str) -> None:
        if outcome == "ok":
            self.mock.add(responses.POST, f"{TWILIO}/Verifications", status=201,
                          json=self._verification(rid, channel="call"))

    def cancel(self, rid: str) -> None:
        self.mock.add(responses.POST, f"{TWILIO}/Verifications/{rid}", json=self._verification(rid, "canceled"))

    def approved(self, rid: str) -> None:
        self.mock.add(responses.GET, f"{TWILIO}/Verifications/{rid}", **twilio_error(404, 20404))  # type: ignore[arg-type]


Harness = ConsoleHarness | VonageHarness | TwilioHarness


@pytest.fixture(params=["vonage-legacy", "vonage-v2", "twilio", "console"])
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    if request.param == "console":
        yield ConsoleHarness()
        return
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield TwilioHarness(mock) if request.param == "twilio" else VonageHarness(request.param[7:], mock)


def test_a_start_answers_the_providers_request_id(harness: Harness) -> None:
    rid = harness.start()

    assert isinstance(rid, str) and rid
    assert harness.provider.lifetime > 0 and harness.provider.name in ("vonage", "twilio", "console")


def test_a_second_start_names_the_verification_in_progress_or_says_it_resends_it(harness: Harness) -> None:
    rid = harness.start()
    harness.in_progress(rid)

    if harness.provider.resends_on_start:  # the lifecycle then never asks while one is pending
        assert harness.provider.start(NUMBER) == rid
        return
    with pytest.raises(VerificationInProgressError) as exc:
        harness.provider.start(NUMBER)
    assert exc.value.request_id == rid


def test_the_right_code_returns(harness: Harness) -> None:
    rid = harness.start()

    assert harness.provider.check(held(rid), harness.check(rid, "ok")) is None


def test_wrong_codes_are_wrong_until_the_third_ends_the_verification(harness: Harness) -> None:
    rid = harness.start()
    outcomes = [WrongCodeError, WrongCodeError, TooManyAttemptsError]

    for outcome, expected in zip(("wrong", "wrong", "too_many"), outcomes, strict=True):
        with pytest.raises(expected):
            harness.provider.check(held(rid), harness.check(rid, outcome))


def test_a_cancelled_verification_is_over(harness: Harness) -> None:
    rid = harness.start()
    harness.cancel(rid)
    harness.provider.cancel(held(rid))

    with pytest.raises(VerificationExpiredError):
        harness.provider.check(held(rid), harness.check(rid, "expired"))


def test_a_resend_delivers_and_one_past_the_last_step_is_refused_with_the_code_still_valid(harness: Harness) -> None:
    rid = harness.start()
    harness.resend(rid, "ok")
    harness.provider.resend(held(rid))
    harness.resend(rid, "refused")

    with pytest.raises(ActionRefusedError):
        harness.provider.resend(held(rid, deliveries=2))


def test_status_says_what_became_of_the_verification_or_that_it_cannot_say(harness: Harness) -> None:
    rid = harness.start()
    harness.provider.check(held(rid), harness.check(rid, "ok"))
    harness.approved(rid)

    assert harness.provider.status(held(rid)) is (State.APPROVED if harness.knows_status else State.UNKNOWN)


# What a fault means for failover: did the provider certainly not act, or may it have?
FAULTS = [
    ({"body": requests.ConnectionError(NewConnectionError(None, "refused"))}, UpstreamUnavailableError, False),
    ({"body": requests.ConnectTimeout("connect timed out")}, UpstreamTimeoutError, False),
    ({"body": requests.ReadTimeout("read timed out")}, UpstreamTimeoutError, True),
    # How requests reports a read timeout on a GET or DELETE (urllib3 retries idempotent methods).
    ({"body": requests.ConnectionError(MaxRetryError(None, "/", ReadTimeoutError(None, "/", "read timed out")))},  # type: ignore[arg-type]
     UpstreamTimeoutError, True),
    ({"body": requests.ConnectionError("RemoteDisconnected")}, UpstreamUnavailableError, True),
    ({"status": 503, "body": "down"}, UpstreamUnavailableError, False),
    ({"status": 500, "json": {"title": "boom"}}, UpstreamError, True),
    ({"status": 429, "json": {"title": "Too Many Requests"}}, ProviderThrottledError, False),
    ({"status": 401, "json": {"title": "Unauthorized"}}, ProviderUnavailableError, False),
]


@pytest.mark.parametrize("api", ["legacy"])
@pytest.mark.parametrize(("status", "error", "may_have_sent"), [
    ("1", ProviderThrottledError, False), ("4", ProviderUnavailableError, False),
    ("9", ProviderUnavailableError, False), ("5", UpstreamError, True), ("99", UpstreamError, True)])
def test_a_legacy_failure_status_says_whether_vonage_may_have_acted(api: str, status: str, error: type[OtpError],
                                                                    may_have_sent: bool) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        harness = VonageHarness(api, mock)
        harness.vonage.raw("start", json={"status": status, "error_text": "failed"})

        with pytest.raises(error) as exc:
            harness.provider.start(NUMBER)

    assert exc.value.may_have_sent is may_have_sent


@pytest.mark.parametrize("api", ["legacy", "v2"])
@pytest.mark.parametrize(("answer", "error", "may_have_sent"), FAULTS)
def test_every_fault_says_whether_the_provider_may_have_sent(api: str, answer: dict[str, object],
                                                            error: type[OtpError], may_have_sent: bool) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        harness = VonageHarness(api, mock)
        harness.vonage.raw("start", **answer)

        with pytest.raises(error) as exc:
            harness.provider.start(NUMBER)

    assert exc.value.may_have_sent is may_have_sent


# --- the console provider's own rules ----------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_codes_expire_and_a_new_one_can_be_requested() -> None:
    clock = FakeClock()
    console = ConsoleProvider(code_length=6, pin_expiry=300, clock=clock)
    first = console.start(NUMBER)
    with pytest.raises(VerificationInProgressError) as exc:
        console.start(NUMBER)
    assert exc.value.request_id == first

    clock.now += 300
    with pytest.raises(VerificationExpiredError):
        console.check(held(first), "000000")
    assert console.start(NUMBER) != first


def test_wrong_then_unknown_request() -> None:
    console = ConsoleProvider(code_length=6, pin_expiry=300)
    request_id = console.start(NUMBER)
    code = console._codes[request_id].code
    wrong = f"{(int(code) + 1) % 10**6:06d}"

    with pytest.raises(WrongCodeError):
        console.check(held(request_id), wrong)
    with pytest.raises(WrongCodeError):
        console.check(held(request_id), wrong)
    with pytest.raises(TooManyAttemptsError):
        console.check(held(request_id), wrong)
    with pytest.raises(VerificationExpiredError):
        console.check(held(request_id), code)


# --- Twilio's error codes, read before the HTTP status --------------------------------------------------
@pytest.mark.parametrize(("http", "code", "error", "may_have_sent"), [
    (429, 20429, ProviderThrottledError, False),  # the account throttled
    (429, 60203, RateLimitedError, False),  # too many sends to this number: the person's limit
    (400, 60200, NumberNotSupportedError, False),
    (403, 60605, NumberNotSupportedError, False),  # geo permissions
    (403, 60410, NumberNotSupportedError, False),  # fraud block
    (401, 20003, ProviderUnavailableError, False),
    (503, 0, UpstreamUnavailableError, False),
    (500, 0, UpstreamError, True),
])
def test_twilio_errors_mean_what_their_code_says(http: int, code: int, error: type[OtpError],
                                                  may_have_sent: bool) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        harness = TwilioHarness(mock)
        mock.add(responses.POST, f"{TWILIO}/Verifications", **twilio_error(http, code))  # type: ignore[arg-type]

        with pytest.raises(error) as exc:
            harness.provider.start(NUMBER)

    assert exc.value.may_have_sent is may_have_sent


@pytest.mark.parametrize(("answer", "error", "may_have_sent"), FAULTS[:4])
def test_twilio_transport_faults_say_whether_twilio_may_have_sent(answer: dict[str, object], error: type[OtpError],
                                                                  may_have_sent: bool) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        harness = TwilioHarness(mock)
        mock.add(responses.POST, f"{TWILIO}/Verifications", **answer)  # type: ignore[arg-type]

        with pytest.raises(error) as exc:
            harness.provider.start(NUMBER)

    assert exc.value.may_have_sent is may_have_sent


def test_twilio_checks_by_verification_sid_and_sends_the_next_channel_as_a_call(
        caplog: pytest.LogCaptureFixture) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock, caplog.at_level(logging.DEBUG):
        harness = TwilioHarness(mock)
        rid = harness.start()
        harness.check(rid, "ok")
        harness.resend(rid, "ok")
        harness.provider.check(held(rid), "123456")
        harness.provider.resend(held(rid))

        start, check, resend = (urllib.parse.parse_qs(call.request.body) for call in mock.calls)
    assert start == {"To": [NUMBER], "Channel": ["sms"]}
    assert check == {"VerificationSid": [rid], "Code": ["123456"]}  # never by To
    assert resend == {"To": [NUMBER], "Channel": ["call"]}
    assert "twilio-s3cret-token" not in caplog.text and "123456" not in caplog.text
