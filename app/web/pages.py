"""What is not a verb: the probes, the JWK Set, metrics, the OpenAPI document and the demo page.

They are routes of the one ``otp`` blueprint, so that their endpoint names (metric labels) are otp.healthz
and so on.
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Any

from flask import Response, abort, current_app, jsonify
from markupsafe import escape
from prometheus_client import CONTENT_TYPE_LATEST

from ..challenge import Challenges
from ..errors import OtpError, ProvidersUnavailableError, StoreError
from ..metrics import exposition
from .errors import error_response
from .routes import bp, get_lifecycle, get_settings, get_tokens


@bp.get("/.well-known/jwks.json")
def jwks() -> Response:
    """The public keys that check this service's tokens: the current one and those still honoured."""
    response = jsonify(get_tokens().jwks)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@bp.get("/challenge")
def challenge() -> dict[str, Any]:
    """A proof-of-work challenge (ALTCHA), for a send past a shared budget: solve it, post it as ``altcha``."""
    challenges: Challenges = current_app.extensions["otp_challenges"]
    return challenges.new()


@bp.get("/healthz")
def healthz() -> tuple[dict[str, Any], int]:
    """Answer while the process runs."""
    return {"status": "ok"}, 200


@bp.get("/readyz")
def readyz() -> Any:
    """200 when the store and the rate-limit storage answer and at least one provider takes starts (as its
    breaker sees it: no provider is called), 503 otherwise. Either way the body names each dependency's
    state: ``store`` and ``limits`` up or down, ``providers`` each breaker's (closed, open, half_open)."""
    lifecycle = get_lifecycle()
    state: dict[str, Any] = {}
    down: OtpError | None = None
    for name, ping in (("store", lifecycle.store.ping), ("limits", lifecycle.limits.ping)):
        try:
            ping()
            state[name] = "up"
        except StoreError as exc:
            state[name], down = "down", down or exc
    state["providers"] = providers = lifecycle.provider.states()
    if all(breaker == "open" for breaker in providers.values()):
        down = down or ProvidersUnavailableError(get_settings().OTP_FAILOVER_COOLDOWN)
    if down is None:
        return {"status": "ready", **state}, 200
    return error_response(down.status, down.code, down.message, down.retry_after,
                          details={"status": "not_ready", **state})


@bp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics: every worker's, when gunicorn.conf.py set up the multiprocess directory."""
    get_lifecycle().provider.states()  # the providers' state gauge, as the shared breakers hold it now
    # Prometheus' own Content-Type, charset included (a mimetype would get a second one from Flask).
    return Response(exposition(get_settings().PROMETHEUS_MULTIPROC_DIR), content_type=CONTENT_TYPE_LATEST)


@functools.cache
def _static_file(name: str) -> bytes:
    return (resources.files("app") / "static" / name).read_bytes()


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return Response(_static_file("openapi.json"), mimetype="application/json")


@bp.get("/")
def demo() -> Response:
    """The demo page: a phone form, then a code form (404, like any unknown path, unless OTP_DEMO_PAGE)."""
    if not get_settings().OTP_DEMO_PAGE:
        abort(404)
    page = _static_file("index.html")
    provider, site_key = get_settings().OTP_CAPTCHA, get_settings().OTP_CAPTCHA_SITE_KEY
    if provider and site_key:
        # The page's script renders the widget from these; the site key is public by design.
        attributes = f'<main data-captcha="{escape(provider)}" data-captcha-site-key="{escape(site_key)}">'
        page = page.replace(b"<main>", attributes.encode(), 1)
    return Response(page, mimetype="text/html")
