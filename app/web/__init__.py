"""The HTTP side: the app factory, the views (parse -> lifecycle -> render), errors, guards and headers."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from flask import Flask, Response, g, request
from flask_cors import CORS
from werkzeug.middleware.proxy_fix import ProxyFix

from .. import __version__, metrics
from ..breaker import breaker_for
from ..captcha import Captcha
from ..challenge import Challenges
from ..errors import OriginNotAllowedError, UnauthorizedError
from ..lifecycle import Lifecycle
from ..lifecycle.outcomes import Sweeper
from ..limits import Limits
from ..logs import request_id
from ..providers.registry import providers_from_settings
from ..settings import ProviderName, Settings, load_settings, provider_channels
from ..store import store_from_url
from ..tokens import TokenIssuer, generate_private_key_pem, load_private_key
from . import parse
from .errors import register_error_handlers
from .guards import api_key_name, authenticate, check_origin, refused

log = logging.getLogger("app")

MAX_BODY_BYTES = 16 * 1024
# Metric labels take a fixed set of values: a client choosing the method name must not add series.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # JSON needs nothing: nothing may load, nothing may frame it.
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
}
# The demo page loads its own script and style and talks to this origin only; with a CAPTCHA, also the
# widget's provider (its script, its frame, and for hCaptcha its styles and API).
CAPTCHA_ORIGINS = {
    "turnstile": "https://challenges.cloudflare.com",
    "hcaptcha": "https://hcaptcha.com https://*.hcaptcha.com",
    "recaptcha": "https://www.google.com https://www.gstatic.com",
}


def html_csp(captcha: str) -> str:
    """The demo page's Content-Security-Policy."""
    extra = f" {CAPTCHA_ORIGINS[captcha]}" if captcha else ""
    frames = CAPTCHA_ORIGINS[captcha] if captcha else "'none'"
    return (f"default-src 'none'; script-src 'self'{extra}; style-src 'self'{extra}; connect-src 'self'{extra}; "
            f"frame-src {frames}; img-src 'self'; worker-src 'self'; form-action 'self'; frame-ancestors 'none'; "
            "base-uri 'none'")


def _token_issuer(settings: Settings) -> TokenIssuer:
    key = settings.OTP_TOKEN_PRIVATE_KEY
    if key is None:
        # Only the console provider gets here (the settings require a key with vonage): a key of this
        # process's own, so tokens verify against this process's JWK Set until it stops.
        key = load_private_key(generate_private_key_pem().decode())
        log.warning("no OTP_TOKEN_PRIVATE_KEY: tokens are signed with a key made for this process only")
    return TokenIssuer(key, issuer=settings.OTP_TOKEN_ISSUER, audience=settings.OTP_TOKEN_AUDIENCE,
                       ttl=settings.OTP_TOKEN_TTL, previous=settings.OTP_TOKEN_PREVIOUS_KEYS)


def _holds(settings: Settings) -> dict[str, float]:
    """Seconds a check may hold its verification (up to three provider calls: what became of a lost check,
    the check, and again after "expired"; and its store operations: a hold past that was a lost check), a
    start its number before the answer is recorded (each provider in turn, and the store), and a check waits
    for another check of its verification (one provider call and its store operations)."""
    timeouts = [{ProviderName.VONAGE: settings.VONAGE_TIMEOUT, ProviderName.TWILIO: settings.TWILIO_TIMEOUT}.get(
        name, 1) for name in settings.OTP_PROVIDER]
    store = settings.OTP_STORE_TIMEOUT
    return {"check_hold": 3 * max(timeouts) + 4 * store, "start_hold": sum(timeouts) + 4 * store,
            "check_wait": max(timeouts) + 2 * store}


def _scheme(url: str) -> str:
    """What a store URL names, without its host, credentials or path (redis, redis+sentinel, postgresql, ...)."""
    return url.split("://", 1)[0].lower() if "://" in url else "?"


def _providers_line(settings: Settings) -> str:
    """The providers in failover order, Vonage's Verify API named: "vonage (Verify legacy), twilio"."""
    return ", ".join(f"vonage (Verify {settings.VONAGE_VERIFY_API})" if name is ProviderName.VONAGE else name.value
                     for name in settings.OTP_PROVIDER)


def _services(app: Flask, settings: Settings) -> None:
    """Build the store, the provider, the limits and the lifecycle over them, held by this app only."""
    tokens = _token_issuer(settings)
    store = store_from_url(settings.OTP_STORE_URL, channels=provider_channels(settings),
                           record_days=settings.OTP_RECORD_DAYS, record_key=settings.OTP_RECORD_KEY,
                           timeout=settings.OTP_STORE_TIMEOUT)
    limits = Limits.from_settings(settings)
    breaker = breaker_for(store, limits.storage, settings.OTP_FAILOVER_THRESHOLD, settings.OTP_FAILOVER_COOLDOWN)
    provider = providers_from_settings(settings, breaker)
    app.extensions["otp_store"] = store
    app.extensions["otp_limits"] = limits
    app.extensions["otp_settings"] = settings
    app.extensions["otp_tokens"] = tokens
    challenges = Challenges(settings.OTP_CHALLENGE_KEY.encode() or tokens.derived_secret("challenge key"),
                            settings.OTP_CHALLENGE_DIFFICULTY, limits.storage)
    app.extensions["otp_challenges"] = challenges
    app.extensions["otp_lifecycle"] = lifecycle = Lifecycle(
        store=store, provider=provider, limits=limits,
        captcha=Captcha(settings.OTP_CAPTCHA, settings.OTP_CAPTCHA_SECRET), challenges=challenges,
        allowed_countries=settings.OTP_ALLOWED_COUNTRIES, allowed_kinds=settings.OTP_ALLOWED_NUMBER_TYPES,
        **_holds(settings))
    # Each process ends the verifications whose time ran out (their events, records and metric), from its
    # first request on: started after gunicorn's fork, in every worker.
    app.extensions["otp_sweeper"] = Sweeper(lifecycle.outcomes.sweep, settings.OTP_SWEEP_SECONDS)
    metrics.preinitialise(__version__, {p.name: p.channels for p in provider.providers},
                          settings.OTP_ALLOWED_COUNTRIES)
    store_kind, limits_kind = _scheme(settings.OTP_STORE_URL), _scheme(settings.OTP_RATELIMIT_STORAGE_URL)
    log.info("otp-service %s: provider %s, store %s, limits storage %s, test numbers: %d", __version__,
             _providers_line(settings), store_kind, limits_kind, len(settings.OTP_TEST_NUMBERS),
             extra={"event": "started", "version": __version__, "store": store_kind, "limits_storage": limits_kind,
                    "providers": [name.value for name in settings.OTP_PROVIDER],
                    "test_numbers": len(settings.OTP_TEST_NUMBERS)})
    if ProviderName.CONSOLE in settings.OTP_PROVIDER:
        log.warning("OTP_PROVIDER=console: codes are WRITTEN TO THIS LOG and no SMS is sent. "
                    "For development only; never run this in production.")
    if settings.OTP_STORE_URL.startswith("memory://"):
        log.info("memory store: pending verifications live in this process only and are lost on restart")


def create_app(environ: Mapping[str, str] | None = None) -> Flask:
    """Build the app from ``environ`` (environment-style strings; the process environment by default)."""
    settings = load_settings(environ)
    app = Flask("app")
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    _services(app, settings)

    if settings.OTP_TRUSTED_PROXIES:
        # Trust exactly that many X-Forwarded-For hops; with none, a client cannot choose its own address.
        # X-Forwarded-Host from the same hops names the host browsers reached (the Origin check); the
        # scheme is gunicorn's business (X-Forwarded-Proto from FORWARDED_ALLOW_IPS).
        hops = settings.OTP_TRUSTED_PROXIES
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_host=hops)  # type: ignore[method-assign]

    from . import pages  # noqa: F401 - its routes join the blueprint
    from .routes import bp, request_caller

    app.register_blueprint(bp)
    register_error_handlers(app)
    keys, allowed = settings.OTP_API_KEYS, frozenset(settings.OTP_ALLOWED_ORIGINS)
    if keys:
        log.info("API keys required: every POST needs Authorization: Bearer <key> (%d keys: %s)", len(keys),
                 ", ".join(sorted(keys.values())))
    else:
        log.info("no OTP_API_KEYS: open to any caller (browsers are bound by the verification id and Origin)")
    # Before the views, so that neither an unknown caller nor a refused origin counts against any other limit;
    # refusals count against their own, past which they are 429 and leave no log line each.
    @app.before_request
    def guard() -> None:
        parse.read_body(settings.OTP_BODY_TIMEOUT)
        try:
            authenticate(keys)
            check_origin(allowed)
        except (UnauthorizedError, OriginNotAllowedError) as exc:
            refused(exc, *app.extensions["otp_limits"].count_refusal(request_caller()))
            raise

    if allowed:
        # Frontends on those origins call with verificationId in the body: no credentials, no cookie.
        CORS(app, resources={r"/(request|check|resend|cancel)-otp": {}}, origins=sorted(allowed),
             methods=["POST"], allow_headers=["Content-Type", "Authorization"],
             expose_headers=["Retry-After", "X-Request-ID"], supports_credentials=False, max_age=600)

    page_csp = html_csp(settings.OTP_CAPTCHA if settings.OTP_CAPTCHA_SITE_KEY else "")

    sweeper = app.extensions["otp_sweeper"]

    @app.before_request
    def start_clock() -> None:
        sweeper.ensure()
        g.started = time.perf_counter()
        metrics.last_provider_ms.set(None)  # a thread serves many requests: no latency from an earlier one

    @app.after_request
    def finish(response: Response) -> Response:
        # A view that sets its own caching on a success keeps it (the JWK Set is public and cacheable).
        cache = response.headers.get("Cache-Control") if response.status_code == 200 else None
        response.headers.update(SECURITY_HEADERS)
        if cache:
            response.headers["Cache-Control"] = cache
        if response.mimetype == "text/html":
            response.headers["Content-Security-Policy"] = page_csp
        response.headers["X-Request-ID"] = request_id()
        endpoint = request.endpoint or "unmatched"
        method = request.method if request.method in HTTP_METHODS else "other"
        metrics.REQUESTS.labels(endpoint, method, str(response.status_code), api_key_name()).inc()
        if "started" in g:
            metrics.REQUEST_LATENCY.labels(endpoint).observe(time.perf_counter() - g.started)
        return response

    return app
