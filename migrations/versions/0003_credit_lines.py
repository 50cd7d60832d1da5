"""revolving credit lines

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "credit_lines",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_credit_lines_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_lines")),
    )
    op.create_table(
        "credit_line_transactions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("line_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("reversed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["line_id"],
            ["credit_lines.id"],
            name=op.f("fk_credit_line_transactions_line_id_credit_lines"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_line_transactions")),
        sa.UniqueConstraint("line_id", "seq", name="uq_credit_line_transactions_line_seq"),
    )
    with op.batch_alter_table("credit_line_transactions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_line_transactions_line_id"), ["line_id"], unique=False
        )

    with op.batch_alter_table("journal_postings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credit_line_id", sa.BigInteger(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_journal_postings_credit_line_id"), ["credit_line_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("journal_postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_postings_credit_line_id"))
        batch_op.drop_column("credit_line_id")

    with op.batch_alter_table("credit_line_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_line_transactions_line_id"))

    op.drop_table("credit_line_transactions")
    op.drop_table("credit_lines")
