"""Vonage's legacy Verify API (``/verify/json``): request ids, statuses in a 200 body, a search endpoint."""

from __future__ import annotations

from collections.abc import Callable

from vonage_http_client import Auth
from vonage_verify_legacy import VerifyLegacy
from vonage_verify_legacy import VerifyRequest as LegacyRequest

from ..errors import (
    ActionRefusedError,
    NumberNotSupportedError,
    OtpError,
    ProviderThrottledError,
    ProviderUnavailableError,
    TooManyAttemptsError,
    UpstreamError,
    VerificationExpiredError,
    VerificationInProgressError,
    WrongCodeError,
)
from ..settings.rules import LEGACY_WORKFLOWS
from ..store import Pending
from . import NO_DELIVERY_LEFT, State, refusal
from .vonage_http import StatusError, call, http_client

# Statuses: https://developer.vonage.com/en/api/verify#verifyRequest (response codes).
STATUS: dict[str, type[OtpError]] = {
    "1": ProviderThrottledError,  # throttled: more than the account's requests per second
    "3": NumberNotSupportedError,  # invalid value (the number; ours is validated before)
    "4": ProviderUnavailableError,  # invalid credentials
    "5": UpstreamError,  # internal error at Vonage
    "6": VerificationExpiredError,  # request not found, expired or already verified
    "7": NumberNotSupportedError,  # number barred
    "8": ProviderUnavailableError,  # account barred
    "9": ProviderUnavailableError,  # partner quota exceeded (no balance)
    "10": VerificationInProgressError,  # concurrent verification to the same number
    "15": NumberNotSupportedError,  # destination not in a supported network
    "16": WrongCodeError,  # the code does not match
    "17": TooManyAttemptsError,  # wrong code too many times: request terminated
    "19": ActionRefusedError,  # control refused: cancel within 30 s or too late, no event left
    "29": NumberNotSupportedError,  # non-permitted destination
    "101": VerificationExpiredError,  # no such request
}
# The search endpoint's words for what became of a request.
SEARCH_STATES = {"SUCCESS": State.APPROVED, "IN PROGRESS": State.IN_PROGRESS, "FAILED": State.ENDED,
                 "EXPIRED": State.ENDED, "CANCELLED": State.ENDED}
CANCEL_TOO_EARLY = ("The verification cannot be cancelled right now (Vonage refuses a cancel in its first 30 "
                    "seconds); the code stays valid.")


class _VerifyLegacy(VerifyLegacy):  # type: ignore[misc]
    """The SDK's legacy client, raising the answer itself instead of a string-only VerifyError.

    The SDK would also crash with a TypeError on an empty or non-JSON 2xx answer; this raises instead.
    """

    def _check_for_error(self, response: object) -> None:
        if not isinstance(response, dict) or str(response.get("status")) != "0":
            raise StatusError(response)

    def status_of(self, request_id: str) -> str:
        """The search endpoint's status word (SUCCESS, IN PROGRESS, FAILED, EXPIRED, CANCELLED). The SDK's
        search() raises a string-only error for "not found" and for a refused account alike."""
        answer = self._http_client.get(self._http_client.api_host, "/verify/search/json",
                                       {"request_id": request_id}, self._auth_type)
        if not isinstance(answer, dict) or "error_text" in answer or not answer.get("status"):
            raise StatusError(answer)
        return str(answer["status"])


class VonageLegacyProvider:
    """Vonage's legacy Verify API, with API key and secret."""

    name = "vonage"
    resends_on_start = False

    def __init__(self, *, auth: Auth, api_host: str, timeout: int, brand: str, code_length: int, pin_expiry: int,
                 workflow_id: int) -> None:
        self._client = _VerifyLegacy(http_client(auth, api_host, timeout))
        self._request = {"brand": brand, "code_length": code_length, "pin_expiry": pin_expiry,
                         "workflow_id": workflow_id}
        self.lifetime = pin_expiry
        self.channels = LEGACY_WORKFLOWS.get(workflow_id, ("sms",))
        LegacyRequest(number="14155552671", **self._request)  # fail at startup, not on the first request

    def start(self, number: str) -> str:
        request = LegacyRequest(number=number.lstrip("+"), **self._request)
        return str(call("start", lambda: self._client.start_verification(request), by_legacy_status=STATUS).request_id)

    def check(self, verification: Pending, code: str) -> None:
        call("check", lambda: self._client.check_code(verification.request_id, code), by_legacy_status=STATUS)

    def resend(self, verification: Pending) -> None:
        self._control("next_step", lambda: self._client.trigger_next_event(verification.request_id), verification,
                      NO_DELIVERY_LEFT)

    def cancel(self, verification: Pending) -> None:
        self._control("cancel", lambda: self._client.cancel_verification(verification.request_id), verification,
                      CANCEL_TOO_EARLY)

    def _control(self, op: str, command: Callable[[], object], verification: Pending, still_valid: str) -> None:
        try:
            call(op, command, by_legacy_status=STATUS)
        except ActionRefusedError as exc:
            # Status 19 means "too early" or "too late": the search tells which.
            raise refusal(self.status(verification), still_valid) from exc

    def status(self, verification: Pending) -> State:
        try:
            word = call("search", lambda: self._client.status_of(verification.request_id), by_legacy_status=STATUS)
        except VerificationExpiredError:
            return State.ENDED  # status 101: no such request (any more)
        return SEARCH_STATES.get(word, State.UNKNOWN)
