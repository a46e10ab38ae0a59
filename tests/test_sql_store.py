"""The SQL stores: migrations, the startup check, expiry without a cron, and the verification record."""

from __future__ import annotations

import hashlib
import hmac
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import responses
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from flask.testing import FlaskClient
from sqlalchemy import inspect, text

from app.settings import ConfigError
from app.store import Pending
from app.store.sql import Base, SqlStore
from app.store.sql_engine import engine_for

from .conftest import NUMBER, SETTINGS, FakeVonage, MakeApp, empty_sql, migrate

ROOT = Path(__file__).resolve().parent.parent
RECORD_KEY = "r" * 40


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["postgresql", "sqlite"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a fresh SQLite file, or the test PostgreSQL database taken back to base."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'otp.db'}"
        return
    url = request.getfixturevalue("postgres_url")
    migrate(url, "base")
    yield url
    migrate(url, "base")


def tables(url: str) -> set[str]:
    engine = engine_for(url, pool_size=1)
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_migrations_go_from_empty_to_head_and_back(empty_db: str) -> None:
    assert tables(empty_db) == set()

    migrate(empty_db)
    assert tables(empty_db) == {"otp_pending", "otp_number_claim", "otp_verification_record"}
    engine = engine_for(empty_db, pool_size=1)
    with engine.connect() as connection:
        # The models and the migrations describe the same schema.
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []
    engine.dispose()

    migrate(empty_db, "base")
    assert tables(empty_db) == set()


def test_the_service_refuses_a_database_behind_its_migrations(empty_db: str, make_app: MakeApp) -> None:
    settings = {**SETTINGS, "OTP_STORE_URL": empty_db, "OTP_RECORD_KEY": RECORD_KEY}

    with pytest.raises(ConfigError) as exc:
        make_app(settings)

    assert "none (empty)" in str(exc.value) and "flask --app wsgi otp db-upgrade" in str(exc.value)
    assert "\n" not in str(exc.value)
    assert tables(empty_db) == set()  # nothing was created behind the migrations' back


def test_a_database_ahead_of_the_code_says_so_and_what_to_do(empty_db: str, make_app: MakeApp) -> None:
    migrate(empty_db)
    engine = engine_for(empty_db, pool_size=1)
    with engine.begin() as connection:  # as a newer version of the service would leave it
        head = connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one()
        connection.execute(text("UPDATE alembic_version SET version_num = '0099_from_the_future'"))
    try:
        with pytest.raises(ConfigError) as exc:
            make_app({**SETTINGS, "OTP_STORE_URL": empty_db, "OTP_RECORD_KEY": RECORD_KEY})
    finally:
        with engine.begin() as connection:  # so that the fixture can take the tables down
            connection.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
        engine.dispose()

    assert "0099_from_the_future, newer than this code knows" in str(exc.value)
    assert "db-downgrade" in str(exc.value) and "db-upgrade" not in str(exc.value)


def test_the_db_upgrade_command_migrates_the_store_it_is_given(empty_db: str, make_app: MakeApp) -> None:
    flask = Path(sys.executable).parent / "flask"

    done = subprocess.run([str(flask), "--app", "wsgi", "otp", "db-upgrade"], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "OTP_STORE_URL": empty_db})

    assert done.returncode == 0, done.stderr
    assert tables(empty_db) == {"otp_pending", "otp_number_claim", "otp_verification_record"}
    make_app({**SETTINGS, "OTP_STORE_URL": empty_db, "OTP_RECORD_KEY": RECORD_KEY})  # now it starts


def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path: Path) -> None:
    engine = engine_for(f"sqlite:///{tmp_path / 'otp.db'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA busy_timeout")).scalar() == 5000
    engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def db_at_head(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'otp.db'}"
        migrate(url)
        yield url
        return
    url = request.getfixturevalue("postgres_url")
    migrate(url)
    yield url
    empty_sql(url)


def test_expired_rows_are_never_served_and_each_sweep_ends_a_bounded_batch_once(db_at_head: str) -> None:
    clock = FakeClock()
    store = SqlStore(engine_for(db_at_head), clock=clock, record_days=30, record_key=RECORD_KEY.encode())
    for i in range(150):
        store.reserve(Pending(f"old-{i}", f"+1415{200 + i:03d}2671", "", address="203.0.113.9", caller="shop"), 30)
    store.move(Pending("old-0", "+14152002671", ""), "req-0", "vonage", 30)
    clock.now += 31

    assert store.get("old-0") is None and store.latest("+14152002671") is None
    assert store.begin_check("old-0", "c1", 30) is None
    # The numbers are free again at once (their claims ran out), before any sweep.
    assert store.reserve(Pending("fresh-1", "+14152002671", ""), 30) is None

    batches = [store.expired(100) for _ in range(3)]

    assert [len(b) for b in batches] == [100, 50, 0]
    [first] = [r for b in batches for r in b if r.id == "old-0"]
    assert (first.outcome, first.number, first.country, first.provider, first.request_id) == (
        "expired", "+1415*****71", "US", "vonage", "req-0")
    assert (first.address, first.caller, first.ended) == ("203.0.113.9", "shop", clock.now)
    with store._engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM otp_pending")).scalar() == 1  # fresh-1
        assert connection.execute(text(
            "SELECT COUNT(*) FROM otp_verification_record WHERE outcome = 'expired'")).scalar() == 150
    assert [r.outcome for r in store.lookup("+14152002671")] == ["", "expired"]  # fresh-1 pending, newest first
    store.close()


def record_rows(url: str) -> list[dict[str, object]]:
    engine = engine_for(url, pool_size=1)
    with engine.connect() as connection:
        rows = [dict(r._mapping) for r in connection.execute(text("SELECT * FROM otp_verification_record"))]
    engine.dispose()
    return rows


@pytest.fixture
def sql_client(db_at_head: str, settings: dict[str, str], make_app: MakeApp) -> FlaskClient:
    return make_app({**settings, "OTP_STORE_URL": db_at_head, "OTP_RECORD_KEY": RECORD_KEY,
                       "OTP_RATELIMIT_STORAGE_URL": "memory://"}).test_client()


def test_an_ended_verification_leaves_a_record_without_the_number(sql_client: FlaskClient, db_at_head: str,
                                                                  vonage: FakeVonage) -> None:
    vonage.start("ok")
    vonage.check("wrong")
    vonage.check("ok")
    vid = sql_client.post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]
    sql_client.post("/check-otp", json={"code": "000000"})
    assert sql_client.post("/check-otp", json={"code": "123456"}).status_code == 200

    [record] = record_rows(db_at_head)
    assert record["id"] == vid and record["country"] == "US" and record["outcome"] == "approved"
    assert record["channel"] == "sms" and record["sends"] == 1 and record["checks"] == 2
    assert record["number_hash"] == hmac.new(RECORD_KEY.encode(), NUMBER.encode(), hashlib.sha256).hexdigest()
    assert not any(NUMBER[2:] in str(value) for value in record.values())
    assert record["finished_at"] is not None and record["started_at"] is not None


def test_records_answer_how_many_codes_to_a_country_converted(sql_client: FlaskClient, db_at_head: str,
                                                              vonage: FakeVonage) -> None:
    vonage.start("ok")
    vonage.check("ok")
    vonage.control("cancel", "ok")
    for i in range(3):
        client = sql_client.application.test_client()
        client.post("/request-otp", json={"phoneNumber": f"+1415{200 + i:03d}2671"})
        client.post("/check-otp" if i < 2 else "/cancel-otp", json={"code": "123456"})

    engine = engine_for(db_at_head, pool_size=1)
    with engine.connect() as connection:
        week_ago = datetime.now(UTC) - timedelta(days=7)
        rows = connection.execute(text(
            "SELECT outcome, COUNT(*) FROM otp_verification_record WHERE country = 'US' AND finished_at > :since "
            "GROUP BY outcome ORDER BY outcome"), {"since": week_ago}).all()
    engine.dispose()
    assert [tuple(r) for r in rows] == [("approved", 2), ("cancelled", 1)]


def test_old_records_are_purged_and_zero_days_keeps_none(db_at_head: str, settings: dict[str, str],
                                                         vonage: FakeVonage, make_app: MakeApp) -> None:
    vonage.start("ok")
    vonage.check("ok")
    engine = engine_for(db_at_head, pool_size=1)
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO otp_verification_record (id, country, number_hash, channel, sends, checks, outcome, "
            "started_at, finished_at) VALUES ('old', 'US', 'h', 'sms', 1, 1, 'approved', :t, :t)"),
            {"t": datetime.now(UTC) - timedelta(days=31)})
    engine.dispose()
    keeping = make_app({**settings, "OTP_STORE_URL": db_at_head, "OTP_RECORD_KEY": RECORD_KEY}).test_client()
    kept = keeping.post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]
    assert keeping.post("/check-otp", json={"code": "123456"}).status_code == 200
    none = make_app({**settings, "OTP_STORE_URL": db_at_head, "OTP_RECORD_DAYS": "0"}).test_client()
    none.post("/request-otp", json={"phoneNumber": "+14152002671"})
    assert none.post("/check-otp", json={"code": "123456"}).status_code == 200

    # The 31-day-old record went with the next write; the store keeping none added none.
    assert [r["id"] for r in record_rows(db_at_head)] == [kept]


def test_a_sql_store_needs_a_record_key_unless_it_keeps_no_records(db_at_head: str, make_app: MakeApp) -> None:
    with pytest.raises(ConfigError, match="OTP_RECORD_KEY"):
        make_app({**SETTINGS, "OTP_STORE_URL": db_at_head})
    make_app({**SETTINGS, "OTP_STORE_URL": db_at_head, "OTP_RECORD_DAYS": "0"})


def test_two_threads_checking_one_verification_get_one_approval(db_at_head: str, settings: dict[str, str],
                                                                 vonage: FakeVonage, make_app: MakeApp) -> None:
    app = make_app({**settings, "OTP_STORE_URL": db_at_head, "OTP_RECORD_KEY": RECORD_KEY})
    vonage.start("ok")
    vonage.may_go_unused("whether a check sees the other in flight, and asks first, is the threads' race")
    lock, approved = threading.Lock(), []

    def vonage_checks(request: object) -> tuple[int, dict[str, str], str]:
        # Vonage approves a code once; any later check of the request hears "verified already".
        with lock:
            first = not approved
            approved.append(True)
        if vonage.api == "legacy":
            answer = ({"request_id": "req-0001", "status": "0", "event_id": "e", "price": "0.1", "currency": "EUR"}
                      if first else {"request_id": "req-0001", "status": "6", "error_text": "verified already"})
            return 200, {}, json.dumps(answer)
        if first:
            return 200, {}, json.dumps({"request_id": "req-0001", "status": "completed"})
        return 404, {}, json.dumps({"title": "Not Found"})

    def vonage_search(request: object) -> tuple[int, dict[str, str], str]:
        # A check that begins while the other is in flight sees it unsettled and asks first (legacy).
        with lock:
            state = "SUCCESS" if approved else "IN PROGRESS"
        return 200, {}, json.dumps({"request_id": "req-0001", "status": state})

    vonage.mock.add_callback(responses.POST, vonage.check_url(), callback=vonage_checks)
    vonage.mock.add_callback(responses.GET, "https://api.nexmo.com/verify/search/json", callback=vonage_search)
    vonage.may_go_unused("the second check never reaches Vonage: no search")
    vid = app.test_client().post("/request-otp", json={"phoneNumber": NUMBER}).json["verificationId"]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def check() -> None:
        client = app.test_client()
        barrier.wait()
        statuses.append(client.post("/check-otp", json={"verificationId": vid, "code": "123456"}).status_code)

    threads = [threading.Thread(target=check) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    # One check at a time goes to Vonage: the other waited for it (or came after it) and found it over.
    assert sorted(statuses) == [200, 404]
    assert [r["outcome"] for r in record_rows(db_at_head)] == ["approved"]


def test_a_record_names_the_channels_of_the_provider_that_held_the_verification(db_at_head: str) -> None:
    store = SqlStore.from_url(db_at_head, channels={"vonage": ("sms", "voice"), "twilio": ("whatsapp", "sms")},
                              record_days=30, record_key=RECORD_KEY.encode())
    try:
        for vid, provider in (("v-old", ""), ("v-vonage", "vonage"), ("v-twilio", "twilio")):
            store.create(Pending(vid, NUMBER, f"req-{vid}", provider=provider), 60)
            store.count_delivery(vid, 2)
            store.delete(Pending(vid, NUMBER, f"req-{vid}", provider=provider), "expired")
    finally:
        store.close()

    channels = {row["id"]: row["channel"] for row in record_rows(db_at_head)}
    assert channels == {"v-old": "sms,voice", "v-vonage": "sms,voice", "v-twilio": "whatsapp,sms"}


@pytest.fixture
def postgres_at_head(postgres_url: str) -> Iterator[str]:
    migrate(postgres_url)
    yield postgres_url
    empty_sql(postgres_url)


def test_postgresql_bounds_every_statement_and_lock_wait(postgres_at_head: str) -> None:
    from app.errors import StoreError

    settings = engine_for(postgres_at_head, pool_size=1)
    with settings.connect() as connection:
        shown = {name: connection.execute(text(f"SHOW {name}")).scalar() for name in (
            "statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout")}
        # libpq's tcp_user_timeout is the client socket's (SHOW tells the server's own).
        dsn = connection.connection.dbapi_connection.info.dsn  # type: ignore[union-attr]
    settings.dispose()
    assert shown == {"statement_timeout": "2s", "lock_timeout": "2s", "idle_in_transaction_session_timeout": "2s"}
    assert "tcp_user_timeout=2000" in dsn and "keepalives=1" in dsn
    shorter = engine_for(postgres_at_head, pool_size=1, timeout=0.5)  # OTP_STORE_TIMEOUT=0.5
    with shorter.connect() as connection:
        assert connection.execute(text("SHOW statement_timeout")).scalar() == "500ms"
        assert connection.execute(text("SHOW lock_timeout")).scalar() == "500ms"
        assert "tcp_user_timeout=500" in connection.connection.dbapi_connection.info.dsn  # type: ignore[union-attr]
    shorter.dispose()

    store = SqlStore.from_url(postgres_at_head)
    holder = engine_for(postgres_at_head, pool_size=1)
    lock = holder.connect()
    transaction = lock.begin()
    # A lock on the table (a migration, a long report) must not hold requests: the store answers 503.
    lock.execute(text("SET LOCAL lock_timeout = 0; SET LOCAL idle_in_transaction_session_timeout = 0"))
    lock.execute(text("LOCK TABLE otp_pending IN ACCESS EXCLUSIVE MODE"))
    release = threading.Timer(15, transaction.rollback)  # the test fails, not hangs, without the bound
    release.start()
    try:
        with pytest.raises(StoreError):
            store.create(Pending("vid-locked", NUMBER, "req-1"), 60)
        with pytest.raises(StoreError):
            store.get("vid-locked")
    finally:
        release.cancel()
        transaction.rollback()
        lock.close()
        holder.dispose()
        store.close()
