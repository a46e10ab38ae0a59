"""Every failure as the one JSON shape ``{"error", "code"}``: our errors, werkzeug's and unexpected ones."""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, Response, has_request_context, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from ..errors import OtpError, RateLimitedError
from ..metrics import ERRORS, RATE_LIMITED, VERIFICATIONS

HTTP_CODES = {
    400: ("bad_request", "The request is not valid."),
    404: ("not_found", "There is nothing at this address."),
    405: ("method_not_allowed", "This method is not allowed here."),
    413: ("payload_too_large", "The request body is too large."),
}


def error_response(status: int, code: str, message: str, retry_after: int | None = None,
                   headers: dict[str, str] | None = None, details: Mapping[str, object] | None = None) -> Response:
    """Build the one JSON error body every failure uses (``details``: more fields beside error and code)."""
    response = jsonify(error=message, code=code, **(details or {}))
    response.status_code = status
    if has_request_context():
        ERRORS.labels(request.endpoint or "unmatched", code).inc()
    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)
    response.headers.update(headers or {})
    return response


def register_error_handlers(app: Flask) -> None:
    """Answer our errors, werkzeug's HTTP errors and unexpected exceptions as JSON."""
    from .routes import forget_cookie, keep_cookie

    @app.errorhandler(OtpError)
    def handle_otp_error(exc: OtpError) -> Response:
        if exc.status >= 500:
            VERIFICATIONS.labels("failed", "", "", exc.provider).inc()
        if isinstance(exc, RateLimitedError):
            RATE_LIMITED.labels(request.endpoint or "unmatched", exc.scope).inc()
        details = exc.details if exc.kept is None else {**exc.details, "verificationId": exc.kept[0]}
        response = error_response(exc.status, exc.code, exc.message, exc.retry_after, exc.headers, details)
        if exc.kept is not None:
            return keep_cookie(response, *exc.kept)
        return forget_cookie(response, exc.ended)

    @app.errorhandler(HTTPException)
    def handle_http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code, message = HTTP_CODES.get(status, (f"http_{status}", exc.name + "."))
        response = error_response(status, code, message)
        # Keep werkzeug's headers that matter to the client, e.g. Allow on 405.
        for name, value in exc.get_response().headers.items():
            if name.lower() not in ("content-type", "content-length"):
                response.headers[name] = value
        return response

    @app.errorhandler(InternalServerError)
    def handle_internal_error(exc: InternalServerError) -> Response:
        # Flask has already logged the traceback; the client gets a generic sentence only.
        return error_response(500, OtpError.code, OtpError.message)
