"""The budget whose challenge a verification's start solved: its resends solve one too.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Verifications pending at the upgrade started unchallenged.
    op.add_column("otp_pending", sa.Column("challenge", sa.String(16), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("otp_pending", "challenge")
