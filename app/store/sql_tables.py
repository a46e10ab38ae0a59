"""The SQL store's tables, as SQLAlchemy declares them; their schema changes only through app/migrations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Float, Index, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """The service's tables; their schema changes only through app/migrations."""


class PendingRow(Base):
    """A pending verification. Times are epoch seconds of the service's clock (NTP-synchronised)."""

    __tablename__ = "otp_pending"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    number: Mapped[str] = mapped_column(String(20))
    request_id: Mapped[str] = mapped_column(String(64))
    nonce: Mapped[str] = mapped_column(String(128), default="")
    checks: Mapped[int] = mapped_column(Integer, default=0)
    # The check holding the verification ('' for none) and until when; 1 in ``lost`` once a check's outcome
    # was lost (its answer timed out, or its hold ran out unreleased).
    hold: Mapped[str] = mapped_column(String(32), default="", server_default="")
    hold_until: Mapped[float] = mapped_column(Float(53), default=0.0, server_default="0")
    lost: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    deliveries: Mapped[int] = mapped_column(Integer, default=1)
    # The budget whose challenge the start solved ('' for none): its resends solve one too.
    challenge: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # The provider that started it ('' for a verification stored before 0003: Vonage's).
    provider: Mapped[str] = mapped_column(String(16), default="", server_default="")
    # Who started it: the client's address and the API key's name (its end's log event names them).
    address: Mapped[str] = mapped_column(String(64), default="", server_default="")
    caller: Mapped[str] = mapped_column(String(64), default="", server_default="")
    created_at: Mapped[float] = mapped_column(Float(53))
    expires_at: Mapped[float] = mapped_column(Float(53))

    __table_args__ = (
        # The per-number index: a number's latest verification, and the lookups that skip expired rows.
        Index("ix_otp_pending_number_created", "number", "created_at"),
        Index("ix_otp_pending_expires", "expires_at"),
    )


class ClaimRow(Base):
    """A number's one pending verification: written with it, before the provider is asked, so that
    concurrent sends to one number start one verification (the primary key decides)."""

    __tablename__ = "otp_number_claim"

    number: Mapped[str] = mapped_column(String(20), primary_key=True)
    verification_id: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[float] = mapped_column(Float(53))

    __table_args__ = (Index("ix_otp_number_claim_expires", "expires_at"),)


class RecordRow(Base):
    """What became of a verification, kept OTP_RECORD_DAYS for operators' questions. The number is kept
    only as an HMAC under OTP_RECORD_KEY: the same number matches itself, nobody can read it back."""

    __tablename__ = "otp_verification_record"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    number_hash: Mapped[str] = mapped_column(String(64))
    number_masked: Mapped[str] = mapped_column(String(20), default="", server_default="")
    provider: Mapped[str] = mapped_column(String(16), default="", server_default="")
    request_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    caller: Mapped[str] = mapped_column(String(64), default="", server_default="")
    channel: Mapped[str] = mapped_column(String(64))
    sends: Mapped[int] = mapped_column(Integer)
    checks: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (
        Index("ix_otp_record_finished", "finished_at"),
        Index("ix_otp_record_country_finished", "country", "finished_at"),
        Index("ix_otp_record_number", "number_hash", "started_at"),
    )
