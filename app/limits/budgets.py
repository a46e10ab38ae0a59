"""Budgets of unconverted deliveries: what a country, a block of 10,000 numbers or all destinations together may
be sent while their codes are not typed back.

A delivery takes a slot in each budget of its destination before the provider is asked, in one atomic step
for all of them (sends racing each other cannot overshoot); the slots are given back when the provider
certainly sent nothing, and when the code is verified: people type their codes back, pumpers never do.
A slot is the delivery's own member (``<verification id>#<delivery>``) in a set scored by the time it was
taken, so giving it back removes exactly it. `limits` counts entries it cannot take back one by one, so
budgets keep sets of their own, in the same storage as the limits. A number's own send limits are kept
the same way (hard budgets: never past a full one), taken in the same step, and kept when the code is
verified: they bound what one person receives, not what goes unconverted.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from limits.storage import MemoryStorage, RedisStorage, Storage

from ..callers import Caller
from ..errors import ConfigError


@dataclass(frozen=True)
class Budget:
    """``limit`` unconverted deliveries per ``seconds`` for one destination of one scope."""

    scope: str
    key: str
    limit: int
    seconds: int
    text: str = ""  # the setting's words for it, for the log: "200 per 1 hour"
    # A hard budget (the spend cap) refuses even a send that proved itself; a soft one asks for a proof.
    hard: bool = False


# The full budgets that stopped a take, each with the time its oldest slot frees: empty when it took them.
Full = list[tuple[Budget, float]]


class BudgetStore(Protocol):
    def take(self, budgets: Sequence[Budget], member: str, force: bool = False) -> Full:
        """Take a slot for ``member`` in every budget, or in none; ``force`` takes them in full soft budgets
        too (never past a full hard one). Answers the full budgets that stopped it, each with the time its
        oldest slot frees: empty when the slots were taken."""

    def give_back(self, budgets: Sequence[Budget], members: Sequence[str]) -> None:
        """Give back the slots of ``members`` in every budget (a slot already expired is nothing to give)."""


class MemoryBudgets:
    """Slots in this process's memory, behind a lock (one process: the dev server or a single worker)."""

    def __init__(self) -> None:
        self._slots: dict[str, dict[str, float]] = {}
        self._lock = threading.Lock()

    def _live(self, budget: Budget, now: float) -> dict[str, float]:
        slots = self._slots.setdefault(budget.key, {})
        for member in [m for m, taken in slots.items() if taken <= now - budget.seconds]:
            del slots[member]
        return slots

    def take(self, budgets: Sequence[Budget], member: str, force: bool = False) -> Full:
        with self._lock:
            now = time.time()
            full = [(b, min(slots.values()) + b.seconds) for b in budgets
                    if len(slots := self._live(b, now)) >= b.limit]
            if any(b.hard for b, _ in full) or (full and not force):
                return full
            for budget in budgets:
                self._slots[budget.key][member] = now
            return []

    def give_back(self, budgets: Sequence[Budget], members: Sequence[str]) -> None:
        with self._lock:
            for budget in budgets:
                for member in members:
                    self._slots.get(budget.key, {}).pop(member, None)


class Taker(Protocol):
    def take_budgets(self, send: Send, proof: Callable[[], bool | None],
                     required: str = "") -> tuple[list[Budget], str]:
        """Take a send's budget slots (app.limits.Limits)."""


class Send:
    """One send held by ``Limits.send_budget`` (app.limits): its budgets are settled between the limits and
    the provider call."""

    def __init__(self, limits: Taker | None, caller: Caller, number: str, delivery: str,
                 wanted: Sequence[Budget] = (), full: Sequence[tuple[Budget, float]] = ()) -> None:
        self._limits, self.caller, self.number, self.delivery = limits, caller, number, delivery
        # The budgets of this delivery, and the full ones that stopped the take of their slots beside the
        # limits (none: the slots were taken).
        self.wanted, self.full = list(wanted), list(full)
        self.budgets: list[Budget] = []
        # The budget past which this send had to prove itself ('' when it had not).
        self.challenge = ""

    def held(self) -> bool:
        """Whether this send's slots were taken beside the limits and no ``take_budgets`` settled them yet."""
        return bool(self.wanted) and not self.full and not self.budgets

    def take_budgets(self, proof: Callable[[], bool | None], required: str = "") -> None:
        """Settle this send's budget slots (``Limits.take_budgets``); nothing to take with the limits off.
        ``required`` (a budget's name) asks for ``proof`` whatever the budgets' room."""
        if self._limits is not None:
            self.budgets, self.challenge = self._limits.take_budgets(self, proof, required)


# One hash tag for every budget key: in a Cluster they live on one node, where one script can take them all.
BUDGET_PREFIX = "otp:budget:{budgets}:"


def budgets_for(storage: Storage) -> BudgetStore:
    """The budgets beside a limits storage: in memory beside memory, in Redis beside Redis."""
    if isinstance(storage, MemoryStorage):
        return MemoryBudgets()
    if isinstance(storage, RedisStorage):
        from .redis import RedisBudgets

        return RedisBudgets(storage.get_connection())
    raise ConfigError("OTP_RATELIMIT_STORAGE_URL must be memory:// or a Redis (redis://, rediss://, "
                      "redis+sentinel://, redis+cluster://): the send budgets keep their slots there")
