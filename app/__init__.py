"""The OTP service: send a one-time code by SMS through Vonage Verify and check it."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import load_config
from .errors import register_error_handlers
from .ratelimit import init_limiter
from .store import store_from_url
from .verify import verifier_from_config

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The API serves no HTML that needs anything: nothing may load, nothing may frame it.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
}


def _no_debug(record: logging.LogRecord) -> bool:
    return record.levelno > logging.DEBUG


def _quiet_sdk_debug() -> None:
    """Keep the SDK's logger above DEBUG, where it logs the Authorization header and the code it sends.

    The level guards the usual case; the filter also holds when someone lowers the level later.
    """
    sdk = logging.getLogger("vonage")
    if sdk.level < logging.INFO:
        sdk.setLevel(logging.INFO)
    if _no_debug not in sdk.filters:
        sdk.addFilter(_no_debug)


def create_app(settings: Mapping[str, str] | None = None) -> Flask:
    """Build the app from ``settings`` (environment-style strings; the process environment by default)."""
    config = load_config(settings)
    app = Flask(__name__)
    app.config.update(config)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    _quiet_sdk_debug()

    app.extensions["otp_store"] = store_from_url(config["OTP_STORE_URL"])
    app.extensions["otp_verifier"] = verifier_from_config(config)
    if config["OTP_PROVIDER"] == "console":
        log.warning("OTP_PROVIDER=console: codes are WRITTEN TO THIS LOG and no SMS is sent. "
                    "For development only; never run this in production.")
    if config["OTP_STORE_URL"].startswith("memory://"):
        log.info("memory store: pending verifications live in this process only and are lost on restart")

    if config["OTP_TRUSTED_PROXIES"]:
        # Trust exactly that many X-Forwarded-For hops; with none, a client cannot choose its own address.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config["OTP_TRUSTED_PROXIES"])  # type: ignore[method-assign]

    from .routes import bp

    app.register_blueprint(bp)
    register_error_handlers(app)
    init_limiter(app)

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        return response

    return app
