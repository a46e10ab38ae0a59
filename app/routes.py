"""HTTP routes: the four verbs, the probes, the JWK Set, metrics, the OpenAPI document and the demo page."""

from __future__ import annotations

import functools
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from importlib import resources
from typing import Any

from flask import Blueprint, Response, abort, current_app, g, jsonify, request
from markupsafe import escape
from prometheus_client import CONTENT_TYPE_LATEST
from werkzeug.exceptions import BadRequest

from . import captcha, phone
from .callers import api_key_name
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
    UpstreamTimeoutError,
    UpstreamUnavailableError,
    VerificationExpiredError,
    VerificationIdRequiredError,
    VerificationInProgressError,
    WrongCodeError,
    error_response,
)
from .metrics import VERIFICATIONS, exposition, last_vonage_ms
from .ratelimit import check_limits, send_budget, send_limits
from .store import Pending, Store
from .tokens import TokenIssuer, Verified
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
# The verification handle: 32 random bytes (256 bits), 43 URL-safe characters. Anything else is looked up
# nowhere: it cannot name a verification.
VERIFICATION_COOKIE = "otp_verification"
ID_BYTES = 32
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{43}")
# OpenID Connect's nonce: an opaque value of the app's; printable ASCII keeps it safe in a JWT and in logs.
NONCE_PATTERN = re.compile(r"[\x20-\x7e]{1,128}")


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
    except RecursionError as exc:
        # json nests by recursion: ten thousand '[' under the size cap exhaust the stack. Python's own
        # stack guard turns that into this exception, raised before anything else of the request ran.
        raise InvalidJsonError("The request body nests too deeply: send a flat JSON object.") from exc
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
        g.otp_number = g.otp_destination = phone.e164(number)
    return str(g.otp_number)


def get_tokens() -> TokenIssuer:
    """Return the app's token issuer."""
    tokens: TokenIssuer = current_app.extensions["otp_tokens"]
    return tokens


def _nonce() -> str:
    value = _body().get("nonce")
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not NONCE_PATTERN.fullmatch(value):
        raise InvalidRequestError("nonce must be printable ASCII, at most 128 characters.")
    return value


def posted_verification_id() -> str:
    """The posted verificationId, else the verification cookie; 400 when there is neither."""
    value = _body().get("verificationId")
    if value is None or value == "":
        value = request.cookies.get(VERIFICATION_COOKIE, "")
    if not isinstance(value, str):
        raise InvalidRequestError("verificationId must be a string.")
    if not value:
        raise VerificationIdRequiredError()
    return value


def owned_verification() -> Pending:
    """The pending verification the caller holds the id of (and of the posted number, when one is posted).

    Unknown, expired, finished, or of another number: the same 404, so that the answer tells a stranger
    nothing. Read once per request: rate-limit keys and views share it.
    """
    if "otp_pending" not in g:
        verification_id = posted_verification_id()
        posted = _body().get("phoneNumber")
        number = None if posted is None or posted == "" else posted_number()
        pending = get_store().get(verification_id) if ID_PATTERN.fullmatch(verification_id) else None
        if pending is None or (number is not None and number != pending.number):
            raise NoPendingVerificationError()
        g.otp_pending = pending
        g.otp_destination = pending.number
    found: Pending = g.otp_pending
    return found


def owned_number_key() -> str:
    """Rate-limit key of check and cancel: the number of the verification the caller holds, or ''.

    A caller who knows only a number names no verification, so no per-number limit counts their requests
    (the per-address ones still do): a stranger cannot spend the owner's budget.
    """
    try:
        return owned_verification().number
    except OtpError:
        return ""


def _outcome(outcome: str, number: str, event: str = "verification") -> None:
    """Log one verification event (masked number, Vonage latency) and count its outcome."""
    masked = phone.mask(number)
    extra = {"event": event, "outcome": outcome, "number": masked, "vonage_ms": last_vonage_ms.get()}
    caller = api_key_name()
    if caller:
        extra["caller"] = caller  # the API key's name, never the key
    log.info("%s %s for %s", event, outcome, masked, extra=extra)
    VERIFICATIONS.labels(outcome, phone.country(number) if outcome in ("started", "approved") else "").inc()


def _end(pending: Pending, outcome: str) -> bool:
    """Forget a verification that is over (a SQL store keeps its record); False when another request ended
    it first. A store fault only costs a log line."""
    g.otp_ended = pending.id
    try:
        return get_store().delete(pending, outcome)
    except StoreError:
        # The entry expires on its own, and Vonage refuses the finished request if it is checked again.
        log.error("could not remove the pending verification for %s", phone.mask(pending.number))
        return True


def _cancel(request_id: str) -> None:
    """End the request at the provider, best effort: the entry is already gone either way."""
    try:
        get_verifier().cancel(request_id)
    except OtpError as exc:
        log.info("could not cancel a finished verification: %s", exc.code)


def _ttl() -> int:
    return get_verifier().lifetime + TTL_MARGIN


def _started(number: str, request_id: str, nonce: str) -> tuple[dict[str, Any], int]:
    """Keep a new verification under a fresh id, hand that id to this caller only, and set its cookie."""
    pending = Pending(secrets.token_urlsafe(ID_BYTES), number, request_id, nonce)
    get_store().create(pending, _ttl())
    g.otp_started = pending.id
    return {"message": "A code is on its way. Check your phone.", "expiresIn": get_verifier().lifetime,
            "verificationId": pending.id, "phoneNumber": number, **_delivery(1)}, 200


def _delivery(made: int) -> dict[str, Any]:
    """How delivery number ``made`` of the workflow travelled, what the next one would use (None: no step
    left) and when one may be asked for, so that a page can say "the next code comes by a voice call"."""
    channels = current_app.config["OTP_CHANNELS"]
    return {"channel": channels[min(made, len(channels)) - 1],
            "nextChannel": channels[made] if made < len(channels) else None,
            "resendIn": current_app.config["OTP_RESEND_COOLDOWN"] if current_app.config["OTP_RATELIMIT_ENABLED"]
            else 0}


def _act_on_pending(action: Callable[[Verifier, str], None], refused: str) -> Pending:
    """Run ``action`` on the caller's pending request and return the verification when Vonage did it.

    Nothing pending is 404; a request Vonage no longer knows is forgotten and answered 410. A refusal
    (legacy status 19, v2 409) means "too early" or "too late": what became of the request tells which.
    Still in progress: 409 with the ``refused`` sentence, the entry kept. Verified, expired or ended: 410,
    the entry forgotten. Unknown (v2 cannot say): 409 that promises nothing about the code.
    """
    pending = owned_verification()
    verifier = get_verifier()
    try:
        action(verifier, pending.request_id)
    except ActionRefusedError:
        state = verifier.status(pending.request_id)
        if state in ("approved", "ended"):
            _end(pending, "expired")
            raise VerificationExpiredError("This verification is already over: its code was used or has "
                                           "expired. Please request a new code.") from None
        raise ActionRefusedError(refused if state == "in_progress" else None) from None
    except VerificationExpiredError:
        _end(pending, "expired")
        raise
    return pending


@bp.after_request
def bind_cookie(response: Response) -> Response:
    """Set the verification cookie when one starts; clear it when the verification it names is over."""
    options: dict[str, Any] = {"path": "/", "secure": current_app.config["OTP_COOKIE_SECURE"], "httponly": True,
                               "samesite": "Strict"}
    started, ended = g.get("otp_started"), g.get("otp_ended")
    if started and response.status_code == 200:
        response.set_cookie(VERIFICATION_COOKIE, started, max_age=get_verifier().lifetime, **options)
    elif ended and request.cookies.get(VERIFICATION_COOKIE) == ended:
        response.delete_cookie(VERIFICATION_COOKIE, **options)
    return response


# Every request counts against its client's and API key's limits; a send is held to its destination's
# limits and cooldown around the Vonage call (app.ratelimit.send_budget), so nothing past a limit reaches
# Vonage. On check and cancel the number is that of the verification the caller holds: a caller who knows
# only a number spends nothing of its owner's limits.
@bp.post("/request-otp")
@send_limits
def request_otp() -> tuple[dict[str, Any], int]:
    """Send a code to the posted phone number and answer the new verification's id."""
    number = posted_number()
    nonce = _nonce()
    phone.screen(g.otp_parsed, current_app.config["OTP_ALLOWED_COUNTRIES"],
                 current_app.config["OTP_ALLOWED_NUMBER_TYPES"])
    with send_budget(number):
        # Inside the budget, whose round trip counted the caller: a refused CAPTCHA gives the cooldown back
        # and spends none of the number's budget.
        captcha.verify(_body().get("captchaToken"))
        return _start(number, nonce)


def _start(number: str, nonce: str) -> tuple[dict[str, Any], int]:
    try:
        request_id = get_verifier().start(number)
    except VerificationInProgressError as exc:
        if not exc.request_id:
            raise
        # Vonage names the request in progress. If it is the latest one stored, someone holds its id: 409,
        # and that id is never handed to this caller. If not, it was started by an attempt of ours whose
        # answer was lost (a timeout, a dropped connection, a store fault): the code is on its way, so this
        # caller, who asked, gets a new id for it.
        latest = get_store().latest(number)
        if latest is not None and latest.request_id == exc.request_id:
            _outcome("in_progress", number)
            raise
        _outcome("started", number, event="verification_adopted")
        return _started(number, exc.request_id, nonce)
    _outcome("started", number)
    return _started(number, request_id, nonce)


@bp.post("/resend-otp")
@send_limits
def resend_otp() -> tuple[dict[str, Any], int]:
    """Deliver the pending code again by the workflow's next step (e.g. a voice call after the SMS)."""
    with send_budget(owned_verification().number):
        pending = _act_on_pending(lambda verifier, request_id: verifier.next_step(request_id),
                                  "No further delivery is possible for this code: enter it, or request a new "
                                  "one when it expires.")
    try:
        get_store().count_delivery(pending.id)
    except StoreError:
        # The code is on its way: say so. Only the token's amr misses the channel.
        log.error("could not count a delivery for %s", phone.mask(pending.number))
    _outcome("resent", pending.number)
    return {"message": "The code is being delivered again.", **_delivery(pending.deliveries + 1)}, 200


@bp.post("/cancel-otp")
@check_limits(owned_number_key)
def cancel_otp() -> tuple[dict[str, Any], int]:
    """Cancel the caller's pending verification."""
    pending = _act_on_pending(lambda verifier, request_id: verifier.cancel(request_id),
                              "The verification cannot be cancelled right now (Vonage refuses a cancel in its "
                              "first 30 seconds); the code stays valid.")
    _end(pending, "cancelled")
    _outcome("cancelled", pending.number)
    return {"message": "The verification is cancelled."}, 200


@bp.post("/check-otp")
@check_limits(owned_number_key)
def check_otp() -> tuple[dict[str, Any], int]:
    """Check the code the person typed; on success answer a signed token that proves it."""
    pending = owned_verification()
    code = _field(_body(), "code").strip()
    if not CODE_PATTERN.fullmatch(code):
        raise InvalidCodeFormatError()
    # Marked unsettled before Vonage is asked, so that a check whose answer is lost (a timeout, a
    # dropped connection, this worker killed) is remembered, and the next check asks what became of it.
    counted = get_store().begin_check(pending.id)
    if counted is None:
        raise NoPendingVerificationError()
    number = counted.number
    if counted.checks > MAX_CHECKS:
        _end(counted, "too_many_attempts")
        _cancel(counted.request_id)
        _outcome("too_many_attempts", number, event="code_checked")
        # Vonage ends a request after three wrong codes, so this cap is mostly reached by checks that ended
        # in faults: say what happened, not "wrong codes".
        raise TooManyAttemptsError("This code was checked too many times. Please request a new code.")
    verifier = get_verifier()
    state = verifier.status(counted.request_id) if counted.unsettled else "in_progress"
    if state == "approved":
        # An earlier check was approved and its answer lost: this one gets what that one should have.
        return _verified(counted)
    if state == "ended":
        _end(counted, "expired")
        _outcome("expired", number, event="code_checked")
        raise VerificationExpiredError()
    try:
        verifier.check(counted.request_id, code)
    except WrongCodeError:
        # The entry stays: a person who mistyped tries again with the same code.
        _settle(counted)
        _outcome("wrong_code", number, event="code_checked")
        raise
    except TooManyAttemptsError:
        _end(counted, "too_many_attempts")
        _outcome("too_many_attempts", number, event="code_checked")
        raise
    except VerificationExpiredError as exc:
        if counted.unsettled:
            # An earlier check of this verification, lost or still in flight, may have been approved.
            if state == "unknown":
                # v2 cannot be asked. The entry is left to that check (it ends it if approved) or to expiry.
                _outcome("expired", number, event="code_checked")
                raise VerificationExpiredError(LOST_ANSWER) from exc
            if verifier.status(counted.request_id) == "approved":
                return _verified(counted)
        _end(counted, "expired")
        _outcome("expired", number, event="code_checked")
        raise
    except (UpstreamTimeoutError, UpstreamUnavailableError):
        raise  # the check may have reached Vonage: it stays unsettled
    except OtpError:
        _settle(counted)  # Vonage answered: nothing was approved
        raise
    return _verified(counted)


# Verify v2 cannot say what became of a request: when it no longer knows one whose last check was lost,
# the code may have been accepted, and the person is told so.
LOST_ANSWER = ("This code may already have been accepted: the answer to an earlier check was lost, and the "
               "verification is over now. Please request a new code.")


def _settle(pending: Pending) -> None:
    try:
        get_store().settle(pending.id)
    except StoreError:
        # The next check then asks Vonage first: one call more, no wrong answer.
        log.error("could not settle a check for %s", phone.mask(pending.number))


def _verified(counted: Pending) -> tuple[dict[str, Any], int]:
    """End the verification and answer the signed proof of it, once. Two checks of one verification may
    both learn that it was approved (one from Vonage, one from the search after a lost answer): the one
    that ends it answers the token, the other 404, so that one approval never yields two tokens."""
    if not _end(counted, "approved"):
        raise NoPendingVerificationError()
    _outcome("approved", counted.number, event="code_checked")
    channels = current_app.config["OTP_CHANNELS"][:counted.deliveries]
    token = get_tokens().issue(Verified(counted.id, counted.number, counted.nonce, channels),
                               issuer=request.url_root.rstrip("/"))
    return {"message": "The phone number is verified.", "verified": True, "verificationId": counted.id,
            "phoneNumber": counted.number, "token": token}, 200


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    """The public keys that check this service's tokens: the current one and those still honoured."""
    response = jsonify(get_tokens().jwks)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


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
    """The demo page: a phone form, then a code form (404, like any unknown path, unless OTP_DEMO_PAGE)."""
    if not current_app.config["OTP_DEMO_PAGE"]:
        abort(404)
    page = _static_file("index.html")
    provider, site_key = current_app.config["OTP_CAPTCHA"], current_app.config["OTP_CAPTCHA_SITE_KEY"]
    if provider and site_key:
        # The page's script renders the widget from these; the site key is public by design.
        attributes = f'<main data-captcha="{escape(provider)}" data-captcha-site-key="{escape(site_key)}">'
        page = page.replace(b"<main>", attributes.encode(), 1)
    return Response(page, mimetype="text/html")
