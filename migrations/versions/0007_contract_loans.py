"""contracts: the loan booked from a contract, search by date; sandbox service identities

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sandbox_identities",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=False),
        sa.Column("public", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sandbox_identities")),
    )
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("loan_id", sa.BigInteger(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_contracts_loan_id_loans"), "loans", ["loan_id"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_contracts_loan_id"), ["loan_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_contracts_created_at"), ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contracts_created_at"))
        batch_op.drop_index(batch_op.f("ix_contracts_loan_id"))
        batch_op.drop_constraint(batch_op.f("fk_contracts_loan_id_loans"), type_="foreignkey")
        batch_op.drop_column("loan_id")
    op.drop_table("sandbox_identities")
