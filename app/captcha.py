"""The optional CAPTCHA gate of /request-otp: the widget's token, checked at the provider's siteverify.

Turnstile, hCaptcha and reCAPTCHA share one protocol: POST ``secret``, ``response`` (the widget's token)
and ``remoteip`` as a form, get ``{"success": true|false, ...}`` back.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

import requests

from .errors import CaptchaFailedError, CaptchaUnavailableError

log = logging.getLogger(__name__)

SITEVERIFY = {
    "turnstile": "https://challenges.cloudflare.com/turnstile/v0/siteverify",
    "hcaptcha": "https://api.hcaptcha.com/siteverify",
    "recaptcha": "https://www.google.com/recaptcha/api/siteverify",
}
# (connect, read) seconds for each socket operation, and the deadline of the whole call: a provider that
# answers byte by byte would otherwise hold a send for as long as it drips.
TIMEOUT = (3, 5)
DEADLINE = 8.0
MAX_TOKEN_LENGTH = 4096
_session = requests.Session()
# The calls run here, so that the send waits DEADLINE at most; a call past it is abandoned to its socket
# timeouts (gevent makes these greenlets).
_calls = ThreadPoolExecutor(max_workers=16, thread_name_prefix="captcha")


def _siteverify(url: str, form: dict[str, str]) -> object:
    answer = _session.post(url, data=form, timeout=TIMEOUT)
    answer.raise_for_status()
    return answer.json()


class Captcha:
    """The CAPTCHA a send must pass: ``provider`` (turnstile, hcaptcha, recaptcha) or '' for none."""

    def __init__(self, provider: str, secret: str) -> None:
        self.provider = provider
        self.configured = bool(provider)
        self._secret = secret

    def verify(self, token: object, address: str) -> None:
        """Return when CAPTCHA is off or the provider accepts ``token``; raise 400 or 503 otherwise."""
        provider = self.provider
        if not provider:
            return
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
            raise CaptchaFailedError()
        form = {"secret": self._secret, "response": token}
        if address:
            form["remoteip"] = address
        try:
            verdict = _calls.submit(_siteverify, SITEVERIFY[provider], form).result(timeout=DEADLINE)
        except (requests.RequestException, ValueError, FutureTimeout) as exc:
            log.warning("captcha check failed at %s: %s", provider, type(exc).__name__,
                        extra={"event": "captcha_unavailable", "provider": provider})
            raise CaptchaUnavailableError() from exc
        if not isinstance(verdict, dict) or verdict.get("success") is not True:
            codes = verdict.get("error-codes") if isinstance(verdict, dict) else None
            log.info("captcha refused: %s", codes, extra={"event": "captcha_failed", "provider": provider})
            raise CaptchaFailedError()
