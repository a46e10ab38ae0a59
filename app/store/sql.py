"""SqlStore: pending verifications in PostgreSQL (psycopg 3) or SQLite, through SQLAlchemy 2.

Every operation is one transaction of single statements (UPDATE ... RETURNING, DELETE ... RETURNING), so
workers and machines sharing the database never read-then-write. Expired rows are removed by a bounded
DELETE piggybacked on each new verification; every lookup also ignores them, so they are never served.
The schema belongs to Alembic (app/migrations): the store checks at startup that the database is at the
code's revision and never creates tables itself.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from gevent import Timeout, get_hub
from gevent.monkey import is_module_patched
from sqlalchemy import (
    Engine,
    case,
    delete,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from .. import phone
from ..errors import ConfigError, StoreError
from . import Pending, Record, record_of
from .sql_engine import DEADLINE, engine_for, schema_problem
from .sql_tables import Base, ClaimRow, PendingRow, RecordRow

__all__ = ["Base", "SqlStore"]

# Rows removed per sweep: a bounded cost on each write, far above the rate rows expire at.
SWEEP_ROWS = 100


_COLUMNS = (PendingRow.id, PendingRow.number, PendingRow.request_id, PendingRow.nonce, PendingRow.checks,
            PendingRow.lost, PendingRow.deliveries, PendingRow.challenge, PendingRow.provider, PendingRow.address,
            PendingRow.caller, PendingRow.created_at)
_RECORDS = (RecordRow.id, RecordRow.number_masked, RecordRow.country, RecordRow.provider, RecordRow.request_id,
            RecordRow.sends, RecordRow.checks, RecordRow.started_at, RecordRow.outcome, RecordRow.finished_at,
            RecordRow.caller)


def _pending(row: Any, busy: bool = False) -> Pending:
    """The verification a row holds."""
    return Pending(row.id, row.number, row.request_id, row.nonce, row.checks, row.deliveries,
                   unsettled=bool(row.lost), challenge=row.challenge, provider=row.provider, busy=busy,
                   address=row.address, caller=row.caller, started=row.created_at)


def _record(row: Any) -> Record:
    """The record a record row holds."""
    return Record(row.id, row.number_masked, row.country, row.provider, row.request_id, row.sends, row.checks,
                  row.started_at.timestamp(), row.outcome, row.finished_at.timestamp(), caller=row.caller)


class SqlStore:
    """Pending verifications in a SQL database, and a record of each one that ended."""

    def __init__(self, engine: Engine, *, channels: Mapping[str, Sequence[str]] | None = None, record_days: int = 0,
                 record_key: bytes = b"", clock: Callable[[], float] = time.time, timeout: float = DEADLINE) -> None:
        self._engine = engine
        # Each provider's delivery channels, for the record ('' is a verification stored before providers were).
        self._channels = {name: tuple(steps) for name, steps in (channels or {"vonage": ("sms",)}).items()}
        self._channels.setdefault("", self._channels.get("vonage", next(iter(self._channels.values()))))
        self._record_days = record_days
        self._record_key = record_key
        self._clock = clock
        # Under gevent SQLite's calls run in its thread pool (psycopg waits on sockets gevent made cooperative).
        self._offload = engine.dialect.name == "sqlite" and is_module_patched("socket")
        # A path that acknowledges and never answers (a hung proxy) is seen by no server-side timeout, and libpq
        # has no read timeout: under gevent the request's own deadline ends the wait (the pool's and a few
        # statements'), and SQLAlchemy discards the connection such an exit leaves.
        bounded = engine.dialect.name == "postgresql" and is_module_patched("socket")
        self._deadline = 2 * timeout + 1 if bounded else None

    @classmethod
    def from_url(cls, url: str, timeout: float = DEADLINE, **options: Any) -> SqlStore:
        """Connect to ``postgresql://`` or ``sqlite:///``, each operation bounded by ``timeout`` seconds;
        refuse a database behind the code's migrations."""
        engine = engine_for(url, timeout=timeout)
        problem = schema_problem(engine)
        if problem:
            engine.dispose()
            raise ConfigError(problem)
        return cls(engine, timeout=timeout, **options)

    def _run(self, work: Callable[[Any], Any]) -> Any:
        # sqlite3 waits for another writer's lock inside C (busy_timeout), where gevent cannot switch: on the
        # event loop that wait would freeze every request of the worker, /healthz included.
        return get_hub().threadpool.apply(self._transaction, (work,)) if self._offload else self._transaction(work)

    def _transaction(self, work: Callable[[Any], Any]) -> Any:
        deadline = Timeout(self._deadline)  # None: no deadline of its own
        try:
            with deadline, self._engine.begin() as connection:
                return work(connection)
        except SQLAlchemyError as exc:
            raise StoreError() from exc
        except Timeout as exc:
            if exc is not deadline:
                raise
            raise StoreError() from None

    def create(self, pending: Pending, ttl: int) -> None:
        now = self._clock()
        self._run(lambda connection: self._insert(connection, pending, now, ttl))

    def _insert(self, connection: Any, pending: Pending, now: float, ttl: int) -> None:
        # Ids are random: one already there is this very verification, written by an earlier try.
        upsert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert
        connection.execute(upsert(PendingRow).values(
            id=pending.id, number=pending.number, request_id=pending.request_id, nonce=pending.nonce,
            checks=pending.checks, lost=int(pending.unsettled), deliveries=pending.deliveries,
            challenge=pending.challenge, provider=pending.provider, address=pending.address, caller=pending.caller,
            created_at=pending.started or now, expires_at=now + ttl,
        ).on_conflict_do_nothing(index_elements=[PendingRow.id]))

    def reserve(self, pending: Pending, ttl: int) -> Pending | None:
        now = self._clock()
        upsert = pg_insert if self._engine.dialect.name == "postgresql" else sqlite_insert

        def work(connection: Any) -> Pending | None:
            # The claim's key decides between concurrent sends: PostgreSQL makes the second wait for the first's
            # commit, then finds a live claim, which it leaves alone. A claim lives and ends with its verification
            # (written, moved and deleted in the same transactions; no subquery here: PostgreSQL would read it
            # in the snapshot from before the wait, blind to the first's verification).
            claim = upsert(ClaimRow).values(number=pending.number, verification_id=pending.id, expires_at=now + ttl)
            claimed = connection.execute(claim.on_conflict_do_update(
                index_elements=[ClaimRow.number], set_={"verification_id": pending.id, "expires_at": now + ttl},
                where=or_(ClaimRow.expires_at <= now, ClaimRow.verification_id == pending.id)).returning(
                ClaimRow.verification_id)).first()
            if claimed is None:
                holder = connection.execute(select(*_COLUMNS).join(
                    ClaimRow, ClaimRow.verification_id == PendingRow.id).where(
                    ClaimRow.number == pending.number, PendingRow.expires_at > now)).first()
                # Gone between the claim and this read (it ended meanwhile): the number is still busy now.
                return _pending(holder) if holder is not None else replace(pending, busy=True)
            self._insert(connection, pending, now, ttl)
            stale = select(ClaimRow.number).where(ClaimRow.expires_at <= now).limit(SWEEP_ROWS)
            connection.execute(delete(ClaimRow).where(ClaimRow.number.in_(stale)))
            return None
        found: Pending | None = self._run(work)
        return found

    def get(self, verification_id: str) -> Pending | None:
        now = self._clock()
        row = self._run(lambda c: c.execute(select(*_COLUMNS).where(
            PendingRow.id == verification_id, PendingRow.expires_at > now)).first())
        return None if row is None else _pending(row)

    def latest(self, number: str) -> Pending | None:
        now = self._clock()
        row = self._run(lambda c: c.execute(select(*_COLUMNS).where(
            PendingRow.number == number, PendingRow.expires_at > now).order_by(
            PendingRow.created_at.desc()).limit(1)).first())
        return None if row is None else _pending(row)

    def begin_check(self, verification_id: str, check: str, hold: float, count: bool = True) -> Pending | None:
        now = self._clock()
        live = (PendingRow.id == verification_id, PendingRow.expires_at > now)

        def work(connection: Any) -> Pending | None:
            # One statement takes a free (or run-out) hold; PostgreSQL makes a concurrent one wait for this row
            # and then finds the hold taken. A hold that ran out unreleased was a check whose answer was lost.
            row = connection.execute(update(PendingRow).where(
                *live, or_(PendingRow.hold == "", PendingRow.hold_until <= now)).values(
                checks=PendingRow.checks + int(count), hold=check, hold_until=now + hold,
                lost=case((PendingRow.hold != "", 1), else_=PendingRow.lost)).returning(*_COLUMNS)).first()
            if row is not None:
                return _pending(row)
            row = connection.execute(select(*_COLUMNS).where(*live)).first()
            return None if row is None else _pending(row, busy=True)
        found: Pending | None = self._run(work)
        return found

    def settle(self, verification_id: str, check: str, lost: bool = False, uncount: bool = False) -> None:
        def work(connection: Any) -> None:
            connection.execute(update(PendingRow).where(PendingRow.id == verification_id, PendingRow.hold == check)
                               .values(hold="", checks=PendingRow.checks - int(uncount)))
            if lost:
                connection.execute(update(PendingRow).where(PendingRow.id == verification_id).values(lost=1))
        self._run(work)

    def count_delivery(self, verification_id: str, made: int) -> None:
        self._run(lambda c: c.execute(update(PendingRow).where(
            PendingRow.id == verification_id, PendingRow.deliveries < made).values(deliveries=made)))

    def move(self, pending: Pending, request_id: str, provider: str, ttl: int) -> None:
        now = self._clock()

        def work(connection: Any) -> None:
            connection.execute(update(PendingRow).where(PendingRow.id == pending.id, PendingRow.expires_at > now)
                               .values(request_id=request_id, provider=provider, deliveries=1, lost=0,
                                       expires_at=now + ttl))
            connection.execute(update(ClaimRow).where(ClaimRow.verification_id == pending.id).values(
                expires_at=now + ttl))
        self._run(work)

    def delete(self, pending: Pending, outcome: str = "") -> bool:
        now = datetime.now(UTC)

        def work(connection: Any) -> bool:
            connection.execute(delete(ClaimRow).where(ClaimRow.number == pending.number,
                                                      ClaimRow.verification_id == pending.id))
            row = connection.execute(delete(PendingRow).where(PendingRow.id == pending.id).returning(
                *_COLUMNS)).first()
            if row is None:
                if outcome == "approved" and self._record_days:
                    # A concurrent check of the same verification ended it first, with Vonage's "verified
                    # already" for its own try: the approval is what happened.
                    connection.execute(update(RecordRow).where(RecordRow.id == pending.id).values(outcome=outcome))
                return False
            if outcome:
                self._keep(connection, [_pending(row)], outcome, now)
            return True
        return bool(self._run(work))

    def _keep(self, connection: Any, ended: list[Pending], outcome: str, now: datetime) -> list[Record]:
        """Write the records of verifications that ended (where records are kept), and answer them."""
        records = [record_of(p, outcome, now.timestamp()) for p in ended]
        if self._record_days and ended:
            connection.execute(insert(RecordRow), [dict(
                id=p.id, country=phone.country(p.number), number_hash=self.number_hash(p.number),
                number_masked=phone.mask(p.number), provider=p.provider, request_id=p.request_id, caller=p.caller,
                channel=",".join(dict.fromkeys(self._channels.get(p.provider, ())[:p.deliveries])),
                sends=p.deliveries, checks=p.checks, outcome=outcome, finished_at=now,
                started_at=datetime.fromtimestamp(p.started, UTC)) for p in ended])
            old = select(RecordRow.id).where(
                RecordRow.finished_at < now - timedelta(days=self._record_days)).limit(SWEEP_ROWS)
            connection.execute(delete(RecordRow).where(RecordRow.id.in_(old)))
        return records

    def expired(self, limit: int) -> list[Record]:
        now = self._clock()

        def work(connection: Any) -> list[Record]:
            # One DELETE ... RETURNING takes each row once: a concurrent sweep skips the rows this one locked
            # (PostgreSQL) or waits for the database's lock (SQLite), then finds them gone.
            due = select(PendingRow.id).where(PendingRow.expires_at <= now).order_by(PendingRow.expires_at).limit(limit)
            if self._engine.dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            rows = connection.execute(delete(PendingRow).where(PendingRow.id.in_(due)).returning(*_COLUMNS)).all()
            ended = [_pending(row) for row in rows]
            if ended:
                connection.execute(delete(ClaimRow).where(ClaimRow.verification_id.in_([p.id for p in ended])))
            return self._keep(connection, ended, "expired", datetime.fromtimestamp(now, UTC))
        found: list[Record] = self._run(work)
        return found

    def lookup(self, key: str) -> list[Record]:
        now = self._clock()
        by_number = key.startswith("+")

        def work(connection: Any) -> list[Record]:
            live = connection.execute(select(*_COLUMNS).where(
                PendingRow.number == key if by_number else PendingRow.id == key, PendingRow.expires_at > now)).all()
            ended = connection.execute(select(*_RECORDS).where(
                RecordRow.number_hash == self.number_hash(key) if by_number else RecordRow.id == key).order_by(
                RecordRow.started_at.desc()).limit(50)).all()
            return [record_of(_pending(row)) for row in live] + [_record(row) for row in ended]
        found: list[Record] = self._run(work)
        return sorted(found, key=lambda r: r.started, reverse=True)

    def number_hash(self, number: str) -> str:
        """The keyed hash a record keeps instead of the number."""
        return hmac.new(self._record_key, number.encode(), hashlib.sha256).hexdigest()

    def ping(self) -> None:
        self._run(lambda c: c.execute(text("SELECT 1")))

    def close(self) -> None:
        self._engine.dispose()
