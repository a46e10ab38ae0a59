"""The OTP service: send a one-time code by SMS through Vonage Verify and check it."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, Response

from .config import load_config
from .errors import register_error_handlers
from .store import store_from_url
from .verify import verifier_from_config

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024


def create_app(settings: Mapping[str, str] | None = None) -> Flask:
    """Build the app from ``settings`` (environment-style strings; the process environment by default)."""
    config = load_config(settings)
    app = Flask(__name__)
    app.config.update(config)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    # At DEBUG the SDK logs the Authorization header and the form it sends, code included.
    if logging.getLogger("vonage").getEffectiveLevel() < logging.INFO:
        logging.getLogger("vonage").setLevel(logging.INFO)

    app.extensions["otp_store"] = store_from_url(config["OTP_STORE_URL"])
    app.extensions["otp_verifier"] = verifier_from_config(config)
    if config["OTP_PROVIDER"] == "console":
        log.warning("OTP_PROVIDER=console: codes are WRITTEN TO THIS LOG and no SMS is sent. "
                    "For development only; never run this in production.")
    if config["OTP_STORE_URL"].startswith("memory://"):
        log.info("memory store: pending verifications live in this process only and are lost on restart")

    from .routes import bp

    app.register_blueprint(bp)
    register_error_handlers(app)

    @app.after_request
    def no_store(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app
