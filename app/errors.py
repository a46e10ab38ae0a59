"""The error hierarchy: an HTTP status and a machine code per class, and what a provider's failure means.

Plain Python: the web layer (app.web.errors) renders these as ``{"error", "code"}``; the lifecycle and the
providers raise them.
"""

from __future__ import annotations


class ConfigError(Exception):
    """The settings cannot start the service; the message names every problem found (never a secret)."""


class OtpError(Exception):
    """Root of every error the service answers on purpose."""

    status = 500
    code = "internal_error"
    message = "Something went wrong on our side. Please try again."
    retry_after: int | None = None
    headers: dict[str, str] = {}
    # Whether the provider may have acted on the call that failed (sent a code, counted a check): False
    # when it certainly did not (unreachable, 503, throttled, account refused), so that another provider
    # may be asked without a person getting two codes.
    may_have_sent = False
    # The id of the verification this error ended (its cookie is then cleared), if it ended one.
    ended: str | None = None
    # The verification this error leaves pending for its caller, and its seconds (a start whose answer was
    # lost: the code may arrive): its id is answered, and set in the cookie.
    kept: tuple[str, int] | None = None
    # The provider that failed or refused (app.providers.failover), when one did.
    provider = ""
    # More fields of the answer, beside error and code (which budget was spent: {"limit": "country"}).
    details: dict[str, str] = {}

    def __init__(self, message: str | None = None, *, may_have_sent: bool | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        if may_have_sent is not None:
            self.may_have_sent = may_have_sent


# --- the caller's input ------------------------------------------------------------------------
class InvalidRequestError(OtpError):
    status, code = 400, "invalid_request"
    message = "The request is not valid."


class InvalidJsonError(OtpError):
    status, code = 400, "invalid_json"
    message = "The request body is not valid JSON: send a JSON object or a form."


class InvalidPhoneNumberError(OtpError):
    status, code = 400, "invalid_phone_number"
    message = "The phone number is not valid. Use the international format, e.g. +14155552671."


class VerificationIdRequiredError(OtpError):
    status, code = 400, "verification_id_required"
    message = ("Say which verification this is: send the verificationId that /request-otp answered (or keep "
               "its cookie), or request a new code.")


class UnauthorizedError(OtpError):
    status, code = 401, "unauthorized"
    message = "A valid API key is required: send Authorization: Bearer <key>."
    headers = {"WWW-Authenticate": 'Bearer realm="otp"'}


class OriginNotAllowedError(OtpError):
    status, code = 403, "origin_not_allowed"
    message = "Requests from this site are not allowed."

    def __init__(self, origin: str = "", expected: str = "") -> None:
        super().__init__()
        # For the log line, never the answer: the Origin refused, and this service's own as it was reached.
        self.origin = origin
        self.expected = expected


class RequestTimeoutError(OtpError):
    """The body did not arrive within OTP_BODY_TIMEOUT: the connection is not held longer."""

    status, code = 408, "request_timeout"
    message = "The request body did not arrive in time. Please send it again."


class CaptchaFailedError(OtpError):
    status, code = 400, "captcha_failed"
    message = "Please confirm you are human, then try again."


class InvalidCodeFormatError(OtpError):
    status, code = 400, "invalid_code_format"
    message = "The code must be 4 to 10 digits."


# --- the verification's state ------------------------------------------------------------------
class NumberNotSupportedError(OtpError):
    status, code = 422, "number_not_supported"
    message = "Verification codes cannot be sent to this phone number."


class CountryNotAllowedError(OtpError):
    status, code = 422, "country_not_allowed"
    message = "Verification codes cannot be sent to phone numbers in this country."


def _wait(seconds: int) -> str:
    """``seconds`` as a person reads a wait: 24 seconds, 5 minutes, 3 hours."""
    for unit, size in (("hour", 3600), ("minute", 60)):
        if seconds >= 2 * size:
            count = -(-seconds // size)
            return f"{count} {unit}s"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


class RateLimitedError(OtpError):
    """A limit refused the request; ``limit`` names which (the answer's field), the sentence says how long."""

    status, code = 429, "rate_limited"
    message = "Too many attempts. Please wait before trying again."
    # The answer's ``limit`` -> its sentence, with the wait.
    SENTENCES = {
        "cooldown": "Wait {wait} before asking for another code.",
        "client": "Too many requests came from this address. Please try again in {wait}.",
        "api_key": "This API key made too many requests. Please try again in {wait}.",
        "number": "Too many codes were asked for or tried for this phone number. Please try again in {wait}.",
        "spend_cap": "Codes cannot be sent right now. Please try again in {wait}.",
    }

    def __init__(self, retry_after: int, scope: str = "", limit: str = "") -> None:
        self.retry_after = max(1, retry_after)
        sentence = self.SENTENCES.get(limit)
        super().__init__(sentence.format(wait=_wait(self.retry_after)) if sentence else None)
        # The limit's scope (send-ip, send-number, ...), for the metric; its name, for the answer.
        self.scope = scope
        self.limit = limit
        if limit:
            self.details = {"limit": limit}


class ChallengeRequiredError(OtpError):
    """A shared budget of this destination is spent: a send needs a solved challenge (GET /challenge)."""

    status, code = 428, "challenge_required"
    message = ("Many codes went to numbers like this one recently. Please confirm you are a person (solve the "
               "challenge), then ask again.")

    def __init__(self, limit: str, message: str | None = None) -> None:
        super().__init__(message)
        self.details = {"limit": limit}


class VerificationInProgressError(OtpError):
    status, code = 409, "verification_in_progress"
    message = "A code was already sent to this number and is still valid. Enter it, or wait until it expires."

    def __init__(self, request_id: str | None = None) -> None:
        super().__init__()
        # Vonage names the request already in progress; it is kept server-side, never sent to the client.
        self.request_id = request_id


class CheckInProgressError(OtpError):
    """Another check (or a cancel) of this verification stayed at the provider for as long as this one waited
    for it: its answer decides."""

    status, code = 409, "check_in_progress"
    message = "This code is being checked right now. Please try again in a moment."
    retry_after = 1


class VerificationApprovedError(OtpError):
    """A resend or cancel of a verification the provider already approved (a check whose answer was lost):
    it is kept, and the next check answers the approval."""

    status, code = 409, "already_approved"
    message = "This code was already accepted: submit it once more to finish."


class NoPendingVerificationError(OtpError):
    status, code = 404, "no_pending_verification"
    # Worded like an expired code: the caller needs "request a new code", not whether a number is pending.
    message = "This code is invalid or has expired. Please request a new code."


class WrongCodeError(OtpError):
    status, code = 401, "wrong_code"
    message = "This code is invalid. Please check it and try again."


class TooManyAttemptsError(OtpError):
    status, code = 410, "too_many_attempts"
    message = "Too many wrong codes were entered. Please request a new code."


class VerificationExpiredError(OtpError):
    status, code = 410, "code_expired"
    message = "This code is invalid or has expired. Please request a new code."


class ActionRefusedError(OtpError):
    """Vonage will not do this now: no delivery step left, or a cancel too early or too late."""

    status, code = 409, "action_refused"
    message = "This cannot be done for the pending code right now."


# --- upstream and infrastructure ---------------------------------------------------------------
class ProviderThrottledError(OtpError):
    status, code = 503, "provider_throttled"
    message = "The verification service is busy. Please try again in a moment."
    retry_after = 1


class ProviderUnavailableError(OtpError):
    """Vonage refused us for a reason only an operator can fix (credentials, account, balance)."""

    status, code = 503, "service_unavailable"
    message = "The verification service is temporarily unavailable. Please try again later."
    retry_after = 60


class ProvidersUnavailableError(OtpError):
    """Every configured provider is skipped for new starts (their breakers are open): nothing was sent."""

    status, code = 503, "providers_unavailable"
    message = "Verification codes cannot be sent right now. Please try again in a moment."

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = max(1, retry_after)


class UpstreamError(OtpError):
    status, code = 502, "upstream_error"
    message = "The verification provider gave an unexpected answer. Please try again."
    may_have_sent = True  # a 5xx or an unusable answer: the provider may have acted before failing


class UpstreamUnavailableError(OtpError):
    status, code = 503, "upstream_unavailable"
    message = "The verification provider could not be reached. Please try again."
    retry_after = 5


class UpstreamTimeoutError(OtpError):
    """No answer in time: after the request was sent the provider may have acted (a connect timeout
    says it certainly did not)."""

    status, code = 504, "upstream_timeout"
    message = "The verification provider did not answer in time. Please try again."
    may_have_sent = True


class CaptchaUnavailableError(OtpError):
    status, code = 503, "captcha_unavailable"
    message = "The human check could not be completed. Please try again in a moment."
    retry_after = 5


class StoreError(OtpError):
    status, code = 503, "store_unavailable"
    message = "The service is temporarily unavailable. Please try again shortly."
    retry_after = 5
