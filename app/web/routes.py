"""The four verbs: parse the request, call the lifecycle, render its answer (and the verification cookie)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, current_app, make_response, request

from ..callers import Caller
from ..errors import OtpError
from ..lifecycle import Lifecycle
from ..lifecycle.results import Delivery
from ..providers.test_numbers import CHANNEL as TEST_CHANNEL
from ..settings import Settings
from ..tokens import TokenIssuer, Verified
from . import parse
from .guards import current_caller

bp = Blueprint("otp", __name__)
# A start to one of OTP_TEST_NUMBERS says what happened: nothing went to the phone.
TEST_NUMBER_SENT = "This is a test number: no code was sent. Enter its fixed code."
CODE_SENT = "A code is on its way. Check your phone."


def get_lifecycle() -> Lifecycle:
    """Return the app's verification lifecycle."""
    lifecycle: Lifecycle = current_app.extensions["otp_lifecycle"]
    return lifecycle


def get_tokens() -> TokenIssuer:
    """Return the app's token issuer."""
    tokens: TokenIssuer = current_app.extensions["otp_tokens"]
    return tokens


def get_settings() -> Settings:
    """Return the app's settings."""
    settings: Settings = current_app.extensions["otp_settings"]
    return settings


def request_caller() -> Caller:
    """The caller of this request (its address, limit key and API key), by the app's settings."""
    settings = get_settings()
    return current_caller(settings.OTP_TRUSTED_PROXIES, settings.OTP_IPV6_PREFIX)


def _delivery(delivery: Delivery) -> dict[str, Any]:
    return {"channel": delivery.channel, "nextChannel": delivery.next_channel, "resendIn": delivery.resend_in}


def _cookie_options() -> dict[str, Any]:
    return {"path": "/", "secure": get_settings().OTP_COOKIE_SECURE, "httponly": True, "samesite": "Strict"}


def forget_cookie(response: Response, verification_id: str | None) -> Response:
    """Clear the verification cookie when the verification it names is over."""
    if verification_id and request.cookies.get(parse.VERIFICATION_COOKIE) == verification_id:
        response.delete_cookie(parse.VERIFICATION_COOKIE, **_cookie_options())
    return response


def keep_cookie(response: Response, verification_id: str, max_age: int) -> Response:
    """Set the verification cookie to a verification its caller holds."""
    response.set_cookie(parse.VERIFICATION_COOKIE, verification_id, max_age=max_age, **_cookie_options())
    return response


# Every request counts against its client's and API key's limits, malformed ones too: the lifecycle counts
# those it is given, and a request that cannot be parsed is counted here (refused_send, refused_check), so
# that a caller past its limits is answered 429 whatever else was wrong.
@bp.post("/request-otp")
def request_otp() -> Response:
    """Send a code to the posted phone number and answer the new verification's id."""
    lifecycle, caller = get_lifecycle(), request_caller()
    try:
        data = parse.body()
        number, nonce = parse.number(data, lifecycle.provider.test.numbers), parse.nonce(data)
    except OtpError:
        lifecycle.refused_send(caller)
        raise
    started = lifecycle.start(caller, number, nonce, data.get("captchaToken"), data.get("altcha"))
    message = TEST_NUMBER_SENT if started.delivery.channel == TEST_CHANNEL else CODE_SENT
    response = make_response({"message": message, "expiresIn": started.expires_in,
                              "verificationId": started.verification.id, "phoneNumber": started.verification.number,
                              **_delivery(started.delivery)})
    return keep_cookie(response, started.verification.id, started.expires_in)


def _held(refused: Callable[[Caller], None]) -> tuple[str, str | None, dict[str, Any]]:
    """The verification id, the optional number and the body of a request about a verification."""
    try:
        data = parse.body()
        return (parse.verification_id(data), parse.optional_number(data, get_lifecycle().provider.test.numbers),
                dict(data))
    except OtpError:
        refused(request_caller())
        raise


@bp.post("/resend-otp")
def resend_otp() -> Response:
    """Deliver the pending code again by the workflow's next step (e.g. a voice call after the SMS)."""
    lifecycle = get_lifecycle()
    verification_id, number, data = _held(lifecycle.refused_send)
    resent = lifecycle.resend(request_caller(), verification_id, number, data.get("altcha"))
    if resent.expires_in is None:
        return make_response({"message": "The code is being delivered again.", "newCode": False,
                              **_delivery(resent.delivery)})
    # Another provider sent a new code for the same verification: the earlier code no longer works.
    response = make_response({"message": "A new code is on its way: use it instead of the earlier one.",
                              "newCode": True, "expiresIn": resent.expires_in, **_delivery(resent.delivery)})
    if request.cookies.get(parse.VERIFICATION_COOKIE) == verification_id:
        response.set_cookie(parse.VERIFICATION_COOKIE, verification_id, max_age=resent.expires_in,
                            **_cookie_options())
    return response


@bp.post("/cancel-otp")
def cancel_otp() -> Response:
    """Cancel the caller's pending verification."""
    lifecycle = get_lifecycle()
    verification_id, number, _ = _held(lifecycle.refused_check)
    cancelled = lifecycle.cancel(request_caller(), verification_id, number)
    return forget_cookie(make_response({"message": "The verification is cancelled."}), cancelled.id)


@bp.post("/check-otp")
def check_otp() -> Response:
    """Check the code the person typed; on success answer a signed token that proves it."""
    lifecycle = get_lifecycle()
    verification_id, number, data = _held(lifecycle.refused_check)
    try:
        code = parse.field(data, "code").strip()
    except OtpError:
        lifecycle.refused_check(request_caller())
        raise
    approved = lifecycle.check(request_caller(), verification_id, number, code)
    verification = approved.verification
    token = get_tokens().issue(Verified(verification.id, verification.number, verification.nonce, approved.channels),
                               issuer=request.url_root.rstrip("/"))
    return forget_cookie(make_response({"message": "The phone number is verified.", "verified": True,
                                        "verificationId": verification.id, "phoneNumber": verification.number,
                                        "token": token}), verification.id)
