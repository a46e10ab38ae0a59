"""The Verify wrapper: the only module that talks to the Vonage SDK.

Routes see two verbs, ``start(number) -> request_id`` and ``check(request_id, code)``, and the typed
errors of ``app.errors``; every SDK and transport failure is translated here, in one place.
"""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol, TypeVar

import requests
from pydantic import ValidationError
from vonage_http_client import (
    Auth,
    AuthenticationError,
    ForbiddenError,
    HttpClient,
    HttpClientOptions,
    HttpRequestError,
    RateLimitedError,
)
from vonage_verify_legacy import VerifyError, VerifyLegacy, VerifyRequest

from .errors import (
    NumberNotSupportedError,
    OtpError,
    ProviderThrottledError,
    ProviderUnavailableError,
    TooManyAttemptsError,
    UpstreamError,
    UpstreamTimeoutError,
    UpstreamUnavailableError,
    VerificationExpiredError,
    VerificationInProgressError,
    WrongCodeError,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# The SDK may wait for a free pooled connection; keep the pool at least as large as a worker's threads.
POOL_MAXSIZE = 32
# Vonage ends a legacy request after three wrong codes; the console provider follows the same rule.
MAX_WRONG_CODES = 3


class Verifier(Protocol):
    """What the routes need from a verification provider."""

    def start(self, number: str) -> str:
        """Send a code to ``number`` (E.164, with '+') and return the provider's request id."""

    def check(self, request_id: str, code: str) -> None:
        """Return when ``code`` is right; raise an OtpError subclass otherwise."""

    def cancel(self, request_id: str) -> None:
        """End the request at the provider; raise an OtpError subclass when it refuses."""


# --- Vonage legacy Verify ----------------------------------------------------------------------
# Legacy statuses: https://developer.vonage.com/en/api/verify#verifyRequest (response codes).
_STATUS_ERRORS: dict[str, type[OtpError]] = {
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
    "29": NumberNotSupportedError,  # non-permitted destination
    "101": VerificationExpiredError,  # no such request
}
# Statuses that describe the user's situation rather than a fault worth an operator's attention.
_USER_STATUSES = frozenset({"3", "6", "7", "10", "15", "16", "17", "29", "101"})


class _StatusError(Exception):
    """A legacy answer whose status is not 0 (or that has no status at all)."""

    def __init__(self, answer: object) -> None:
        super().__init__("non-zero Verify status")
        self.answer = answer if isinstance(answer, dict) else {}
        self.status = str(self.answer.get("status", "")) if answer is not None else ""


class _VerifyLegacy(VerifyLegacy):  # type: ignore[misc]
    """The SDK's legacy client, raising the answer itself instead of a string-only VerifyError.

    The SDK would also crash with a TypeError on an empty or non-JSON 2xx answer; this raises instead.
    """

    def _check_for_error(self, response: object) -> None:
        if not isinstance(response, dict) or str(response.get("status")) != "0":
            raise _StatusError(response)


def _raise_for_status(err: _StatusError, op: str) -> NoReturn:
    status = err.status
    error = _STATUS_ERRORS.get(status, UpstreamError)
    if status not in _USER_STATUSES:
        # The error text goes to the server log only; clients get the class's generic sentence.
        log.warning("vonage %s failed: status=%s error_text=%s", op, status or "missing",
                    err.answer.get("error_text", ""))
    if error is VerificationInProgressError:
        request_id = err.answer.get("request_id")
        raise VerificationInProgressError(str(request_id) if request_id else None) from err
    raise error() from err


def _translate(exc: Exception, op: str) -> NoReturn:
    """Turn an SDK or transport exception into one of our errors, keeping the cause for the log."""
    if isinstance(exc, requests.Timeout):
        log.warning("vonage %s timed out: %s", op, type(exc).__name__)
        raise UpstreamTimeoutError() from exc
    if isinstance(exc, requests.ConnectionError):
        log.warning("vonage %s unreachable: %s", op, type(exc).__name__)
        raise UpstreamUnavailableError() from exc
    if isinstance(exc, RateLimitedError):
        log.warning("vonage %s throttled: HTTP 429", op)
        raise ProviderThrottledError() from exc
    if isinstance(exc, AuthenticationError | ForbiddenError):
        log.error("vonage %s refused our credentials: HTTP %s", op, exc.response.status_code)
        raise ProviderUnavailableError() from exc
    if isinstance(exc, HttpRequestError):
        status = exc.response.status_code
        log.warning("vonage %s failed: HTTP %s", op, status)
        raise (UpstreamUnavailableError if status == 503 else UpstreamError)() from exc
    log.warning("vonage %s gave an unusable answer: %s", op, type(exc).__name__)
    raise UpstreamError() from exc


def _call(op: str, fn: Callable[[], T]) -> T:
    try:
        return fn()
    except _StatusError as err:
        _raise_for_status(err, op)
    except (requests.RequestException, HttpRequestError, VerifyError, ValidationError) as exc:
        _translate(exc, op)


class VonageLegacyVerifier:
    """Vonage's legacy Verify API (``/verify/json``), through the official SDK."""

    def __init__(self, *, api_key: str, api_secret: str, api_host: str, timeout: int, brand: str,
                 code_length: int, pin_expiry: int, workflow_id: int) -> None:
        options = HttpClientOptions(api_host=api_host, timeout=timeout, pool_maxsize=POOL_MAXSIZE,
                                    # No urllib3 retries of a POST that may have reached Vonage: a resend
                                    # is a second SMS. The SDK still retries a dropped keep-alive socket.
                                    max_retries=0)
        self._client = _VerifyLegacy(HttpClient(Auth(api_key=api_key, api_secret=api_secret), options))
        self._request = {"brand": brand, "code_length": code_length, "pin_expiry": pin_expiry,
                         "workflow_id": workflow_id}

    def start(self, number: str) -> str:
        request = VerifyRequest(number=number.lstrip("+"), **self._request)
        answer = _call("start", lambda: self._client.start_verification(request))
        return str(answer.request_id)

    def check(self, request_id: str, code: str) -> None:
        _call("check", lambda: self._client.check_code(request_id, code))

    def cancel(self, request_id: str) -> None:
        _call("cancel", lambda: self._client.cancel_verification(request_id))


# --- the console provider (development) -----------------------------------------------------------
@dataclass
class _Pending:
    number: str
    code: str
    expires_at: float
    wrong: int = 0


class ConsoleVerifier:
    """Makes the code itself and writes it to the terminal instead of sending an SMS (for development)."""

    def __init__(self, *, code_length: int, pin_expiry: int, clock: Callable[[], float] = time.monotonic,
                 out: logging.Logger | None = None) -> None:
        self._code_length = code_length
        self._pin_expiry = pin_expiry
        self._clock = clock
        self._out = out or logging.getLogger("app.console")
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def start(self, number: str) -> str:
        with self._lock:
            now = self._clock()
            self._pending = {rid: p for rid, p in self._pending.items() if p.expires_at > now}
            for rid, pending in self._pending.items():
                if pending.number == number:
                    raise VerificationInProgressError(rid)
            request_id = secrets.token_hex(16)
            code = f"{secrets.randbelow(10 ** self._code_length):0{self._code_length}d}"
            self._pending[request_id] = _Pending(number, code, now + self._pin_expiry)
        self._out.warning("CONSOLE PROVIDER (no SMS sent): code for %s is %s, valid %d s",
                          number, code, self._pin_expiry)
        return request_id

    def check(self, request_id: str, code: str) -> None:
        with self._lock:
            pending = self._pending.get(request_id)
            if pending is None or pending.expires_at <= self._clock():
                self._pending.pop(request_id, None)
                raise VerificationExpiredError()
            if hmac.compare_digest(pending.code, code):
                del self._pending[request_id]
                return
            pending.wrong += 1
            if pending.wrong >= MAX_WRONG_CODES:
                del self._pending[request_id]
                raise TooManyAttemptsError()
            raise WrongCodeError()

    def cancel(self, request_id: str) -> None:
        with self._lock:
            if self._pending.pop(request_id, None) is None:
                raise VerificationExpiredError()


def verifier_from_config(config: Mapping[str, Any]) -> Verifier:
    """Build the provider the settings name."""
    if config["OTP_PROVIDER"] == "console":
        return ConsoleVerifier(code_length=config["VONAGE_CODE_LENGTH"], pin_expiry=config["VONAGE_PIN_EXPIRY"])
    return VonageLegacyVerifier(
        api_key=config["VONAGE_API_KEY"], api_secret=config["VONAGE_API_SECRET"],
        api_host=config["VONAGE_API_HOST"], timeout=config["VONAGE_TIMEOUT"], brand=config["VONAGE_BRAND"],
        code_length=config["VONAGE_CODE_LENGTH"], pin_expiry=config["VONAGE_PIN_EXPIRY"],
        workflow_id=config["VONAGE_WORKFLOW_ID"],
    )
