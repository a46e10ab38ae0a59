"""What the lifecycle answers: typed results, and the CAPTCHA it is given."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ..errors import OtpError
from ..providers import channel_of
from ..store import Pending


class HumanCheck(Protocol):
    """The CAPTCHA a send must pass (app.captcha)."""

    configured: bool

    def verify(self, token: object, address: str) -> None:
        """Return when ``token`` proves a human (or no CAPTCHA is configured); raise an OtpError otherwise."""


class ProofOfWork(Protocol):
    """The challenge a send must solve past a shared budget (app.challenge)."""

    def redeem(self, solution: object) -> bool | None:
        """True, once, for a valid solution; None for none; False for an invalid or expired one, or a replay."""


@dataclass(frozen=True)
class Delivery:
    """How delivery number ``made`` travelled, what the next one would use (None: no step left) and when
    one may be asked for, so that a page can say "the next code comes by a voice call"."""

    channel: str
    next_channel: str | None
    resend_in: int

    @classmethod
    def of(cls, channels: Sequence[str], made: int, resend_in: int) -> Delivery:
        """Delivery number ``made`` of a provider whose steps go by ``channels``."""
        return cls(channel_of(channels, made), channels[made] if made < len(channels) else None, resend_in)


@dataclass(frozen=True)
class Started:
    verification: Pending
    delivery: Delivery
    expires_in: int


@dataclass(frozen=True)
class Resent:
    verification: Pending
    delivery: Delivery
    # Set when the verification moved to another provider: a new code, valid this long (the old one is void).
    expires_in: int | None = None


@dataclass(frozen=True)
class Approved:
    verification: Pending
    # The channels the code travelled by, for the token's amr.
    channels: tuple[str, ...]


def ended(error: OtpError, verification: Pending) -> OtpError:
    """Mark ``error`` as the end of ``verification`` (its cookie is cleared), and return it."""
    error.ended = verification.id
    return error


def delivery(verification_id: str, made: int) -> str:
    """The name of a verification's delivery number ``made``: its slot in the send budgets."""
    return f"{verification_id}#{made}"
