"""What Vonage's two Verify APIs share: the SDK's HTTP client bounded to one attempt, and the translation of
its transport and HTTP failures into the service's errors.

Only app.providers.vonage_legacy and app.providers.vonage_v2 use this module.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from contextvars import ContextVar
from typing import Any, NoReturn, TypeVar

import requests
import urllib3
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
from vonage_verify import VerifyError as V2VerifyError
from vonage_verify_legacy import VerifyError as LegacyVerifyError

from ..errors import (
    ActionRefusedError,
    NumberNotSupportedError,
    OtpError,
    ProviderThrottledError,
    ProviderUnavailableError,
    TooManyAttemptsError,
    UpstreamError,
    UpstreamUnavailableError,
    VerificationExpiredError,
    VerificationInProgressError,
    WrongCodeError,
)
from ..metrics import PROVIDER_ERRORS, PROVIDER_REFUSALS, last_provider_ms, provider_call
from .transport import prepare, transport_failure

log = logging.getLogger(__name__)
# The last HTTP answer the SDK parsed in this context (greenlet or thread): the SDK returns None for an
# empty body and for one it cannot parse alike, so a caller that must tell them apart looks here.
last_answer: ContextVar[requests.Response | None] = ContextVar("last_answer", default=None)

T = TypeVar("T")

# Connections kept per process: as many as the calls a gevent worker has in flight under load, so that
# none is opened and thrown away per call (urllib3 opens extra ones when all are busy, and discards them).
POOL_MAXSIZE = 256
# Outcomes that describe the person's situation rather than a fault worth an operator's attention.
USER_ERRORS = (NumberNotSupportedError, VerificationExpiredError, VerificationInProgressError, WrongCodeError,
               TooManyAttemptsError, ActionRefusedError)


def _errors_only(record: logging.LogRecord) -> bool:
    return record.levelno >= logging.ERROR


def quiet_sdk_logger() -> None:
    """Keep the SDK's logger to errors. At DEBUG it logs the Authorization header and the code it sends;
    at WARNING, Vonage's whole answer and request id for ordinary outcomes (a typo, a repeat request, a
    resend). The service's own event lines speak of outcomes, with nothing secret in them.

    The level guards the usual case; the filter also holds when someone lowers the level later.
    """
    sdk = logging.getLogger("vonage")
    if sdk.level < logging.ERROR:
        sdk.setLevel(logging.ERROR)
    if _errors_only not in sdk.filters:
        sdk.addFilter(_errors_only)


class StatusError(Exception):
    """A legacy answer whose status is not 0 (or that has no status at all)."""

    def __init__(self, answer: object) -> None:
        super().__init__("non-zero Verify status")
        self.answer: dict[str, Any] = answer if isinstance(answer, dict) else {}
        self.status = str(self.answer.get("status", ""))


def fail(error: type[OtpError], op: str, status: str, detail: str, cause: Exception, request_id: object = None,
         may_have_sent: bool | None = None) -> NoReturn:
    """Count a failed call (a fault, or the person's outcome apart) and log it (faults only: a typo is no
    operator's business), then raise ``error``."""
    if issubclass(error, USER_ERRORS):
        PROVIDER_REFUSALS.labels("vonage", op, status).inc()
    else:
        PROVIDER_ERRORS.labels("vonage", op, status).inc()
        # Vonage's words go to the server log only; clients get the error class's generic sentence. A refused
        # account (credentials, barred, no balance) needs an operator: that is an error, the rest warnings.
        level = logging.ERROR if error is ProviderUnavailableError else logging.WARNING
        log.log(level, "vonage %s failed: %s", op, detail, extra={
            "event": "vonage_error", "operation": op, "vonage_status": status, "vonage_ms": last_provider_ms.get()})
    if error is VerificationInProgressError:
        raise VerificationInProgressError(str(request_id) if request_id else None) from cause
    raise error(may_have_sent=may_have_sent) from cause


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def translate(exc: Exception, op: str, by_status: Mapping[int, type[OtpError]],
              by_legacy_status: Mapping[str, type[OtpError]]) -> NoReturn:
    """Turn an SDK or transport exception into one of our errors, keeping the cause for the log."""
    if isinstance(exc, StatusError):
        status = exc.status or "missing"
        detail = f"status={status} error_text={exc.answer.get('error_text', '')}"
        # Vonage answered, saying the request failed: it did not act on it, unless the failure is its own
        # (status 5, internal error, or a status this service does not know), which may come after acting.
        error = by_legacy_status.get(exc.status, UpstreamError)
        fail(error, op, status, detail, exc, exc.answer.get("request_id"), may_have_sent=error is UpstreamError)
    if isinstance(exc, requests.RequestException) and (transport := transport_failure(exc)):
        error, status, sent = transport
        what = "timed out" if status == "timeout" else "unreachable"
        fail(error, op, status, f"{what} ({type(exc).__name__})", exc, may_have_sent=sent)
    if isinstance(exc, HttpRequestError):
        http = exc.response.status_code
        status = f"http_{http}"
        body = _json(exc.response)
        detail = f"HTTP {http} {body.get('title') or body.get('error_title') or ''}".rstrip()
        if http in by_status:
            fail(by_status[http], op, status, detail, exc, body.get("request_id"))
        if isinstance(exc, RateLimitedError):
            fail(ProviderThrottledError, op, status, detail, exc)
        if isinstance(exc, AuthenticationError | ForbiddenError) or http == 402:
            fail(ProviderUnavailableError, op, status, detail, exc)
        fail(UpstreamUnavailableError if http == 503 else UpstreamError, op, status, detail, exc)
    fail(UpstreamError, op, "bad_answer", f"unusable answer ({type(exc).__name__})", exc)


def documented(op: str, statuses: Collection[int]) -> None:
    """Return when the last answer is one the API documents for ``op`` (a status among ``statuses``, an
    empty or JSON body); raise UpstreamError (502, the provider may have acted) otherwise: an HTML page
    from a proxy is no success."""
    answer = last_answer.get()
    status = answer.status_code if answer is not None else 0
    json_body = answer is not None and (not answer.content or "json" in answer.headers.get("Content-Type", ""))
    if status not in statuses or not json_body:
        fail(UpstreamError, op, "bad_answer", f"undocumented answer (HTTP {status})",
             ValueError("undocumented answer"), may_have_sent=True)


def call(op: str, fn: Callable[[], T], by_status: Mapping[int, type[OtpError]] | None = None,
         by_legacy_status: Mapping[str, type[OtpError]] | None = None) -> T:
    """Make one timed SDK call; every failure is one of our errors."""
    try:
        with provider_call("vonage", op):
            return fn()
    except (StatusError, requests.RequestException, HttpRequestError, LegacyVerifyError, V2VerifyError,
            ValidationError) as exc:
        translate(exc, op, by_status or {}, by_legacy_status or {})
    except TypeError as exc:
        # The v2 client builds its answer with Model(**body): an empty, non-JSON or non-object 2xx body
        # raises TypeError there. Nothing else in these one-call lambdas can.
        translate(exc, op, {}, {})


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

    def _parse_response(self, response: requests.Response) -> Any:
        last_answer.set(response)
        return super()._parse_response(response)


def http_client(auth: Auth, api_host: str, timeout: int) -> HttpClient:
    """One SDK HTTP client per API and process: its headers dict is shared by every call it makes."""
    options = HttpClientOptions(api_host=api_host, timeout=timeout, pool_maxsize=POOL_MAXSIZE,
                                # No urllib3 retries either: a connection that failed is answered 503 at
                                # once, inside the time bound, rather than tried again.
                                max_retries=0)
    client = _OneBoundedAttempt(auth, options)
    prepare(client._session, f"https://{api_host}/")
    return client
