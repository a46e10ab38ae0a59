"""Twilio Verify v2 through the official twilio package: verifications by sid, checks by VerificationSid.

Twilio's error code is read before its HTTP status: 20429 (the account throttled), 60202 (too many checks)
and 60203 (too many sends to the number) all come as HTTP 429 and mean three different things.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import NoReturn, TypeVar

import requests
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from ..errors import (
    ActionRefusedError,
    NumberNotSupportedError,
    OtpError,
    ProviderThrottledError,
    ProviderUnavailableError,
    RateLimitedError,
    TooManyAttemptsError,
    UpstreamError,
    UpstreamUnavailableError,
    VerificationExpiredError,
    WrongCodeError,
)
from ..metrics import PROVIDER_ERRORS, PROVIDER_REFUSALS, provider_call
from ..store import Pending
from . import NO_DELIVERY_LEFT, State
from .transport import prepare, transport_failure

log = logging.getLogger(__name__)

T = TypeVar("T")

# Twilio's error codes (https://www.twilio.com/docs/api/errors) -> what they mean here.
CODES: dict[int, type[OtpError]] = {
    20003: ProviderUnavailableError,  # authentication failed: the account is refused
    20404: VerificationExpiredError,  # approved, expired, cancelled or exhausted: Twilio deletes them
    20429: ProviderThrottledError,  # the account sends too many requests
    60200: NumberNotSupportedError,  # invalid parameter (the number)
    60202: TooManyAttemptsError,  # max check attempts reached
    60203: RateLimitedError,  # max send attempts to this number: the person's limit
    60205: NumberNotSupportedError,  # SMS is not supported by this landline
    60410: NumberNotSupportedError,  # fraud block on the destination prefix
    60605: NumberNotSupportedError,  # geo permissions: the country is not enabled
}
# This service's channel names -> Twilio's.
CHANNELS = {"sms": "sms", "voice": "call", "whatsapp": "whatsapp"}
# Outcomes about the person or the number, not faults worth an operator's attention.
_QUIET = (VerificationExpiredError, TooManyAttemptsError, RateLimitedError, NumberNotSupportedError)


def quiet_sdk_logger() -> None:
    """twilio.http_client writes every request's URL and headers at INFO: keep it to warnings."""
    sdk = logging.getLogger("twilio.http_client")
    if sdk.level < logging.WARNING:
        sdk.setLevel(logging.WARNING)


class TwilioProvider:
    """Twilio Verify v2, with the account's auth token or an API key."""

    name = "twilio"
    # Twilio answers a start to a number with a pending verification by sending its code again: the
    # lifecycle looks for its own pending verification first.
    resends_on_start = True

    def __init__(self, *, account_sid: str, username: str, password: str, service_sid: str, verify_url: str,
                 timeout: int, workflow: Sequence[str], lifetime: int) -> None:
        quiet_sdk_logger()
        http = TwilioHttpClient(timeout=timeout)
        prepare(http.session, verify_url)
        self._client = Client(username, password, account_sid, http_client=http)
        self._client.verify.base_url = verify_url.rstrip("/")
        self._service = self._client.verify.v2.services(service_sid)
        self._workflow = tuple(CHANNELS[channel] for channel in workflow)
        self.lifetime = lifetime
        self.channels = tuple(workflow)

    def start(self, number: str) -> str:
        return str(_call("start", lambda: self._service.verifications.create(to=number,
                                                                              channel=self._workflow[0])).sid)

    def check(self, verification: Pending, code: str) -> None:
        answer = _call("check", lambda: self._service.verification_checks.create(
            verification_sid=verification.request_id, code=code))
        if answer.status != "approved":
            raise WrongCodeError()  # a wrong code is a 200 with status "pending"

    def resend(self, verification: Pending) -> None:
        if verification.deliveries >= len(self._workflow):
            raise ActionRefusedError(NO_DELIVERY_LEFT)
        channel = self._workflow[verification.deliveries]
        # A new start to the same number: Twilio sends the same code again, by this channel.
        _call("resend", lambda: self._service.verifications.create(to=verification.number, channel=channel))

    def cancel(self, verification: Pending) -> None:
        _call("cancel", lambda: self._service.verifications(verification.request_id).update(status="canceled"))

    def status(self, verification: Pending) -> State:
        try:
            answer = _call("search", lambda: self._service.verifications(verification.request_id).fetch())
        except VerificationExpiredError:
            return State.UNKNOWN  # gone: approved and deleted, or expired; Twilio does not say which
        return {"approved": State.APPROVED, "pending": State.IN_PROGRESS}.get(str(answer.status), State.ENDED)


def _call(op: str, fn: Callable[[], T]) -> T:
    try:
        with provider_call("twilio", op):
            return fn()
    except (TwilioRestException, TwilioServiceException) as exc:
        _translate_answer(op, exc)
    except requests.RequestException as exc:
        transport = transport_failure(exc)
        error, status, sent = transport or (UpstreamError, "bad_answer", True)
        _fail(error, op, status, f"{status} ({type(exc).__name__})", exc, sent)


def _translate_answer(op: str, exc: TwilioRestException | TwilioServiceException) -> NoReturn:
    code, http = int(exc.code or 0), int(exc.status or 0)
    error = CODES.get(code)
    if error is None:
        error = (ProviderUnavailableError if http in (401, 402, 403) else ProviderThrottledError if http == 429
                 else UpstreamUnavailableError if http == 503 else UpstreamError)
    # Twilio answered with a refusal: it did not act, but for its own failures (5xx, unknown answers).
    sent = error is UpstreamError
    _fail(error, op, f"{code or 'http'}_{http}", f"HTTP {http} code {code}", exc, sent)


def _fail(error: type[OtpError], op: str, status: str, detail: str, cause: Exception, sent: bool) -> NoReturn:
    if issubclass(error, _QUIET):
        PROVIDER_REFUSALS.labels("twilio", op, status).inc()
    else:
        PROVIDER_ERRORS.labels("twilio", op, status).inc()
        level = logging.ERROR if error is ProviderUnavailableError else logging.WARNING
        log.log(level, "twilio %s failed: %s", op, detail, extra={
            "event": "provider_error", "provider": "twilio", "operation": op, "provider_status": status})
    if error is RateLimitedError:
        raise RateLimitedError(600, "provider-number", "number") from cause
    raise error(may_have_sent=sent) from cause
