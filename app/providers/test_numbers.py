"""Test numbers (OTP_TEST_NUMBERS): numbers an operator lists with a fixed code, for QA and app-store review.

Nothing is sent and no provider is asked. The provider holds no state of its own, so a verification of a test
number works on every worker and machine that share the store, as any other does: its checks compare the
posted code with the listed one, and the store's check cap ends it after too many wrong codes. The code is
never logged, and never printed anywhere.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping

from ..errors import VerificationExpiredError, WrongCodeError
from ..store import Pending
from . import State

# A test verification's channel in answers, the record and the token (its amr says "test").
CHANNEL = "test"


class TestNumbers:
    """The provider of listed numbers: every delivery is a no-op, every check a comparison."""

    __test__ = False  # a provider, not a test class (pytest collects names that start with Test)
    name = "test"
    resends_on_start = False
    # As many deliveries as a workflow's SMS, voice and voice: a QA loop can try the resend button.
    channels: tuple[str, ...] = (CHANNEL, CHANNEL, CHANNEL)

    def __init__(self, codes: Mapping[str, str], lifetime: int) -> None:
        self._codes = dict(codes)
        self.lifetime = lifetime

    def __contains__(self, number: object) -> bool:
        return number in self._codes

    @property
    def numbers(self) -> frozenset[str]:
        """The listed numbers (never their codes)."""
        return frozenset(self._codes)

    def start(self, number: str) -> str:
        return f"test-{secrets.token_hex(8)}"

    def check(self, verification: Pending, code: str) -> None:
        expected = self._codes.get(verification.number)
        if expected is None:
            # The number was taken off the list since its start: its code no longer verifies.
            raise VerificationExpiredError()
        if not hmac.compare_digest(expected.encode(), code.encode()):
            raise WrongCodeError()

    def resend(self, verification: Pending) -> None:
        return None

    def cancel(self, verification: Pending) -> None:
        return None

    def status(self, verification: Pending) -> State:
        # Nothing is kept here: an approval whose answer was lost is found by checking the code again.
        return State.IN_PROGRESS if verification.number in self._codes else State.ENDED
