"""anti-fraud: lists, application events for velocity and the graph, assessments, cases

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fraud_list_entries",
        sa.Column("id", _ID, nullable=False),
        sa.Column("list_type", sa.String(length=8), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=8), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("evidence", sa.String(length=400), nullable=False),
        sa.Column("masked", sa.String(length=40), nullable=False),
        sa.Column("added_by", sa.String(length=80), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("removed_by", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_list_entries")),
    )
    op.create_index("ix_fraud_list_entries_subject", "fraud_list_entries", ["kind", "subject_key"])
    op.create_table(
        "fraud_events",
        sa.Column("id", _ID, nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column("applicant_key", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["credit_applications.id"],
            name=op.f("fk_fraud_events_application_id_credit_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_events")),
    )
    op.create_index("ix_fraud_events_subject", "fraud_events", ["kind", "subject_key", "at"])
    op.create_index("ix_fraud_events_application_id", "fraud_events", ["application_id"])
    op.create_table(
        "fraud_assessments",
        sa.Column("application_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("applicant_key", sa.String(length=64), nullable=False),
        sa.Column("level", sa.String(length=8), nullable=False),
        sa.Column("disposal", sa.String(length=8), nullable=False),
        sa.Column("fired", sa.Text(), nullable=False),
        sa.Column("variables", sa.Text(), nullable=False),
        sa.Column("rule_set", sa.String(length=120), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["credit_applications.id"],
            name=op.f("fk_fraud_assessments_application_id_credit_applications"),
        ),
        sa.PrimaryKeyConstraint("application_id", name=op.f("pk_fraud_assessments")),
    )
    op.create_table(
        "fraud_cases",
        sa.Column("id", _ID, nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=True),
        sa.Column("applicant_key", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=14), nullable=False),
        sa.Column("reason", sa.String(length=400), nullable=False),
        sa.Column("opened_by", sa.String(length=80), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("history", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["credit_applications.id"],
            name=op.f("fk_fraud_cases_application_id_credit_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fraud_cases")),
    )
    op.create_index("ix_fraud_cases_applicant_key", "fraud_cases", ["applicant_key"])
    op.create_index("ix_fraud_cases_status", "fraud_cases", ["status"])


def downgrade() -> None:
    op.drop_table("fraud_cases")
    op.drop_table("fraud_assessments")
    op.drop_index("ix_fraud_events_application_id", table_name="fraud_events")
    op.drop_index("ix_fraud_events_subject", table_name="fraud_events")
    op.drop_table("fraud_events")
    op.drop_index("ix_fraud_list_entries_subject", table_name="fraud_list_entries")
    op.drop_table("fraud_list_entries")
