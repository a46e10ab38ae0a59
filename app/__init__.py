"""The OTP service: send a one-time code by SMS through Vonage Verify and check it."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from flask import Flask, Response, g, request
from werkzeug.middleware.proxy_fix import ProxyFix

from . import metrics
from .config import load_config
from .errors import register_error_handlers
from .logs import request_id
from .ratelimit import init_limiter
from .store import store_from_url
from .verify import verifier_from_config

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 16 * 1024
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # JSON needs nothing: nothing may load, nothing may frame it.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
}
# The demo page loads its own script and style and talks to this origin only.
HTML_CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
            "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


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

    @app.before_request
    def start_clock() -> None:
        g.started = time.perf_counter()
        metrics.last_vonage_ms.set(None)  # a thread serves many requests: no latency from an earlier one

    @app.after_request
    def finish(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        if response.mimetype == "text/html":
            response.headers["Content-Security-Policy"] = HTML_CSP
        response.headers["X-Request-ID"] = request_id()
        endpoint = request.endpoint or "unmatched"
        metrics.REQUESTS.labels(endpoint, request.method, str(response.status_code)).inc()
        if "started" in g:
            metrics.REQUEST_LATENCY.labels(endpoint).observe(time.perf_counter() - g.started)
        return response

    return app
