"""loan servicing

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "eod_runs",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("partition_no", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("loans", sa.Integer(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("penalty_minor", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("business_date", "partition_no", name=op.f("pk_eod_runs")),
    )
    op.create_table(
        "journal_postings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("entry_ref", sa.String(length=48), nullable=False),
        sa.Column("loan_id", sa.BigInteger(), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("debit_account", sa.String(length=12), nullable=False),
        sa.Column("credit_account", sa.String(length=12), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_journal_postings_positive_amount")),
        sa.CheckConstraint(
            "debit_account <> credit_account", name=op.f("ck_journal_postings_two_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journal_postings")),
    )
    with op.batch_alter_table("journal_postings", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_journal_postings_entry_ref"), ["entry_ref"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_journal_postings_loan_id"), ["loan_id"], unique=False)

    op.create_table(
        "loans",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("upfront_fee_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("annual_rate", sa.String(length=24), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("disbursed_on", sa.Date(), nullable=True),
        sa.Column("maturity_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_loans_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loans")),
    )
    op.create_table(
        "loan_installments",
        sa.Column("loan_id", sa.BigInteger(), nullable=False),
        sa.Column("n", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("from_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("paid_principal_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("paid_interest_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_loan_installments_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("loan_id", "n", name=op.f("pk_loan_installments")),
    )
    op.create_table(
        "loan_positions",
        sa.Column("loan_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("period_n", sa.Integer(), nullable=False),
        sa.Column("principal_outstanding", sa.BigInteger(), nullable=False),
        sa.Column("overdue_principal", sa.BigInteger(), nullable=False),
        sa.Column("interest_receivable", sa.BigInteger(), nullable=False),
        sa.Column("penalty_receivable", sa.BigInteger(), nullable=False),
        sa.Column("period_start", sa.Integer(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("period_due", sa.Integer(), nullable=False),
        sa.Column("period_interest", sa.BigInteger(), nullable=False),
        sa.Column("period_accrued", sa.BigInteger(), nullable=False),
        sa.Column("period_principal", sa.BigInteger(), nullable=False),
        sa.Column("period_paid_principal", sa.BigInteger(), nullable=False),
        sa.Column("period_paid_interest", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("oldest_unpaid_due", sa.Integer(), nullable=False),
        sa.Column("penalty_rate_ppm", sa.Integer(), nullable=False),
        sa.Column("penalty_day_basis", sa.SmallInteger(), server_default="360", nullable=False),
        sa.Column("dpd", sa.Integer(), nullable=False),
        sa.Column("class_code", sa.SmallInteger(), nullable=False),
        sa.Column("bucket", sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_loan_positions_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("loan_id", name=op.f("pk_loan_positions")),
    )
    op.create_table(
        "loan_transactions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("loan_id", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.Column("type", sa.String(length=24), nullable=False),
        sa.Column("mode", sa.String(length=24), nullable=True),
        sa.Column("value_date", sa.Date(), nullable=False),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("principal_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("interest_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("penalty_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reversed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("reversal_of", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), server_default="{}", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["loan_id"], ["loans.id"], name=op.f("fk_loan_transactions_loan_id_loans")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_loan_transactions")),
        sa.UniqueConstraint("loan_id", "seq", name="uq_loan_transactions_loan_seq"),
    )
    with op.batch_alter_table("loan_transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_loan_transactions_loan_id"), ["loan_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("loan_transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_loan_transactions_loan_id"))

    op.drop_table("loan_transactions")
    op.drop_table("loan_positions")
    op.drop_table("loan_installments")
    op.drop_table("loans")
    with op.batch_alter_table("journal_postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_journal_postings_loan_id"))
        batch_op.drop_index(batch_op.f("ix_journal_postings_entry_ref"))

    op.drop_table("journal_postings")
    op.drop_table("eod_runs")
