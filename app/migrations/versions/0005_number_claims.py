"""One pending verification per number: the claim a start writes before its provider is asked.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "otp_number_claim",
        sa.Column("number", sa.String(20), primary_key=True),
        sa.Column("verification_id", sa.String(64), nullable=False),
        sa.Column("expires_at", sa.Float(53), nullable=False),
    )
    op.create_index("ix_otp_number_claim_expires", "otp_number_claim", ["expires_at"])
    # The verifications pending at the upgrade claim their numbers, the newest of each.
    op.execute("INSERT INTO otp_number_claim (number, verification_id, expires_at) "
               "SELECT p.number, p.id, p.expires_at FROM otp_pending p WHERE p.created_at = "
               "(SELECT MAX(q.created_at) FROM otp_pending q WHERE q.number = p.number)")


def downgrade() -> None:
    op.drop_index("ix_otp_number_claim_expires", "otp_number_claim")
    op.drop_table("otp_number_claim")
