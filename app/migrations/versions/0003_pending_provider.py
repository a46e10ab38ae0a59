"""The provider that started each verification: its checks, resends and cancels go there.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Verifications pending at the upgrade were started by Vonage, the one provider before: '' says so.
    op.add_column("otp_pending", sa.Column("provider", sa.String(16), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("otp_pending", "provider")
