"""What a request posted: the JSON object or form, and its fields, checked for type and shape."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

import phonenumbers
from flask import request
from gevent import Timeout
from gevent.monkey import is_module_patched
from werkzeug.exceptions import BadRequest

from .. import phone
from ..errors import (
    InvalidJsonError,
    InvalidPhoneNumberError,
    InvalidRequestError,
    RequestTimeoutError,
    VerificationIdRequiredError,
)

VERIFICATION_COOKIE = "otp_verification"
# OpenID Connect's nonce: an opaque value of the app's; printable ASCII keeps it safe in a JWT and in logs.
NONCE_PATTERN = re.compile(r"[\x20-\x7e]{1,128}")


def read_body(seconds: int) -> None:
    """Read the posted body (a form is parsed) within ``seconds``, or answer 408: a client that sends its
    body byte by byte, or never, holds a worker's connection that long at most. gunicorn bounds the request
    line and headers, not the body. The deadline needs gevent (gunicorn.conf.py's workers); elsewhere the
    body is read as before."""
    if request.method != "POST" or request.content_length == 0:
        return
    deadline: AbstractContextManager[Any] = (Timeout(seconds, RequestTimeoutError()) if is_module_patched("socket")
                                             else nullcontext())
    with deadline:
        request.get_data(cache=True, parse_form_data=True)


def body() -> Mapping[str, Any]:
    """Return the JSON object or form the client posted."""
    if not request.is_json:
        return request.form
    try:
        data = request.get_json()
    except BadRequest as exc:
        raise InvalidJsonError() from exc
    except RecursionError as exc:
        # json nests by recursion: ten thousand '[' under the size cap exhaust the stack. Python's own
        # stack guard turns that into this exception, raised before anything else of the request ran.
        raise InvalidJsonError("The request body nests too deeply: send a flat JSON object.") from exc
    if not isinstance(data, dict):
        raise InvalidJsonError("The request body must be a JSON object, e.g. {\"phoneNumber\": \"+14155552671\"}.")
    return data


def field(data: Mapping[str, Any], name: str) -> str:
    """A required string field."""
    value = data.get(name)
    if value is None or value == "":
        raise InvalidRequestError(f"{name} is required (send JSON with Content-Type: application/json, "
                                  "or a form).")
    if not isinstance(value, str):
        raise InvalidRequestError(f"{name} must be a string.")
    return value


def number(data: Mapping[str, Any], listed: Collection[str] = ()) -> phonenumbers.PhoneNumber:
    """The posted phoneNumber, parsed (one of the ``listed`` test numbers as written)."""
    raw = field(data, "phoneNumber")
    try:
        return phone.parse(raw, listed)
    except InvalidPhoneNumberError:
        if not request.is_json and raw[:1] == " " and raw[1:2].isdigit():
            # A raw '+' in a form body decodes to a space: the commonest curl mistake, so say so.
            raise InvalidPhoneNumberError(
                "The phone number lost its '+': in a form body send it as %2B (curl: --data-urlencode)."
            ) from None
        raise


def optional_number(data: Mapping[str, Any], listed: Collection[str] = ()) -> str | None:
    """The posted phoneNumber in E.164 when one was posted: a check may name it beside the id."""
    posted = data.get("phoneNumber")
    return None if posted is None or posted == "" else phone.e164(number(data, listed))


def nonce(data: Mapping[str, Any]) -> str:
    """The app's nonce for the token, '' when none was posted."""
    value = data.get("nonce")
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not NONCE_PATTERN.fullmatch(value):
        raise InvalidRequestError("nonce must be printable ASCII, at most 128 characters.")
    return value


def verification_id(data: Mapping[str, Any]) -> str:
    """The posted verificationId, else the verification cookie; 400 when there is neither."""
    value = data.get("verificationId")
    if value is None or value == "":
        value = request.cookies.get(VERIFICATION_COOKIE, "")
    if not isinstance(value, str):
        raise InvalidRequestError("verificationId must be a string.")
    if not value:
        raise VerificationIdRequiredError()
    return value

