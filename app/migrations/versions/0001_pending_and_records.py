"""Pending verifications and the records of those that ended.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "otp_pending",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("number", sa.String(20), nullable=False),
        sa.Column("request_id", sa.String(64), nullable=False),
        sa.Column("nonce", sa.String(128), nullable=False),
        sa.Column("checks", sa.Integer, nullable=False),
        sa.Column("settled", sa.Integer, nullable=False),
        sa.Column("deliveries", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float(53), nullable=False),
        sa.Column("expires_at", sa.Float(53), nullable=False),
    )
    op.create_index("ix_otp_pending_number_created", "otp_pending", ["number", "created_at"])
    op.create_index("ix_otp_pending_expires", "otp_pending", ["expires_at"])
    op.create_table(
        "otp_verification_record",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("number_hash", sa.String(64), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("sends", sa.Integer, nullable=False),
        sa.Column("checks", sa.Integer, nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_otp_record_finished", "otp_verification_record", ["finished_at"])
    op.create_index("ix_otp_record_country_finished", "otp_verification_record", ["country", "finished_at"])


def downgrade() -> None:
    op.drop_table("otp_verification_record")
    op.drop_table("otp_pending")
