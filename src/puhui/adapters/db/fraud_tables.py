"""Anti-fraud tables (R-9.6): list entries, the attribute events of each application (velocity
counts and graph edges), assessments and cases. Subjects are blind indexes only."""

from __future__ import annotations

import sqlalchemy as sa

from puhui.adapters.db.tables import UtcDateTime, metadata

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

fraud_list_entries = sa.Table(
    "fraud_list_entries",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("list_type", sa.String(8), nullable=False),  # black | grey | white
    sa.Column("kind", sa.String(16), nullable=False),  # resident_id | mobile | device | …
    sa.Column("subject_key", sa.String(64), nullable=False),  # blind index
    sa.Column("source", sa.String(8), nullable=False),
    sa.Column("reason", sa.String(400), nullable=False),
    sa.Column("evidence", sa.String(400), nullable=False),
    sa.Column("masked", sa.String(40), nullable=False),
    sa.Column("added_by", sa.String(80), nullable=False),
    sa.Column("added_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=True),
    sa.Column("removed_at", UtcDateTime, nullable=True),
    sa.Column("removed_by", sa.String(80), nullable=True),
    sa.Index("ix_fraud_list_entries_subject", "kind", "subject_key"),
)

fraud_events = sa.Table(  # one row per (application, attribute): velocity and graph edges
    "fraud_events",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column(
        "application_id",
        sa.BigInteger,
        sa.ForeignKey("credit_applications.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("applicant_key", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("subject_key", sa.String(64), nullable=False),
    sa.Column("at", UtcDateTime, nullable=False),
    sa.Index("ix_fraud_events_subject", "kind", "subject_key", "at"),
)

fraud_assessments = sa.Table(
    "fraud_assessments",
    metadata,
    sa.Column(
        "application_id",
        sa.BigInteger,
        sa.ForeignKey("credit_applications.id"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("applicant_key", sa.String(64), nullable=False),
    sa.Column("level", sa.String(8), nullable=False),
    sa.Column("disposal", sa.String(8), nullable=False),
    sa.Column("fired", sa.Text, nullable=False),  # JSON list of rule ids
    sa.Column("variables", sa.Text, nullable=False),  # JSON of the fraud variables
    sa.Column("rule_set", sa.String(120), nullable=False),
    sa.Column("assessed_at", UtcDateTime, nullable=False),
)

fraud_cases = sa.Table(
    "fraud_cases",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("application_id", sa.BigInteger, sa.ForeignKey("credit_applications.id")),
    sa.Column("applicant_key", sa.String(64), nullable=False, index=True),
    sa.Column("status", sa.String(14), nullable=False, index=True),
    sa.Column("reason", sa.String(400), nullable=False),
    sa.Column("opened_by", sa.String(80), nullable=False),
    sa.Column("opened_at", UtcDateTime, nullable=False),
    sa.Column("history", sa.Text, nullable=False),  # JSON: [{from, to, by, at, note}]
)
