"""Who started a verification, for its end's log event, and more of it in its record for support lookups.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

PENDING = (("address", 64), ("caller", 64))
RECORD = (("number_masked", 20), ("provider", 16), ("request_id", 64), ("caller", 64))


def upgrade() -> None:
    for name, size in PENDING:
        op.add_column("otp_pending", sa.Column(name, sa.String(size), nullable=False, server_default=""))
    for name, size in RECORD:
        op.add_column("otp_verification_record", sa.Column(name, sa.String(size), nullable=False, server_default=""))
    op.create_index("ix_otp_record_number", "otp_verification_record", ["number_hash", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_otp_record_number", "otp_verification_record")
    with op.batch_alter_table("otp_verification_record") as batch:
        for name, _ in RECORD:
            batch.drop_column(name)
    with op.batch_alter_table("otp_pending") as batch:
        for name, _ in PENDING:
            batch.drop_column(name)
