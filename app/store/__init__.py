"""Pending verifications: verification id -> number, provider request id, nonce and counters, with a TTL.

Each verification is found by its id (the handle its owner holds); a per-number index names the latest
verification of each number, so that a second request for a number can tell whether the provider's
"already in progress" is one of ours.

One module per backend family; each imports its own driver, and nothing else imports those drivers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from .. import phone
from ..errors import ConfigError


@dataclass(frozen=True)
class Pending:
    """One pending verification, as its owner's requests see it."""

    id: str
    number: str
    request_id: str
    nonce: str = ""
    checks: int = 0
    # Deliveries made so far: 1 after the first code, one more for each next step of the workflow.
    deliveries: int = 1
    # A check's outcome was never learnt (a timeout, a dropped connection, a worker killed mid-call): the
    # provider may have approved the code. Every later check asks the provider first; only a move clears it.
    unsettled: bool = False
    # The shared budget (country, prefix, ...) whose challenge the start had to solve, or '': a verification
    # started past a budget makes each of its resends solve one too.
    challenge: str = ""
    # The provider that started it (its checks, resends and cancels go there); '' for one stored before the
    # provider was recorded, which Vonage started.
    provider: str = ""
    # begin_check's answer only: another check (or a cancel) holds the verification, nothing was counted.
    busy: bool = False
    # Who started it (the client's address, the API key's name) and when (epoch seconds): its end's log
    # event names them, whatever ends it (expiry included), and a support lookup shows them.
    address: str = ""
    caller: str = ""
    # Set by the store that keeps it; not part of what a verification is (two reads compare equal).
    started: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class Record:
    """What the store knows of one verification, pending or ended, for its end's event and for a support
    lookup: never the number (masked only), the code or the nonce."""

    id: str
    number: str  # masked
    country: str
    provider: str
    request_id: str
    deliveries: int
    checks: int
    started: float
    # '' while pending; else approved, expired, too_many_attempts, cancelled.
    outcome: str = ""
    ended: float | None = None
    address: str = ""
    caller: str = ""


def record_of(pending: Pending, outcome: str = "", ended: float | None = None) -> Record:
    """The record of a verification the store holds in full."""
    return Record(pending.id, phone.mask(pending.number), phone.country(pending.number), pending.provider,
                  pending.request_id, pending.deliveries, pending.checks, pending.started, outcome, ended,
                  pending.address, pending.caller)


class Store(Protocol):
    """Pending verifications, shared by every worker that uses the same backend."""

    def create(self, pending: Pending, ttl: int) -> None:
        """Keep ``pending`` for ``ttl`` seconds and make it the latest verification of its number."""

    def reserve(self, pending: Pending, ttl: int) -> Pending | None:
        """Keep ``pending`` for ``ttl`` seconds as its number's one pending verification, unless the number
        has a live one: then return that, writing nothing. Atomic across workers (concurrent sends to one
        number reserve once), and answering the same when sent again after a lost answer."""

    def get(self, verification_id: str) -> Pending | None:
        """Return the verification with this id, or None when there is none or it has expired."""

    def latest(self, number: str) -> Pending | None:
        """Return the latest pending verification of ``number``, or None."""

    def begin_check(self, verification_id: str, check: str, hold: float, count: bool = True) -> Pending | None:
        """Hold the verification for one check named ``check`` (a random token) for at most ``hold``
        seconds, and count it (``count``: a cancel holds without counting), atomically; return it as counted.
        A hold that ran out without being released was a check whose answer was lost: the verification is
        then ``unsettled``. While another's hold is live: the verification with ``busy``, nothing counted
        or held. None when there is none."""

    def settle(self, verification_id: str, check: str, lost: bool = False, uncount: bool = False) -> None:
        """Release ``check``'s hold (nothing when another holds it now); ``lost``: its outcome is unknown,
        which makes the verification unsettled; ``uncount``: the check never reached the provider (refused
        after its hold), so its count is taken back with the hold."""

    def count_delivery(self, verification_id: str, made: int) -> None:
        """Record that delivery number ``made`` of the code went out (never fewer than before: the same
        answer when sent again)."""

    def move(self, pending: Pending, request_id: str, provider: str, ttl: int) -> None:
        """Bind the verification to a new code of ``provider`` (its first delivery, no check unsettled),
        kept ``ttl`` seconds from now, with its number's index; nothing when it is gone."""

    def delete(self, pending: Pending, outcome: str = "") -> bool:
        """Remove the verification (and the number's index when it still names it); True when removed.
        ``outcome`` (approved, expired, too_many_attempts, cancelled) goes to the record, where one is kept."""

    def expired(self, limit: int) -> list[Record]:
        """End up to ``limit`` verifications whose time ran out with no end (no check, cancel or approval):
        each is recorded as expired and answered once, to one caller of all the workers that share the store."""

    def lookup(self, key: str) -> list[Record]:
        """The verifications of ``key``, a verification id or an E.164 number, pending and ended (as long as
        records are kept), newest first."""

    def ping(self) -> None:
        """Raise StoreError unless the backend answers."""

    def close(self) -> None:
        """Release the backend's connections (the gunicorn master checks a store, then lets it go)."""


# OTP_STORE_URL's scheme -> the backend module that keeps the verifications.
BACKENDS = {"memory": "memory", "redis": "redis", "rediss": "redis", "redis+sentinel": "redis",
            "redis+cluster": "redis", "postgresql": "sql", "postgres": "sql", "sqlite": "sql"}


def backend_of(url: str) -> str | None:
    """The backend module a store URL names (memory, redis, sql), or None."""
    return BACKENDS.get(url.split("://", 1)[0].lower()) if "://" in url else None


def store_from_url(url: str, *, channels: Mapping[str, Sequence[str]] | None = None, record_days: int = 0,
                   record_key: str = "", timeout: float = 2) -> Store:
    """Build the backend the URL's scheme names, each operation bounded by ``timeout`` seconds; an unknown
    scheme, or a database behind the code's migrations, fails at startup."""
    backend = backend_of(url)
    if backend == "memory":
        from .memory import MemoryStore

        return MemoryStore(record_days=record_days)
    if backend == "redis":
        from .redis import RedisStore

        return RedisStore.from_url(url, timeout=timeout, record_days=record_days, record_key=record_key.encode())
    if backend == "sql":
        from .sql import SqlStore

        return SqlStore.from_url(url, timeout, channels=channels, record_days=record_days,
                                 record_key=record_key.encode())
    raise ConfigError(f"OTP_STORE_URL must start with one of {', '.join(f'{s}://' for s in BACKENDS)}")
