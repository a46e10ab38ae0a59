"""One check at a time: the check that holds a verification and until when, and whether a check's outcome
was lost (instead of counting settled checks).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("otp_pending") as table:
        table.add_column(sa.Column("hold", sa.String(32), nullable=False, server_default=""))
        table.add_column(sa.Column("hold_until", sa.Float(53), nullable=False, server_default="0"))
        table.add_column(sa.Column("lost", sa.Integer(), nullable=False, server_default="0"))
    # A check that never settled before the upgrade is a lost one.
    op.execute("UPDATE otp_pending SET lost = 1 WHERE checks > settled")
    with op.batch_alter_table("otp_pending") as table:
        table.drop_column("settled")


def downgrade() -> None:
    with op.batch_alter_table("otp_pending") as table:
        table.add_column(sa.Column("settled", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE otp_pending SET settled = checks - lost")
    with op.batch_alter_table("otp_pending") as table:
        table.drop_column("lost")
        table.drop_column("hold_until")
        table.drop_column("hold")
