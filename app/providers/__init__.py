"""Verification providers: one interface, one module per provider, each translating its own failures.

A provider delivers and checks codes; the lifecycle (app.lifecycle) owns attempts, binding and approval.
Every verb but ``start`` takes the stored verification (its number and the provider's request id), so a
provider that resends by number can. Failures are the service's errors (app.errors), raised complete:
each says whether the provider may have acted (``may_have_sent``), and a refused resend or cancel already
says whether the verification is over (VerificationExpiredError) or only refused now (ActionRefusedError).
``providers_from_settings`` (app.providers.registry) builds the provider the settings name.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Protocol

from ..errors import ActionRefusedError, OtpError, VerificationApprovedError, VerificationExpiredError
from ..store import Pending


class State(enum.Enum):
    """What became of a verification at its provider."""

    APPROVED = "approved"
    IN_PROGRESS = "in_progress"
    ENDED = "ended"  # failed, expired, cancelled, or unknown to the provider
    UNKNOWN = "unknown"  # the provider cannot say


class Provider(Protocol):
    """The verbs the lifecycle needs from a provider."""

    name: str
    # Seconds a verification lives at the provider, through every delivery of its workflow.
    lifetime: int
    # Whether a start to a number with a pending verification sends that one's code again (instead of
    # being refused with VerificationInProgressError): the lifecycle then looks for its own first.
    resends_on_start: bool
    # The channels of its delivery steps in this service's words (sms, voice, whatsapp), in order.
    channels: tuple[str, ...]

    def start(self, number: str) -> str:
        """Send a code to ``number`` (E.164, with '+') and return the provider's request id.

        VerificationInProgressError carries the request id of the one already in progress, when known.
        """

    def check(self, verification: Pending, code: str) -> None:
        """Return when ``code`` is right; raise WrongCodeError, TooManyAttemptsError,
        VerificationExpiredError or a fault otherwise."""

    def resend(self, verification: Pending) -> None:
        """Deliver the code again by the next step of the workflow (e.g. a voice call after the SMS)."""

    def cancel(self, verification: Pending) -> None:
        """End the verification at the provider."""

    def status(self, verification: Pending) -> State:
        """What became of the verification (State.UNKNOWN when the provider cannot say)."""


def channel_of(channels: Sequence[str], made: int) -> str:
    """The channel delivery number ``made`` travels by: the workflow's step, the last one past its end."""
    return channels[min(max(made, 1), len(channels)) - 1]


# The sentences of a refused resend or cancel while the code is still valid; a provider with timing rules
# of its own words its own.
NO_DELIVERY_LEFT = "No further delivery is possible for this code: enter it, or request a new one when it expires."
ALREADY_OVER = "This verification is already over: its code was used or has expired. Please request a new code."


def refusal(state: State, still_valid: str) -> OtpError:
    """The error for a resend or cancel the provider refused, given what became of the verification:
    approved (by a check whose answer was lost, or one still under way) is 409 VerificationApprovedError,
    which keeps it for the next check; over (expired, ended) is 410; still in progress, 409 with
    ``still_valid``; unknown, a 409 that promises nothing about the code."""
    if state is State.APPROVED:
        return VerificationApprovedError()
    if state is State.ENDED:
        return VerificationExpiredError(ALREADY_OVER)
    return ActionRefusedError(still_valid if state is State.IN_PROGRESS else None)
