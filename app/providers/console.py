"""The console provider: makes the code itself and writes it to the log instead of sending an SMS
(development only), with Vonage's rules (three wrong codes end it, one delivery per workflow step)."""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .. import phone
from ..errors import (
    ActionRefusedError,
    TooManyAttemptsError,
    VerificationExpiredError,
    VerificationInProgressError,
    WrongCodeError,
)
from ..store import Pending
from . import NO_DELIVERY_LEFT, State

MAX_WRONG_CODES = 3


@dataclass
class _Code:
    number: str
    code: str
    expires_at: float
    wrong: int = 0
    deliveries: int = 1
    approved: bool = False


class ConsoleProvider:
    """Codes in this process's memory, printed to the ``app.console`` log."""

    name = "console"
    resends_on_start = False

    def __init__(self, *, code_length: int, pin_expiry: int, channels: Sequence[str] = ("sms", "voice", "voice"),
                 clock: Callable[[], float] = time.monotonic, out: logging.Logger | None = None) -> None:
        self._code_length = code_length
        # One delivery per step of the workflow it stands in for.
        self.channels = tuple(channels)
        self._deliveries = len(self.channels)
        self.lifetime = pin_expiry
        self._clock = clock
        self._out = out or logging.getLogger("app.console")
        self._codes: dict[str, _Code] = {}
        self._lock = threading.Lock()

    def _print(self, code: _Code) -> None:
        # The code is the point of this line (development only); the number is masked as everywhere.
        self._out.warning("CONSOLE PROVIDER (no SMS sent): code for %s is %s, valid %d s", phone.mask(code.number),
                          code.code, max(0, int(code.expires_at - self._clock())))

    def _live(self, request_id: str) -> _Code:
        code = self._codes.get(request_id)
        if code is None or code.approved or code.expires_at <= self._clock():
            raise VerificationExpiredError()
        return code

    def start(self, number: str) -> str:
        with self._lock:
            now = self._clock()
            self._codes = {rid: c for rid, c in self._codes.items() if c.expires_at > now}
            for rid, code in self._codes.items():
                if code.number == number and not code.approved:
                    raise VerificationInProgressError(rid)
            request_id = secrets.token_hex(16)
            digits = f"{secrets.randbelow(10 ** self._code_length):0{self._code_length}d}"
            code = self._codes[request_id] = _Code(number, digits, now + self.lifetime)
        self._print(code)
        return request_id

    def check(self, verification: Pending, code: str) -> None:
        with self._lock:
            pending = self._live(verification.request_id)
            if hmac.compare_digest(pending.code, code):
                pending.approved = True  # kept until it expires, so that status() can tell
                return
            pending.wrong += 1
            if pending.wrong >= MAX_WRONG_CODES:
                del self._codes[verification.request_id]
                raise TooManyAttemptsError()
            raise WrongCodeError()

    def resend(self, verification: Pending) -> None:
        with self._lock:
            pending = self._live(verification.request_id)
            refused = pending.deliveries >= self._deliveries
            if not refused:
                pending.deliveries += 1
        if refused:
            raise ActionRefusedError(NO_DELIVERY_LEFT)  # every step of the workflow was delivered
        self._print(pending)

    def cancel(self, verification: Pending) -> None:
        with self._lock:
            self._live(verification.request_id)
            del self._codes[verification.request_id]

    def status(self, verification: Pending) -> State:
        with self._lock:
            code = self._codes.get(verification.request_id)
            if code is not None and code.approved:
                return State.APPROVED
            return State.ENDED if code is None or code.expires_at <= self._clock() else State.IN_PROGRESS
