"""The proof-of-work challenge a send must solve past a shared budget: ALTCHA, with no third-party account.

``new()`` answers a challenge as the ALTCHA widget fetches it (signed with the service's key, expiring);
``redeem()`` takes the solution the client posts (the widget's base64 payload) once: a solution is valid
until its challenge expires, and a second use of it is refused. Spent solutions are remembered in the
limits storage, so every worker and machine refuses a replay.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import json
import logging
from typing import Any, cast

from altcha.v1 import ChallengeOptions, create_challenge, verify_solution
from limits.errors import StorageError as LimitStorageError
from limits.storage import Storage

from .errors import StoreError

log = logging.getLogger(__name__)

# A solution is a small base64 JSON object; anything longer is not one.
MAX_SOLUTION_LENGTH = 2048
SPENT_PREFIX = "otp/challenge-spent/"


class Challenges:
    """Challenges signed with ``key``: ``difficulty`` is ALTCHA's maxnumber (the client tries on average half of
    it), and each lives ``ttl`` seconds."""

    def __init__(self, key: bytes, difficulty: int, spent: Storage, ttl: int = 600) -> None:
        self._key = key
        self.difficulty = difficulty
        self._spent = spent
        self._ttl = ttl

    def new(self) -> dict[str, Any]:
        """A fresh challenge, as the ALTCHA widget reads it from its challenge URL."""
        expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=self._ttl)
        challenge = create_challenge(ChallengeOptions(hmac_key=self._key, max_number=self.difficulty, expires=expires))
        return dict(challenge.to_dict())

    def redeem(self, solution: object) -> bool | None:
        """True, once, for a solution of a challenge of ours that has not expired; None when there is none;
        False otherwise."""
        if solution is None or solution == "":
            return None
        if not isinstance(solution, str) or len(solution) > MAX_SOLUTION_LENGTH:
            return False
        try:
            payload = json.loads(base64.b64decode(solution, validate=True))
        except (binascii.Error, ValueError):
            return False
        if not isinstance(payload, dict) or not isinstance(payload.get("number"), int):
            return False
        valid, _ = verify_solution(cast(Any, payload), self._key, check_expires=True)
        if not valid:
            return False
        try:
            # The first redemption counts 1; a replay, while the challenge could still be valid, more.
            return self._spent.incr(SPENT_PREFIX + str(payload["challenge"]), self._ttl) == 1
        except LimitStorageError as exc:
            log.error("challenge storage unavailable: %s", type(exc.storage_error).__name__)
            raise StoreError() from exc
