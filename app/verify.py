"""The Verify wrapper: the only module that talks to the Vonage SDK.

Routes see four verbs, ``start(number) -> request_id``, ``check(request_id, code)``, ``next_step`` and
``cancel``, plus ``lifetime`` (seconds a request lives), and the typed errors of ``app.errors``. Every SDK
and transport failure is translated here, in one place, for the legacy API (statuses in a 200 body) and
for v2 (HTTP statuses).
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
import urllib3
from jwt import PyJWTError
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
from vonage_verify import SmsChannel, Verify, VoiceChannel, WhatsappChannel
from vonage_verify import VerifyError as V2VerifyError
from vonage_verify import VerifyRequest as V2Request
from vonage_verify_legacy import VerifyError as LegacyVerifyError
from vonage_verify_legacy import VerifyLegacy
from vonage_verify_legacy import VerifyRequest as LegacyRequest

from .config import ConfigError
from .errors import (
    ActionRefusedError,
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
from .metrics import VONAGE_ERRORS, last_vonage_ms, vonage_call

log = logging.getLogger(__name__)

T = TypeVar("T")

# Connections kept per process: as many as the calls a gevent worker has in flight under load, so that
# none is opened and thrown away per call (urllib3 opens extra ones when all are busy, and discards them).
POOL_MAXSIZE = 256
# Vonage ends a request after three wrong codes and offers at most three deliveries (as many as the
# workflow has steps); the console provider follows the same rules.
MAX_WRONG_CODES = 3
MAX_DELIVERIES = 3


class Verifier(Protocol):
    """What the routes need from a verification provider."""

    lifetime: int

    def start(self, number: str) -> str:
        """Send a code to ``number`` (E.164, with '+') and return the provider's request id."""

    def check(self, request_id: str, code: str) -> None:
        """Return when ``code`` is right; raise an OtpError subclass otherwise."""

    def next_step(self, request_id: str) -> None:
        """Deliver the code again by the next step of the workflow (e.g. a voice call after the SMS)."""

    def cancel(self, request_id: str) -> None:
        """End the request at the provider; raise an OtpError subclass when it refuses."""

    def status(self, request_id: str) -> str:
        """What became of the request: ``approved``, ``in_progress``, ``ended`` (failed, expired, cancelled
        or unknown to the provider), or ``unknown`` when the provider cannot say."""


# --- translation of failures ------------------------------------------------------------------------
# Legacy statuses: https://developer.vonage.com/en/api/verify#verifyRequest (response codes).
_LEGACY_STATUS: dict[str, type[OtpError]] = {
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
# v2 answers with HTTP statuses whose meaning depends on the call.
_V2_STATUS: dict[str, dict[int, type[OtpError]]] = {
    "start": {409: VerificationInProgressError, 422: NumberNotSupportedError},
    "check": {400: WrongCodeError, 404: VerificationExpiredError, 410: TooManyAttemptsError},
    "next_step": {404: VerificationExpiredError, 409: ActionRefusedError},
    "cancel": {404: VerificationExpiredError, 409: ActionRefusedError},
}
# Outcomes that describe the person's situation rather than a fault worth an operator's attention.
_USER_ERRORS = (NumberNotSupportedError, VerificationExpiredError, VerificationInProgressError, WrongCodeError,
                TooManyAttemptsError, ActionRefusedError)


class _StatusError(Exception):
    """A legacy answer whose status is not 0 (or that has no status at all)."""

    def __init__(self, answer: object) -> None:
        super().__init__("non-zero Verify status")
        self.answer: dict[str, Any] = answer if isinstance(answer, dict) else {}
        self.status = str(self.answer.get("status", ""))


class _VerifyLegacy(VerifyLegacy):  # type: ignore[misc]
    """The SDK's legacy client, raising the answer itself instead of a string-only VerifyError.

    The SDK would also crash with a TypeError on an empty or non-JSON 2xx answer; this raises instead.
    """

    def _check_for_error(self, response: object) -> None:
        if not isinstance(response, dict) or str(response.get("status")) != "0":
            raise _StatusError(response)

    def status_of(self, request_id: str) -> str:
        """The search endpoint's status word (SUCCESS, IN PROGRESS, FAILED, EXPIRED, CANCELLED). The SDK's
        search() raises a string-only error for "not found" and for a refused account alike."""
        answer = self._http_client.get(self._http_client.api_host, "/verify/search/json",
                                       {"request_id": request_id}, self._auth_type)
        if not isinstance(answer, dict) or "error_text" in answer or not answer.get("status"):
            raise _StatusError(answer)
        return str(answer["status"])


def _raise(error: type[OtpError], op: str, status: str, detail: str, cause: Exception,
           request_id: object = None) -> NoReturn:
    VONAGE_ERRORS.labels(op, status).inc()
    if not issubclass(error, _USER_ERRORS):
        # Vonage's words go to the server log only; clients get the error class's generic sentence. A refused
        # account (credentials, barred, no balance) needs an operator: that is an error, the rest warnings.
        level = logging.ERROR if error is ProviderUnavailableError else logging.WARNING
        log.log(level, "vonage %s failed: %s", op, detail, extra={
            "event": "vonage_error", "operation": op, "vonage_status": status, "vonage_ms": last_vonage_ms.get()})
    if error is VerificationInProgressError:
        raise VerificationInProgressError(str(request_id) if request_id else None) from cause
    raise error() from cause


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _translate(exc: Exception, op: str, by_status: Mapping[int, type[OtpError]]) -> NoReturn:
    """Turn an SDK or transport exception into one of our errors, keeping the cause for the log."""
    if isinstance(exc, _StatusError):
        status = exc.status or "missing"
        detail = f"status={status} error_text={exc.answer.get('error_text', '')}"
        _raise(_LEGACY_STATUS.get(exc.status, UpstreamError), op, status, detail, exc, exc.answer.get("request_id"))
    if isinstance(exc, requests.Timeout):
        _raise(UpstreamTimeoutError, op, "timeout", f"timed out ({type(exc).__name__})", exc)
    if isinstance(exc, requests.ConnectionError):
        _raise(UpstreamUnavailableError, op, "connection", f"unreachable ({type(exc).__name__})", exc)
    if isinstance(exc, HttpRequestError):
        http = exc.response.status_code
        status = f"http_{http}"
        body = _json(exc.response)
        detail = f"HTTP {http} {body.get('title') or body.get('error_title') or ''}".rstrip()
        if http in by_status:
            _raise(by_status[http], op, status, detail, exc, body.get("request_id"))
        if isinstance(exc, RateLimitedError):
            _raise(ProviderThrottledError, op, status, detail, exc)
        if isinstance(exc, AuthenticationError | ForbiddenError) or http == 402:
            _raise(ProviderUnavailableError, op, status, detail, exc)
        _raise(UpstreamUnavailableError if http == 503 else UpstreamError, op, status, detail, exc)
    _raise(UpstreamError, op, "bad_answer", f"unusable answer ({type(exc).__name__})", exc)


def _call(op: str, fn: Callable[[], T], by_status: Mapping[int, type[OtpError]] | None = None) -> T:
    try:
        with vonage_call(op):
            return fn()
    except (_StatusError, requests.RequestException, HttpRequestError, LegacyVerifyError, V2VerifyError,
            ValidationError) as exc:
        _translate(exc, op, by_status or {})
    except TypeError as exc:
        # The v2 client builds its answer with Model(**body): an empty, non-JSON or non-object 2xx body
        # raises TypeError there. Nothing else in these one-call lambdas can.
        _translate(exc, op, {})


class _OneBoundedAttempt(HttpClient):  # type: ignore[misc]
    """The SDK's HTTP client, making each call one attempt bounded by VONAGE_TIMEOUT in all.

    vonage-http-client 1.5.2's make_request differs from that in two ways its options cannot change:
    - When the connection drops after the request was sent (RemoteDisconnected), it sends the request
      again, as many times as the pool is large (pool_maxsize) and without backoff. Vonage may have
      processed each one: a second SMS, a burnt wrong-code attempt, pool_maxsize x VONAGE_TIMEOUT of
      waiting. Its loop reads that count from the options when a call is made, after __init__ has built
      the pool from them; so the options the loop sees say 1, and the pool keeps its size.
    - It hands requests ``timeout`` as seconds for the connect and again for each read, so a call could
      last twice VONAGE_TIMEOUT. A urllib3 Timeout with ``total`` bounds connecting and the wait for the
      answer together; requests passes such an object through unchanged.
    tests/test_vonage_faults.py fails if a newer SDK retries or outlasts the bound again.
    """

    def __init__(self, auth: Auth, options: HttpClientOptions) -> None:
        super().__init__(auth, options)
        self._http_client_options = options.model_copy(update={"pool_maxsize": 1})
        self._timeout = urllib3.Timeout(total=options.timeout)


def _http_client(auth: Auth, api_host: str, timeout: int) -> HttpClient:
    """One SDK HTTP client per API and process: its headers dict is shared by every call it makes."""
    options = HttpClientOptions(api_host=api_host, timeout=timeout, pool_maxsize=POOL_MAXSIZE,
                                # No urllib3 retries either: a connection that failed is answered 503 at
                                # once, inside the time bound, rather than tried again.
                                max_retries=0)
    client = _OneBoundedAttempt(auth, options)
    # requests reads the proxy and CA-bundle variables and scans the whole environment on every call (an
    # eighth of a request's CPU here). Every call goes to one host, so resolve them once, as requests would.
    session = client._session
    found = session.merge_environment_settings(f"https://{api_host}/", {}, None, None, None)
    session.proxies.update(found["proxies"])
    session.verify, session.cert = found["verify"], found["cert"]
    session.trust_env = False
    return client


# --- Vonage legacy Verify ----------------------------------------------------------------------------
class VonageLegacyVerifier:
    """Vonage's legacy Verify API (``/verify/json``, request ids, statuses in the body)."""

    def __init__(self, *, auth: Auth, api_host: str, timeout: int, brand: str, code_length: int, pin_expiry: int,
                 workflow_id: int) -> None:
        self._client = _VerifyLegacy(_http_client(auth, api_host, timeout))
        self._request = {"brand": brand, "code_length": code_length, "pin_expiry": pin_expiry,
                         "workflow_id": workflow_id}
        self.lifetime = pin_expiry
        LegacyRequest(number="14155552671", **self._request)  # fail at startup, not on the first request

    def start(self, number: str) -> str:
        request = LegacyRequest(number=number.lstrip("+"), **self._request)
        return str(_call("start", lambda: self._client.start_verification(request)).request_id)

    def check(self, request_id: str, code: str) -> None:
        _call("check", lambda: self._client.check_code(request_id, code))

    def next_step(self, request_id: str) -> None:
        _call("next_step", lambda: self._client.trigger_next_event(request_id))

    def cancel(self, request_id: str) -> None:
        _call("cancel", lambda: self._client.cancel_verification(request_id))

    def status(self, request_id: str) -> str:
        try:
            word = _call("search", lambda: self._client.status_of(request_id))
        except VerificationExpiredError:
            return "ended"  # status 101: no such request (any more)
        return _SEARCH_STATES.get(word, "unknown")


# The legacy search endpoint's words for what became of a request.
_SEARCH_STATES = {"SUCCESS": "approved", "IN PROGRESS": "in_progress", "FAILED": "ended", "EXPIRED": "ended",
                  "CANCELLED": "ended"}
_CHANNELS = {"sms": SmsChannel, "voice": VoiceChannel}


# --- Vonage Verify v2 --------------------------------------------------------------------------------
class VonageV2Verifier:
    """Vonage's Verify v2 API (``/v2/verify``, JSON, HTTP statuses), with Basic or JWT auth."""

    def __init__(self, *, auth: Auth, api_host: str, timeout: int, brand: str, code_length: int,
                 channel_timeout: int, workflow: tuple[str, ...], whatsapp_from: str, locale: str) -> None:
        self._client = Verify(_http_client(auth, api_host, timeout))
        self._workflow = workflow
        self._whatsapp_from = whatsapp_from
        self._request: dict[str, Any] = {"brand": brand, "code_length": code_length,
                                         "channel_timeout": channel_timeout}
        if locale:
            self._request["locale"] = locale
        # Vonage keeps the request through every channel of the workflow.
        self.lifetime = channel_timeout * len(workflow)
        self._build("14155552671")  # fail at startup, not on the first request

    def _build(self, to: str) -> V2Request:
        channels = [self._whatsapp(to) if c == "whatsapp" else _CHANNELS[c](to=to) for c in self._workflow]
        return V2Request(workflow=channels, **self._request)

    def _whatsapp(self, to: str) -> WhatsappChannel:
        # The SDK's sender check compares type(v) with an Annotated alias, which never matches, so it
        # refuses every numeric sender longer than 11 characters: real WhatsApp Business numbers. The
        # sender is checked at startup instead (app.config) and the recipient here.
        SmsChannel(to=to)
        return WhatsappChannel.model_construct(to=to, from_=self._whatsapp_from)

    def start(self, number: str) -> str:
        request = self._build(number.lstrip("+"))
        answer = _call("start", lambda: self._client.start_verification(request), _V2_STATUS["start"])
        return str(answer.request_id)

    def check(self, request_id: str, code: str) -> None:
        _call("check", lambda: self._client.check_code(request_id, code), _V2_STATUS["check"])

    def next_step(self, request_id: str) -> None:
        _call("next_step", lambda: self._client.trigger_next_workflow(request_id), _V2_STATUS["next_step"])

    def cancel(self, request_id: str) -> None:
        _call("cancel", lambda: self._client.cancel_verification(request_id), _V2_STATUS["cancel"])

    def status(self, request_id: str) -> str:
        return "unknown"  # Verify v2 offers no way to ask what became of a request


# --- the console provider (development) ------------------------------------------------------------
@dataclass
class _Pending:
    number: str
    code: str
    expires_at: float
    wrong: int = 0
    deliveries: int = 1
    approved: bool = False


class ConsoleVerifier:
    """Makes the code itself and writes it to the terminal instead of sending an SMS (for development)."""

    def __init__(self, *, code_length: int, pin_expiry: int, deliveries: int = MAX_DELIVERIES,
                 clock: Callable[[], float] = time.monotonic, out: logging.Logger | None = None) -> None:
        self._code_length = code_length
        self._deliveries = deliveries
        self.lifetime = pin_expiry
        self._clock = clock
        self._out = out or logging.getLogger("app.console")
        self._pending: dict[str, _Pending] = {}
        self._lock = threading.Lock()

    def _print(self, pending: _Pending) -> None:
        self._out.warning("CONSOLE PROVIDER (no SMS sent): code for %s is %s, valid %d s", pending.number,
                          pending.code, max(0, int(pending.expires_at - self._clock())))

    def _live(self, request_id: str) -> _Pending:
        pending = self._pending.get(request_id)
        if pending is None or pending.approved or pending.expires_at <= self._clock():
            raise VerificationExpiredError()
        return pending

    def start(self, number: str) -> str:
        with self._lock:
            now = self._clock()
            self._pending = {rid: p for rid, p in self._pending.items() if p.expires_at > now}
            for rid, pending in self._pending.items():
                if pending.number == number and not pending.approved:
                    raise VerificationInProgressError(rid)
            request_id = secrets.token_hex(16)
            code = f"{secrets.randbelow(10 ** self._code_length):0{self._code_length}d}"
            pending = self._pending[request_id] = _Pending(number, code, now + self.lifetime)
        self._print(pending)
        return request_id

    def check(self, request_id: str, code: str) -> None:
        with self._lock:
            pending = self._live(request_id)
            if hmac.compare_digest(pending.code, code):
                pending.approved = True  # kept until it expires, so that status() can tell
                return
            pending.wrong += 1
            if pending.wrong >= MAX_WRONG_CODES:
                del self._pending[request_id]
                raise TooManyAttemptsError()
            raise WrongCodeError()

    def next_step(self, request_id: str) -> None:
        with self._lock:
            pending = self._live(request_id)
            if pending.deliveries >= self._deliveries:
                raise ActionRefusedError()
            pending.deliveries += 1
        self._print(pending)

    def cancel(self, request_id: str) -> None:
        with self._lock:
            self._live(request_id)
            del self._pending[request_id]

    def status(self, request_id: str) -> str:
        with self._lock:
            pending = self._pending.get(request_id)
            if pending is not None and pending.approved:
                return "approved"
            return "ended" if pending is None or pending.expires_at <= self._clock() else "in_progress"


def verifier_from_config(config: Mapping[str, Any]) -> Verifier:
    """Build the provider the settings name; settings the SDK refuses stop startup with its reason."""
    if config["OTP_PROVIDER"] == "console":
        # The same delivery steps as the configured workflow, so a page shows what production would do.
        return ConsoleVerifier(code_length=config["VONAGE_CODE_LENGTH"], pin_expiry=config["VONAGE_PIN_EXPIRY"],
                               deliveries=len(config["OTP_CHANNELS"]))
    common = {"api_host": config["VONAGE_API_HOST"], "timeout": config["VONAGE_TIMEOUT"],
              "brand": config["VONAGE_BRAND"], "code_length": config["VONAGE_CODE_LENGTH"]}
    if config["VONAGE_APPLICATION_ID"]:
        auth = Auth(application_id=config["VONAGE_APPLICATION_ID"], private_key=config["VONAGE_PRIVATE_KEY"])
        try:
            # Sign one token now: a key that cannot sign (a corrupt PEM, an EC key where Vonage wants RSA)
            # would otherwise turn every send into a 500.
            auth.create_jwt_auth_string()
        except (ValueError, TypeError, PyJWTError) as exc:
            raise ConfigError(f"VONAGE_PRIVATE_KEY cannot sign the RS256 token Vonage needs ({type(exc).__name__}); "
                              "use the application's private key from the Vonage dashboard") from None
    else:
        auth = Auth(api_key=config["VONAGE_API_KEY"], api_secret=config["VONAGE_API_SECRET"])
    try:
        if config["VONAGE_VERIFY_API"] == "v2":
            return VonageV2Verifier(auth=auth, channel_timeout=config["VONAGE_PIN_EXPIRY"],
                                    workflow=config["VONAGE_WORKFLOW"], whatsapp_from=config["VONAGE_WHATSAPP_FROM"],
                                    locale=config["VONAGE_LOCALE"], **common)
        return VonageLegacyVerifier(auth=auth, pin_expiry=config["VONAGE_PIN_EXPIRY"],
                                    workflow_id=config["VONAGE_WORKFLOW_ID"], **common)
    except (ValidationError, V2VerifyError, LegacyVerifyError) as exc:
        # pydantic names the field and the rule; these values are settings, never secrets.
        raise ConfigError(f"invalid Vonage settings: {exc}") from None
