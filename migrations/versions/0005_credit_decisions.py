"""credit decisions

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
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
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("consent_id", sa.String(length=40), nullable=False),
        sa.Column("subject_ref", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), server_default="", nullable=False),
        sa.Column("text_version", sa.String(length=40), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("evidence_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
        sa.UniqueConstraint("consent_id", name=op.f("uq_consents_consent_id")),
    )
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consents_subject_ref"), ["subject_ref"], unique=False)

    op.create_table(
        "credit_applications",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("application_ref", sa.String(length=64), nullable=False),
        sa.Column("product_code", sa.String(length=40), nullable=False),
        sa.Column("borrower_type", sa.String(length=24), nullable=False),
        sa.Column("applicant_ref", sa.String(length=64), nullable=False),
        sa.Column("enterprise_ref", sa.String(length=64), nullable=True),
        sa.Column("spouse_ref", sa.String(length=64), nullable=True),
        sa.Column("region_code", sa.String(length=6), nullable=False),
        sa.Column("industry_code", sa.String(length=1), nullable=False),
        sa.Column("guarantee_type", sa.String(length=12), nullable=False),
        sa.Column("requested_amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("requested_term_months", sa.Integer(), nullable=False),
        sa.Column("applied_on", sa.Date(), nullable=False),
        sa.Column("snapshot_hash", sa.String(length=64), nullable=False),
        sa.Column("snapshot_enc", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_applications")),
        sa.UniqueConstraint("channel", "application_ref", name="uq_credit_applications_ref"),
    )
    with op.batch_alter_table("credit_applications", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_credit_applications_applicant_ref"), ["applicant_ref"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_credit_applications_enterprise_ref"), ["enterprise_ref"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_credit_applications_spouse_ref"), ["spouse_ref"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_credit_applications_status"), ["status"], unique=False)

    op.create_table(
        "source_cache",
        sa.Column("source_id", sa.String(length=32), nullable=False),
        sa.Column("subject_key", sa.String(length=64), nullable=False),
        sa.Column("payload_enc", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source_id", "subject_key", name=op.f("pk_source_cache")),
    )
    op.create_table(
        "credit_decisions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("arm", sa.String(length=12), nullable=False),
        sa.Column("rule_set", sa.String(length=120), nullable=False),
        sa.Column("scorecard", sa.String(length=120), nullable=False),
        sa.Column("variables", sa.String(length=120), nullable=False),
        sa.Column("policy", sa.String(length=120), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("grade", sa.String(length=4), nullable=True),
        sa.Column("pd", sa.String(length=24), nullable=True),
        sa.Column("limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("annual_rate", sa.String(length=24), nullable=True),
        sa.Column("latency_us", sa.Integer(), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["credit_applications.id"],
            name=op.f("fk_credit_decisions_application_id_credit_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_decisions")),
        sa.UniqueConstraint("application_id", name=op.f("uq_credit_decisions_application_id")),
    )
    op.create_table(
        "review_outcomes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=False),
        sa.Column("outcome", sa.String(length=8), nullable=False),
        sa.Column("limit_minor", sa.BigInteger(), nullable=False),
        sa.Column("reviewer", sa.String(length=80), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["credit_applications.id"],
            name=op.f("fk_review_outcomes_application_id_credit_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_outcomes")),
        sa.UniqueConstraint("application_id", name=op.f("uq_review_outcomes_application_id")),
    )


def downgrade() -> None:

    op.drop_table("review_outcomes")
    op.drop_table("credit_decisions")
    op.drop_table("source_cache")
    with op.batch_alter_table("credit_applications", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_credit_applications_status"))
        batch_op.drop_index(batch_op.f("ix_credit_applications_spouse_ref"))
        batch_op.drop_index(batch_op.f("ix_credit_applications_enterprise_ref"))
        batch_op.drop_index(batch_op.f("ix_credit_applications_applicant_ref"))

    op.drop_table("credit_applications")
    with op.batch_alter_table("consents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consents_subject_ref"))

    op.drop_table("consents")
