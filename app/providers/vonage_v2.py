"""Vonage's Verify v2 API (``/v2/verify``): JSON, HTTP statuses, Basic or JWT auth, no way to ask what
became of a request."""

from __future__ import annotations

from typing import Any

from vonage_http_client import Auth
from vonage_verify import SmsChannel, Verify, VoiceChannel, WhatsappChannel
from vonage_verify import VerifyRequest as V2Request

from ..errors import (
    ActionRefusedError,
    NumberNotSupportedError,
    OtpError,
    TooManyAttemptsError,
    VerificationExpiredError,
    VerificationInProgressError,
    WrongCodeError,
)
from ..store import Pending
from . import State
from .vonage_http import call, documented, http_client

# v2 answers with HTTP statuses whose meaning depends on the call.
STATUS: dict[str, dict[int, type[OtpError]]] = {
    "start": {409: VerificationInProgressError, 422: NumberNotSupportedError},
    "check": {400: WrongCodeError, 404: VerificationExpiredError, 410: TooManyAttemptsError},
    "next_step": {404: VerificationExpiredError, 409: ActionRefusedError},
    "cancel": {404: VerificationExpiredError, 409: ActionRefusedError},
}
_CHANNELS = {"sms": SmsChannel, "voice": VoiceChannel}


class VonageV2Provider:
    """Vonage's Verify v2 API."""

    name = "vonage"
    resends_on_start = False

    def __init__(self, *, auth: Auth, api_host: str, timeout: int, brand: str, code_length: int,
                 channel_timeout: int, workflow: tuple[str, ...], whatsapp_from: str, locale: str) -> None:
        self._client = Verify(http_client(auth, api_host, timeout))
        self._workflow = self.channels = workflow
        self._whatsapp_from = whatsapp_from
        self._request: dict[str, Any] = {"brand": brand, "code_length": code_length,
                                         "channel_timeout": channel_timeout}
        if locale:
            self._request["locale"] = locale
        # Vonage keeps the request through every channel of the workflow.
        self.lifetime = channel_timeout * len(workflow)
        self._build("14155552671")  # fail at startup, not on the first request

    def _build(self, to: str) -> V2Request:
        channels = [self._whatsapp(to) if c == "whatsapp" else _CHANNELS[c](to=to) for c in self._workflow]
        return V2Request(workflow=channels, **self._request)

    def _whatsapp(self, to: str) -> WhatsappChannel:
        # The SDK's sender check compares type(v) with an Annotated alias, which never matches, so it
        # refuses every numeric sender longer than 11 characters: real WhatsApp Business numbers. The
        # sender is checked at startup instead (app.settings) and the recipient here.
        SmsChannel(to=to)
        return WhatsappChannel.model_construct(to=to, from_=self._whatsapp_from)

    def start(self, number: str) -> str:
        request = self._build(number.lstrip("+"))
        return str(call("start", lambda: self._client.start_verification(request), STATUS["start"]).request_id)

    def check(self, verification: Pending, code: str) -> None:
        call("check", lambda: self._client.check_code(verification.request_id, code), STATUS["check"])

    # A refused next step or cancel (409) stays ActionRefusedError with its generic sentence: v2 cannot say
    # whether the code is still valid.
    def resend(self, verification: Pending) -> None:
        call("next_step", lambda: self._client.trigger_next_workflow(verification.request_id), STATUS["next_step"])
        documented("next_step", (200, 204))

    def cancel(self, verification: Pending) -> None:
        call("cancel", lambda: self._client.cancel_verification(verification.request_id), STATUS["cancel"])
        documented("cancel", (200, 204))

    def status(self, verification: Pending) -> State:
        return State.UNKNOWN  # Verify v2 offers no way to ask what became of a request
