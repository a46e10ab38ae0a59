"""HTTP routes: the four verbs, the probes, metrics, the OpenAPI document and the demo page."""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from flask import Blueprint, Response, current_app, g, request
from flask_limiter.util import get_remote_address
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import BadRequest

from . import phone
from .errors import (
    ActionRefusedError,
    InvalidCodeFormatError,
    InvalidJsonError,
    InvalidPhoneNumberError,
    InvalidRequestError,
    NoPendingVerificationError,
    OtpError,
    StoreError,
    TooManyAttemptsError,
    VerificationExpiredError,
    VerificationInProgressError,
    WrongCodeError,
    error_response,
)
from .metrics import VERIFICATIONS, exposition, last_vonage_ms
from .ratelimit import (
    check_ip_limit,
    check_number_limit,
    cooldown_limit,
    limiter,
    request_ip_limit,
    request_number_limit,
)
from .store import Store
from .verify import Verifier

log = logging.getLogger(__name__)

bp = Blueprint("otp", __name__)

# ASCII digits only: str.isdigit() and \d also accept other scripts' digits.
CODE_PATTERN = re.compile(r"[0-9]{4,10}")
# Keep the entry a little longer than Vonage keeps the request, so a late check still reaches Vonage
# and gets Vonage's own answer ("expired") instead of our "nothing pending".
TTL_MARGIN = 60
# Checks one pending verification may take, counted in the store (Vonage ends it after 3 wrong codes;
# this also bounds checks that end in faults).
MAX_CHECKS = 5


def get_store() -> Store:
    """Return the app's pending-verification store."""
    store: Store = current_app.extensions["otp_store"]
    return store


def get_verifier() -> Verifier:
    """Return the app's verification provider."""
    verifier: Verifier = current_app.extensions["otp_verifier"]
    return verifier


def _body() -> Mapping[str, Any]:
    """Return the JSON object or form the client posted."""
    if not request.is_json:
        return request.form
    try:
        data = request.get_json()
    except BadRequest as exc:
        raise InvalidJsonError() from exc
    if not isinstance(data, dict):
        raise InvalidJsonError("The request body must be a JSON object, e.g. {\"phoneNumber\": \"+14155552671\"}.")
    return data


def _field(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None or value == "":
        raise InvalidRequestError(f"{name} is required (send JSON with Content-Type: application/json, "
                                  "or a form).")
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be a string.")
    return value


def posted_number() -> str:
    """The posted phoneNumber in E.164, parsed once per request (rate-limit keys and views share it)."""
    if "otp_number" not in g:
        raw = _field(_body(), "phoneNumber")
        try:
            number = phone.parse(raw)
        except InvalidPhoneNumberError:
            if not request.is_json and raw[:1] == " " and raw[1:2].isdigit():
                # A raw '+' in a form body decodes to a space: the commonest curl mistake, so say so.
                raise InvalidPhoneNumberError(
                    "The phone number lost its '+': in a form body send it as %2B (curl: --data-urlencode)."
                ) from None
            raise
        g.otp_parsed = number
        g.otp_number = phone.e164(number)
    return str(g.otp_number)


def number_key() -> str:
    """Rate-limit key: the normalised number, or '' when it is invalid (Flask-Limiter then skips the
    per-number limits, the per-address ones still count the request, and the view answers 400)."""
    try:
        return posted_number()
    except OtpError:
        return ""


def _outcome(outcome: str, number: str, event: str = "verification") -> None:
    """Log one verification event (masked number, Vonage latency) and count its outcome."""
    masked = phone.mask(number)
    log.info("%s %s for %s", event, outcome, masked, extra={
        "event": event, "outcome": outcome, "number": masked, "vonage_ms": last_vonage_ms.get()})
    VERIFICATIONS.labels(outcome).inc()


def _forget(number: str, request_id: str) -> None:
    """Remove the pending entry if it still names ``request_id``; a store fault only costs a log line."""
    try:
        get_store().delete(number, expected=request_id)
    except StoreError:
        # The entry expires on its own, and Vonage refuses the finished request if it is checked again.
        log.error("could not remove the pending verification for %s", phone.mask(number))


def _cancel(request_id: str) -> None:
    """End the request at the provider, best effort: the entry is already gone either way."""
    try:
        get_verifier().cancel(request_id)
    except OtpError as exc:
        log.info("could not cancel a finished verification: %s", exc.code)


def _ttl() -> int:
    return get_verifier().lifetime + TTL_MARGIN


def _sent() -> tuple[dict[str, Any], int]:
    return {"message": "A code is on its way. Check your phone.", "expiresIn": get_verifier().lifetime}, 200


def _act_on_pending(action: Callable[[Verifier, str], None], refused: str) -> tuple[str, str]:
    """Run ``action`` on the posted number's pending request: (number, request id) when Vonage did it.

    Nothing pending is 404; a refusal is 409 with the ``refused`` sentence and keeps the entry; a request
    Vonage no longer knows is forgotten and answered 410.
    """
    number = posted_number()
    request_id = get_store().get(number)
    if request_id is None:
        raise NoPendingVerificationError()
    try:
        action(get_verifier(), request_id)
    except ActionRefusedError:
        raise ActionRefusedError(refused) from None
    except VerificationExpiredError:
        _forget(number, request_id)
        raise
    return number, request_id


def _code_sent(response: Response) -> bool:
    return response.status_code == 200


# Flask-Limiter counts every limit before the view runs, so nothing past a limit reaches Vonage. The
# per-address limits count requests with invalid input too; per-number limits use the normalised number.
# Sends (a first code or the next delivery step) share their limits and the cooldown. The cooldown is
# checked before the view and counted only when a code went out: a send Vonage failed (503, Retry-After: 5)
# can be tried again at once. Two sends racing inside the cooldown both reach Vonage, which refuses the
# second as a concurrent verification (409, or 200 naming the first request): still one code.
@bp.post("/request-otp")
@limiter.shared_limit(request_ip_limit, key_func=get_remote_address, scope="send-ip")
@limiter.shared_limit(request_number_limit, key_func=number_key, scope="send-number")
@limiter.shared_limit(cooldown_limit, key_func=number_key, scope="send-cooldown", deduct_when=_code_sent)
def request_otp() -> tuple[dict[str, Any], int]:
    """Send a code to the posted phone number."""
    number = posted_number()
    phone.screen(g.otp_parsed, current_app.config["OTP_ALLOWED_COUNTRIES"])
    store = get_store()
    try:
        request_id = get_verifier().start(number)
    except VerificationInProgressError as exc:
        if not exc.request_id:
            raise
        # Vonage names the request in progress. If it is the one stored, the person already has a code:
        # 409. If not, it was started by an attempt of ours whose answer was lost (a timeout, or the SDK
        # re-sending a POST after a dropped connection): the code is on its way, so keep it and say so.
        known = store.get(number) == exc.request_id
        store.put(number, exc.request_id, _ttl())
        if known:
            _outcome("in_progress", number)
            raise
        _outcome("started", number, event="verification_adopted")
        return _sent()
    store.put(number, request_id, _ttl())
    _outcome("started", number)
    return _sent()


@bp.post("/resend-otp")
@limiter.shared_limit(request_ip_limit, key_func=get_remote_address, scope="send-ip")
@limiter.shared_limit(request_number_limit, key_func=number_key, scope="send-number")
@limiter.shared_limit(cooldown_limit, key_func=number_key, scope="send-cooldown", deduct_when=_code_sent)
def resend_otp() -> tuple[dict[str, Any], int]:
    """Deliver the pending code again by the workflow's next step (e.g. a voice call after the SMS)."""
    number, _ = _act_on_pending(lambda verifier, request_id: verifier.next_step(request_id),
                                "No further delivery is possible for this code: enter it, or request a new one "
                                "when it expires.")
    _outcome("resent", number)
    return {"message": "The code is being delivered again."}, 200


@bp.post("/cancel-otp")
@limiter.shared_limit(check_ip_limit, key_func=get_remote_address, scope="check-ip")
@limiter.shared_limit(check_number_limit, key_func=number_key, scope="check-number")
def cancel_otp() -> tuple[dict[str, Any], int]:
    """Cancel the pending verification for the posted phone number."""
    # Legacy Verify refuses a cancel in a request's first 30 seconds: the code stays valid.
    number, request_id = _act_on_pending(lambda verifier, request_id: verifier.cancel(request_id),
                                         "The verification cannot be cancelled right now (Vonage refuses a "
                                         "cancel in its first 30 seconds); the code stays valid.")
    _forget(number, request_id)
    _outcome("cancelled", number)
    return {"message": "The verification is cancelled."}, 200


@bp.post("/check-otp")
@limiter.shared_limit(check_ip_limit, key_func=get_remote_address, scope="check-ip")
@limiter.shared_limit(check_number_limit, key_func=number_key, scope="check-number")
def check_otp() -> tuple[dict[str, Any], int]:
    """Check the code the person typed for the posted phone number."""
    number = posted_number()
    code = _field(_body(), "code").strip()
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidCodeFormatError()
    pending = get_store().count_check(number)
    if pending is None:
        raise NoPendingVerificationError()
    request_id, checks = pending
    if checks > MAX_CHECKS:
        _forget(number, request_id)
        _cancel(request_id)
        _outcome("too_many_attempts", number, event="code_checked")
        # Vonage ends a request after three wrong codes, so this cap is mostly reached by checks that ended
        # in faults: say what happened, not "wrong codes".
        raise TooManyAttemptsError("This code was checked too many times. Please request a new code.")
    try:
        get_verifier().check(request_id, code)
    except WrongCodeError:
        # The entry stays: a person who mistyped tries again with the same code.
        _outcome("wrong_code", number, event="code_checked")
        raise
    except (TooManyAttemptsError, VerificationExpiredError) as exc:
        _forget(number, request_id)
        _outcome("too_many_attempts" if isinstance(exc, TooManyAttemptsError) else "expired", number,
                 event="code_checked")
        raise
    _forget(number, request_id)
    _outcome("approved", number, event="code_checked")
    return {"message": "The phone number is verified."}, 200


@bp.get("/healthz")
def healthz() -> tuple[dict[str, Any], int]:
    """Answer while the process runs."""
    return {"status": "ok"}, 200


@bp.get("/readyz")
def readyz() -> Any:
    """Answer 200 when the store answers, 503 when it does not."""
    try:
        get_store().ping()
    except StoreError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.retry_after)
    return {"status": "ready"}, 200


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics: every worker's, when gunicorn.conf.py set up the multiprocess directory."""
    return Response(exposition(current_app.config["PROMETHEUS_MULTIPROC_DIR"]), mimetype=CONTENT_TYPE_LATEST)


@functools.cache
def _static_file(name: str) -> bytes:
    return (resources.files(__package__) / "static" / name).read_bytes()


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return Response(_static_file("openapi.json"), mimetype="application/json")


@bp.get("/")
def demo() -> Response:
    """The demo page: a phone form, then a code form."""
    return Response(_static_file("index.html"), mimetype="text/html")
