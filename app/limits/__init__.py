"""Rate limits on `limits`' moving windows (per client, per API key, the checks of a number, the resend
cooldown) and on slots a send can give back (a number's sends, the shared budgets: app.limits.budgets).

One ``Limits`` per app (``app.extensions``), over the storage its settings name, so two apps in one
process never share counts. Every request is counted against its caller's windows; a send is held to its
cooldown and its number's and budgets' slots around the provider call (``send_budget``). What one request
counts is counted in one round trip where the storage is one Redis (app.limits.redis).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, NamedTuple, TypeVar

from limits import RateLimitItem, RateLimitItemPerSecond, parse_many
from limits.errors import StorageError as LimitStorageError
from limits.storage import MovingWindowSupport, RedisClusterStorage, RedisStorage, Storage, storage_from_string

from .. import phone
from ..callers import Caller, network
from ..errors import ChallengeRequiredError, OtpError, RateLimitedError, StoreError
from ..metrics import CHALLENGES, DELIVERIES
from ..settings import Settings
from .budgets import BUDGET_PREFIX, Budget, Full, Send, budgets_for
from .scopes import BUDGET_NAMES, LIMIT_NAMES, SETTINGS, VELOCITY_SCOPES

log = logging.getLogger(__name__)
T = TypeVar("T")

KEY_PREFIX = "otp"
SOLUTION_REFUSED = ("The challenge's solution was not accepted (it expired, or was used already). Please solve a "
                    "new one, then ask again.")


class Window(NamedTuple):
    """One limit on one key: what limits' moving-window storage counts."""

    scope: str
    item: RateLimitItem
    key: str


class Limits:
    """The windows of every request, counted in one storage; StoreError when the storage fails (closed)."""

    def __init__(self, storage: Storage, settings: Settings) -> None:
        assert isinstance(storage, MovingWindowSupport)  # a cooldown of "1 per 30 seconds" needs exact windows
        self.storage = storage
        self.budgets = budgets_for(storage)
        self.enabled = bool(settings.OTP_RATELIMIT_ENABLED)
        self._items = {scope: tuple(parse_many(getattr(settings, name))) for scope, name in SETTINGS.items()}
        self.cooldown = int(settings.OTP_RESEND_COOLDOWN)
        self._cooldown = RateLimitItemPerSecond(1, self.cooldown) if self.cooldown else None

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        """Limits over OTP_RATELIMIT_STORAGE_URL (the store's Redis by default), failing closed."""
        from .redis import storage_options

        url = settings.OTP_RATELIMIT_STORAGE_URL
        # Storage faults surface as limits' StorageError, answered 503: no silent "unlimited SMS".
        storage = storage_from_string(url, wrap_exceptions=True, **storage_options(url, settings.OTP_STORE_TIMEOUT))
        assert isinstance(storage, Storage)  # the settings refuse async storage schemes
        return cls(storage, settings)

    def ping(self) -> None:
        """Raise StoreError unless the storage answers (limits' own health check, bounded by its timeout)."""
        if not self.storage.check():
            log.error("rate-limit storage unavailable: its health check failed")
            raise StoreError()

    def close(self) -> None:
        """Release the storage's connections (a Redis storage's pool)."""
        if isinstance(self.storage, RedisStorage):
            from .redis import close

            close(self.storage)

    def _windows(self, scope: str, key: str) -> list[Window]:
        return [Window(scope, item, item.key_for(KEY_PREFIX, key, scope)) for item in self._items[scope]]

    def _caller(self, scope: str, caller: Caller) -> list[Window]:
        """Per client (``scope``), and per API key for backend callers."""
        windows = self._windows(scope, caller.key)
        if caller.api_key:
            windows += self._windows("api-key", caller.api_key)
        return windows

    def _destination(self, caller: Caller, number: str) -> list[Budget]:
        """Per number and client, and per number: what bounds the SMS one person gets. Slots as the budgets',
        taken in their step: of two sends racing for a number's last slot only one goes out."""
        return self._slots({"send-number": f"{number}|{caller.key}", "send-number-total": number}, hard=True)

    def _budgets(self, caller: Caller, number: str) -> list[Budget]:
        """The shared budgets of a send: its destination's country, its block of 10,000 numbers (as pumping
        rotates through), its caller's network, all destinations together, and the spend cap."""
        return self._slots({"send-country": phone.country(number), "send-prefix": number[:-4],
                            "send-network": network(caller.address), "send-global": "all", "send-spend-cap": "all"})

    def _slots(self, keys: dict[str, str], hard: bool = False) -> list[Budget]:
        """A Budget for each limit of each scope in ``keys`` (scope -> its key); the spend cap is always hard."""
        return [Budget(scope, f"{BUDGET_PREFIX}{scope}:{key}:{item.amount}/{item.get_expiry()}", item.amount,
                       item.get_expiry(), str(item), hard=hard or scope == "send-spend-cap")
                for scope, key in keys.items() for item in self._items[scope]]

    def count_send(self, caller: Caller) -> None:
        """Count a request to a route that sends a code and ended before its send (a bad number, nothing to
        resend): 429 when its caller is past a limit, whatever else was wrong."""
        if self.enabled:
            self._count(self._caller("send-ip", caller), "")

    def count_refusal(self, caller: Caller) -> tuple[int, int]:
        """Count a request refused for its caller (no valid API key, a foreign Origin): 429 past the limit,
        else how many this client had refused in the window so far, and how many it may have."""
        if not self.enabled:
            return 1, 0
        windows = self._windows("refused-ip", caller.key)
        self._refuse_past(windows, self._moving_windows([], windows)[1], "")
        _, count = self._moving_windows(windows[:1], [])[0][0]
        return count, windows[0].item.amount

    def count_check(self, caller: Caller, number: str) -> None:
        """Count a check or cancel against its caller's limits and, for a caller who holds a verification,
        its number's (``number``; '' for a caller who names none), in one round trip: 429 past any."""
        if self.enabled:
            windows = self._caller("check-ip", caller)
            if number:
                windows += self._windows("check-number", number)
            self._count(windows, number)

    @contextmanager
    def send_budget(self, caller: Caller, number: str, delivery: str) -> Iterator[Send]:
        """Hold a send to ``number`` to its caller's and its destination's limits, its cooldown and budgets.

        Before the send, in one round trip: the request is counted against its caller's limits, its resend
        cooldown is taken in one atomic step (of two sends racing to one number only one goes out; the other
        is answered 429), and ``delivery``'s slots in the number's limits and in the shared budgets are taken
        in another (on one Redis in the same round trip; none past a full number limit). Past one limit,
        nothing is sent (429) and the slots are given back. Then the caller settles the budgets
        (``Send.take_budgets``: a proof past a full one). A send that raised gives the cooldown back and gives
        its slots back unless the provider may have sent (a timeout), so a stranger's refused requests cannot
        use up the owner's limits; one that delivered a code keeps them: the number's until their windows
        pass, the budgets' until its code is verified (``converted``).
        """
        if not self.enabled:
            yield Send(None, caller, number, delivery)
            return
        callers = self._caller("send-ip", caller)
        cooldown = (Window("send-cooldown", self._cooldown,
                           self._cooldown.key_for(KEY_PREFIX, "send-cooldown", number)) if self._cooldown else None)
        slots = [*self._destination(caller, number), *self._budgets(caller, number)]
        _, taken, full = self._moving_windows([], [*callers, *([cooldown] if cooldown else [])], slots, delivery)
        send = Send(self, caller, number, delivery, slots, full)
        try:
            self._refuse_past(callers, taken[:len(callers)], number)
            if cooldown:
                self._refuse_past([cooldown], taken[len(callers):], number)
            self._refuse_crowded(full, number)
            yield send
        except BaseException as exc:
            if cooldown and taken[-1]:
                self._clear(cooldown.key)
            if send.budgets and not (isinstance(exc, OtpError) and exc.may_have_sent):
                self._budget_call(self.budgets.give_back, send.budgets, [delivery])
                DELIVERIES.labels("unsent", phone.country(number)).inc()
            elif send.held():
                self._budget_call(self.budgets.give_back, slots, [delivery])  # refused before its budgets
            raise
        if not send.budgets:
            # Every send takes its budgets before the provider call; one that went out without is a bug.
            log.error("a send went out without taking its budget slots")

    def _refuse_crowded(self, full: Full, number: str) -> None:
        """Answer 429 when one of the number's own limits (not a shared budget) had no slot left."""
        if crowded := [(frees, b.scope, b.text) for b, frees in full if b.scope not in BUDGET_NAMES]:
            raise self._too_many(crowded, number)

    def take_budgets(self, send: Send, proof: Callable[[], bool | None],
                     required: str = "") -> tuple[list[Budget], str]:
        """Settle ``send``'s slots in its number's limits and in every shared budget of its destination and
        caller's network, which ``send_budget`` took in one atomic step unless one was full. Past a soft
        budget (or whatever their room, when ``required`` names one) the send needs ``proof()`` (True: a
        solved challenge, a CAPTCHA; False: a solution refused; None: none offered): without it, 428
        challenge_required; with it, the slots are taken anyway. Past the spend cap, 429 whatever was proved.
        Answers the slots taken and the name of the budget the send had to prove itself past ('' for none)."""
        budgets, number, full = send.wanted, send.number, send.full
        name = required
        if required or (full and not any(b.hard for b, _ in full)):
            if not name:
                budget = max(full, key=lambda pair: pair[1])[0]
                name = BUDGET_NAMES[budget.scope]
                self._crossed(budget, number)
            country, proved = phone.country(number), proof()
            if not proved:
                CHALLENGES.labels(name, "asked" if proved is None else "failed", country).inc()
                raise ChallengeRequiredError(name, None if proved is None else SOLUTION_REFUSED)
            CHALLENGES.labels(name, "solved", country).inc()
            if full:
                full = self._budget_call(self.budgets.take, budgets, send.delivery, True)
                self._refuse_crowded(full, number)  # the number's last slot went to another send meanwhile
        if full:
            hard = [(frees, b) for b, frees in full if b.hard]
            self._crossed(hard[0][1], number)
            raise self._too_many([(frees, b.scope, b.text) for frees, b in hard], number, quiet=True)
        DELIVERIES.labels("taken", phone.country(number)).inc()
        return budgets, name

    def _crossed(self, budget: Budget, number: str) -> None:
        """Log that a destination crossed a budget, once per budget and window (not once per send past it)."""
        try:
            first = self.storage.incr(f"{KEY_PREFIX}/crossed/{budget.key}", budget.seconds) == 1
        except LimitStorageError:
            first = True  # the line matters more than its count
        if first:
            _breached(budget.scope, budget.text, number)

    def converted(self, caller: Caller, number: str, deliveries: Sequence[str]) -> None:
        """Give back the budget slots of a verified code's ``deliveries``: a code typed back is no pumping.
        A storage fault costs the slots (they expire with their window), never the person's approval."""
        if not self.enabled:
            return
        try:
            self._budget_call(self.budgets.give_back, self._budgets(caller, number), deliveries)
            DELIVERIES.labels("converted", phone.country(number)).inc(len(deliveries))
        except StoreError:
            log.error("could not give back the budget slots of a verified code")

    def _budget_call(self, method: Callable[..., T], *args: Any) -> T:
        try:
            return method(*args)
        except LimitStorageError as exc:
            raise _storage_down(exc) from exc

    def _count(self, windows: Sequence[Window], number: str) -> None:
        """Count a request in each window, in one round trip; 429 when one had no room left."""
        self._refuse_past(windows, self._moving_windows([], windows)[1], number)

    def _refuse_past(self, windows: Sequence[Window], taken: Sequence[bool], number: str) -> None:
        """Answer 429 when a window had no room left for the entry it was asked for."""
        if full := [w for w, ok in zip(windows, taken, strict=True) if not ok]:
            starts = self._moving_windows(full, [])[0]
            raise self._too_many([(start + w.item.get_expiry(), w.scope, str(w.item))
                                  for w, (start, _) in zip(full, starts, strict=True)], number)

    def _too_many(self, full: Sequence[tuple[float, str, str]], number: str, quiet: bool = False) -> RateLimitedError:
        """The 429 for full windows or budgets, each as (when it frees a slot, its scope, its limit): the wait
        is the longest of them. ``quiet``: the line was logged once for its window already."""
        reset, scope, limit = max(full)
        if not quiet:
            _breached(scope, limit, number)
        return RateLimitedError(max(1, math.ceil(reset - time.time())), scope, LIMIT_NAMES[scope])

    def _clear(self, key: str) -> None:
        try:
            self.storage.clear(key)
        except LimitStorageError as exc:
            raise _storage_down(exc) from exc

    def _moving_windows(self, read: Sequence[Window], take: Sequence[Window], budgets: Sequence[Budget] = (),
                        member: str = "") -> tuple[list[tuple[float, int]], list[bool], Full]:
        """The (start, count) of each window in ``read``, whether an entry was acquired in each of ``take``,
        and then ``member``'s slots taken in ``budgets`` (their full ones, as ``BudgetStore.take`` answers
        them): on one Redis in one round trip."""
        storage = self.storage
        try:
            if isinstance(storage, RedisStorage) and not isinstance(storage, RedisClusterStorage):
                from .redis import RedisBudgets, moving_windows

                assert isinstance(self.budgets, RedisBudgets)
                return moving_windows(storage, read, take, (self.budgets, budgets, member) if budgets else None)
            # Memory, and a Cluster, whose keys live on several nodes: one window at a time.
            assert isinstance(storage, MovingWindowSupport)
            return ([storage.get_moving_window(w.key, w.item.amount, w.item.get_expiry()) for w in read],
                    [storage.acquire_entry(w.key, w.item.amount, w.item.get_expiry()) for w in take],
                    self.budgets.take(budgets, member) if budgets else [])
        except LimitStorageError as exc:
            raise _storage_down(exc) from exc


def _storage_down(exc: LimitStorageError) -> StoreError:
    log.error("rate-limit storage unavailable: %s", type(exc.storage_error).__name__)
    return StoreError()


def _breached(scope: str, limit: str, number: str) -> None:
    if scope == "refused-ip":
        return  # sampled by the web's guard: one line when a client reaches the limit, none per 429
    if scope in VELOCITY_SCOPES and number:
        # Country and prefix only: enough to find a pumping campaign, not who was targeted.
        country, prefix = phone.country(number), phone.mask(number[:-4])
        log.warning("send limit %s hit (%s) for %s, prefix %s", limit, scope, country, prefix,
                    extra={"event": "velocity_limited", "limit": limit, "scope": scope, "country": country,
                           "prefix": prefix})
    else:
        log.info("rate limit hit: %s (%s)", limit, scope, extra={"event": "rate_limited", "limit": limit,
                                                                  "scope": scope})
