"""end of day: the closing path of each loan position

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("loan_positions") as batch:
        batch.add_column(
            sa.Column("closing", sa.String(length=8), nullable=False, server_default="vector")
        )


def downgrade() -> None:
    with op.batch_alter_table("loan_positions") as batch:
        batch.drop_column("closing")
