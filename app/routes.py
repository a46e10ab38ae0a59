"""HTTP routes: /request-otp, /check-otp and the health probes."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from flask import Blueprint, current_app, request
from werkzeug.exceptions import BadRequest

from . import phone
from .errors import (
    InvalidCodeFormatError,
    InvalidJsonError,
    InvalidPhoneNumberError,
    InvalidRequestError,
    NoPendingVerificationError,
    StoreError,
    TooManyAttemptsError,
    VerificationExpiredError,
    VerificationInProgressError,
    WrongCodeError,
    error_response,
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


def _number(data: Mapping[str, Any]) -> str:
    raw = _field(data, "phoneNumber")
    try:
        return phone.normalise(raw)
    except InvalidPhoneNumberError:
        if not request.is_json and raw[:1] == " " and raw[1:2].isdigit():
            # A raw '+' in a form body decodes to a space: the commonest curl mistake, so say so.
            raise InvalidPhoneNumberError(
                "The phone number lost its '+': in a form body send it as %2B (curl: --data-urlencode)."
            ) from None
        raise


def _forget(number: str, request_id: str) -> None:
    """Remove the pending entry if it still names ``request_id``; a store fault only costs a log line."""
    try:
        get_store().delete(number, expected=request_id)
    except StoreError:
        # The entry expires on its own, and Vonage refuses the finished request if it is checked again.
        log.error("could not remove the pending verification for %s", phone.mask(number))


@bp.post("/request-otp")
def request_otp() -> tuple[dict[str, Any], int]:
    """Send a code to the posted phone number."""
    number = _number(_body())
    store = get_store()
    ttl = current_app.config["VONAGE_PIN_EXPIRY"] + TTL_MARGIN
    try:
        request_id = get_verifier().start(number)
    except VerificationInProgressError as exc:
        # Vonage names the request in progress: keep it, so the code already sent stays checkable even
        # if our entry was lost (a timeout after Vonage had accepted the request, say).
        if exc.request_id:
            store.put(number, exc.request_id, ttl)
        log.info("verification already in progress for %s", phone.mask(number))
        raise
    store.put(number, request_id, ttl)
    log.info("verification started for %s", phone.mask(number))
    expires_in = current_app.config["VONAGE_PIN_EXPIRY"]
    return {"message": "A code is on its way. Check your phone.", "expiresIn": expires_in}, 200


@bp.post("/check-otp")
def check_otp() -> tuple[dict[str, Any], int]:
    """Check the code the person typed for the posted phone number."""
    data = _body()
    number = _number(data)
    code = _field(data, "code").strip()
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidCodeFormatError()
    request_id = get_store().get(number)
    if request_id is None:
        raise NoPendingVerificationError()
    try:
        get_verifier().check(request_id, code)
    except WrongCodeError:
        # The entry stays: a person who mistyped tries again with the same code.
        log.info("wrong code for %s", phone.mask(number))
        raise
    except (TooManyAttemptsError, VerificationExpiredError) as exc:
        _forget(number, request_id)
        log.info("verification over for %s: %s", phone.mask(number), exc.code)
        raise
    _forget(number, request_id)
    log.info("verification approved for %s", phone.mask(number))
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
