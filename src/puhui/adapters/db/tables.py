"""Table definitions (SQLAlchemy Core). Alembic migrations in ``migrations/`` create them.

Table classes are not domain objects: repositories map rows to the frozen dataclasses of
``puhui.domain``. Columns ending in ``_enc`` hold AEAD ciphertext of level-3+ personal fields
(R-M4.2); columns ending in ``_index`` hold their blind index for equality lookups.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
metadata = sa.MetaData(naming_convention=NAMING)


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC instants on every database (SQLite stores them naive)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused: instants are timezone-aware UTC")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


staff_users = sa.Table(
    "staff_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(40), nullable=False, unique=True),
    sa.Column("display_name", sa.String(80), nullable=False),
    sa.Column("password_hash", sa.String(200), nullable=False),
    sa.Column("post", sa.String(80), nullable=False, server_default=""),
    sa.Column("branch", sa.String(40), nullable=False, server_default=""),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("failed_logins", sa.Integer, nullable=False, server_default="0"),
    sa.Column("locked_until", UtcDateTime, nullable=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

staff_user_roles = sa.Table(
    "staff_user_roles",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("staff_users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("role", sa.String(30), primary_key=True),
)

staff_sessions = sa.Table(
    "staff_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("staff_users.id"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
)

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("partner", sa.String(80), nullable=False),
    sa.Column("prefix", sa.String(16), nullable=False, unique=True),
    sa.Column("secret_hash", sa.String(64), nullable=False),
    sa.Column("scopes", sa.String(400), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
    sa.Column("created_by", sa.String(80), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

pending_actions = sa.Table(
    "pending_actions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("action", sa.String(80), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("maker", sa.String(80), nullable=False),
    sa.Column("checker_permission", sa.String(60), nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("checker", sa.String(80), nullable=True),
    sa.Column("reason", sa.String(400), nullable=False, server_default=""),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("decided_at", UtcDateTime, nullable=True),
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("phone_enc", sa.Text, nullable=False),
    sa.Column("phone_index", sa.String(64), nullable=False, unique=True),
    sa.Column("name_enc", sa.Text, nullable=True),
    sa.Column("id_number_enc", sa.Text, nullable=True),
    sa.Column("id_number_index", sa.String(64), nullable=True, unique=True),
    sa.Column("created_on", sa.Date, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

customer_sessions = sa.Table(
    "customer_sessions",
    metadata,
    sa.Column("token_hash", sa.String(64), primary_key=True),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("revoked", sa.Boolean, nullable=False, server_default=sa.false()),
)

one_time_codes = sa.Table(
    "one_time_codes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("phone_index", sa.String(64), nullable=False, index=True),
    sa.Column("code_hash", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(30), nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("consumed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column(
        "seq",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("action", sa.String(80), nullable=False),
    sa.Column("target", sa.String(120), nullable=False),
    sa.Column("result", sa.String(120), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=True),
    sa.Column("details", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("record_hash", sa.String(64), nullable=False),
    sa.Column("algorithm", sa.String(10), nullable=False),
)

audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("record_hash", sa.String(64), nullable=False),
)

personal_data_access_log = sa.Table(
    "personal_data_access_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("subject", sa.String(120), nullable=False),
    sa.Column("object", sa.String(120), nullable=False),
    sa.Column("fields", sa.String(400), nullable=False),
    sa.Column("operation", sa.String(20), nullable=False),
    sa.Column("purpose", sa.String(120), nullable=False),
    sa.Column("result", sa.String(20), nullable=False),
    sa.Column("request_id", sa.String(64), nullable=True),
)

platform_state = sa.Table(
    "platform_state",
    metadata,
    sa.Column("key", sa.String(60), primary_key=True),
    sa.Column("value", sa.String(400), nullable=False),
)


# --- Loan servicing (R-10.2e,f) --------------------------------------------------------------
# Money is stored in integer minor units (分) so that the end-of-day batch reads and writes it
# without conversion; repositories convert to and from Decimal at the domain boundary.

Minor = sa.BigInteger

loans = sa.Table(
    "loans",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("product_code", sa.String(40), nullable=False),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("principal_minor", Minor, nullable=False),
    sa.Column("upfront_fee_minor", Minor, nullable=False, server_default="0"),
    sa.Column("annual_rate", sa.String(24), nullable=False),  # exact decimal text
    sa.Column("terms", sa.Text, nullable=False),  # the LoanTerms as JSON
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("disbursed_on", sa.Date, nullable=True),
    sa.Column("maturity_date", sa.Date, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

loan_installments = sa.Table(
    "loan_installments",
    metadata,
    sa.Column("loan_id", sa.BigInteger, sa.ForeignKey("loans.id"), primary_key=True),
    sa.Column("n", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("from_date", sa.Date, nullable=False),
    sa.Column("due_date", sa.Date, nullable=False),
    sa.Column("days", sa.Integer, nullable=False),
    sa.Column("principal_minor", Minor, nullable=False),
    sa.Column("interest_minor", Minor, nullable=False),
    sa.Column("fee_minor", Minor, nullable=False),
    sa.Column("paid_principal_minor", Minor, nullable=False, server_default="0"),
    sa.Column("paid_interest_minor", Minor, nullable=False, server_default="0"),
)

loan_positions = sa.Table(
    "loan_positions",
    metadata,
    sa.Column("loan_id", sa.BigInteger, sa.ForeignKey("loans.id"), primary_key=True),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("as_of", sa.Date, nullable=False),  # last business date closed for this loan
    sa.Column("period_n", sa.Integer, nullable=False),
    sa.Column("principal_outstanding", Minor, nullable=False),
    sa.Column("overdue_principal", Minor, nullable=False),
    sa.Column("interest_receivable", Minor, nullable=False),
    sa.Column("penalty_receivable", Minor, nullable=False),
    sa.Column("period_start", sa.Integer, nullable=False),  # date ordinals
    sa.Column("period_days", sa.Integer, nullable=False),
    sa.Column("period_due", sa.Integer, nullable=False),
    sa.Column("period_interest", Minor, nullable=False),
    sa.Column("period_accrued", Minor, nullable=False),
    sa.Column("period_principal", Minor, nullable=False),
    sa.Column("period_paid_principal", Minor, nullable=False),
    sa.Column("period_paid_interest", Minor, nullable=False, server_default="0"),
    sa.Column("oldest_unpaid_due", sa.Integer, nullable=False),
    sa.Column("penalty_rate_ppm", sa.Integer, nullable=False),
    sa.Column("penalty_day_basis", sa.SmallInteger, nullable=False, server_default="360"),
    sa.Column("dpd", sa.Integer, nullable=False),
    sa.Column("class_code", sa.SmallInteger, nullable=False),
    sa.Column("bucket", sa.SmallInteger, nullable=False),
    # how end of day closes the loan: "vector" (the int64 batch) or "replay" (the Decimal replay,
    # for what the batch does not compute: per-period or charged fees, compound interest)
    sa.Column("closing", sa.String(8), nullable=False, server_default="vector"),
)

loan_transactions = sa.Table(
    "loan_transactions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("loan_id", sa.BigInteger, sa.ForeignKey("loans.id"), nullable=False, index=True),
    sa.Column("seq", sa.Integer, nullable=False),  # the transaction's number within its loan
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("type", sa.String(24), nullable=False),
    sa.Column("mode", sa.String(24), nullable=True),
    sa.Column("value_date", sa.Date, nullable=False),
    sa.Column("amount_minor", Minor, nullable=False),
    sa.Column("principal_minor", Minor, nullable=False, server_default="0"),
    sa.Column("interest_minor", Minor, nullable=False, server_default="0"),
    sa.Column("penalty_minor", Minor, nullable=False, server_default="0"),
    sa.Column("fee_minor", Minor, nullable=False, server_default="0"),
    sa.Column("reversed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reversal_of", sa.BigInteger, nullable=True),
    sa.Column("detail", sa.Text, nullable=False, server_default="{}"),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("loan_id", "seq", name="uq_loan_transactions_loan_seq"),
)

journal_postings = sa.Table(
    "journal_postings",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("entry_ref", sa.String(48), nullable=False, index=True),
    sa.Column("loan_id", sa.BigInteger, nullable=True, index=True),
    sa.Column("credit_line_id", sa.BigInteger, nullable=True, index=True),
    sa.Column("value_date", sa.Date, nullable=False),
    sa.Column("debit_account", sa.String(12), nullable=False),
    sa.Column("credit_account", sa.String(12), nullable=False),
    sa.Column("amount_minor", Minor, nullable=False),
    sa.CheckConstraint("amount_minor > 0", name="positive_amount"),
    sa.CheckConstraint("debit_account <> credit_account", name="two_accounts"),
)

eod_runs = sa.Table(
    "eod_runs",
    metadata,
    sa.Column("business_date", sa.Date, primary_key=True),
    sa.Column("partition_no", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("loans", sa.Integer, nullable=False),
    sa.Column("interest_minor", Minor, nullable=False),
    sa.Column("penalty_minor", Minor, nullable=False),
    sa.Column("finished_at", UtcDateTime, nullable=False),
)


# --- Revolving credit lines (随借随还, R-10.3) --------------------------------------------------

credit_lines = sa.Table(
    "credit_lines",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("customer_id", sa.Integer, sa.ForeignKey("customers.id"), nullable=True),
    sa.Column("currency", sa.String(3), nullable=False),
    sa.Column("limit_minor", Minor, nullable=False),
    sa.Column("terms", sa.Text, nullable=False),
    sa.Column("status", sa.String(20), nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
)

credit_line_transactions = sa.Table(
    "credit_line_transactions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "line_id", sa.BigInteger, sa.ForeignKey("credit_lines.id"), nullable=False, index=True
    ),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("version", sa.Integer, nullable=False),
    sa.Column("type", sa.String(24), nullable=False),
    sa.Column("value_date", sa.Date, nullable=False),
    sa.Column("amount_minor", Minor, nullable=False),
    sa.Column("reversed", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("line_id", "seq", name="uq_credit_line_transactions_line_seq"),
)

# -- credit decisions (R-6.3, R-9.2, R-9.3, R-11.2) ----------------------------------------------
# Personal identifiers are never stored in clear: ``*_ref`` columns are blind indexes (HMAC-SM3)
# of the resident id or USCC, ``*_enc`` columns AEAD ciphertext.

consents = sa.Table(
    "consents",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("consent_id", sa.String(40), nullable=False, unique=True),
    sa.Column("subject_ref", sa.String(64), nullable=False, index=True),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("scope", sa.Text, nullable=False),
    sa.Column("recipients", sa.Text, nullable=False, server_default=""),
    sa.Column("text_version", sa.String(40), nullable=False),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("granted_at", UtcDateTime, nullable=False),
    sa.Column("expires_at", UtcDateTime, nullable=False),
    sa.Column("revoked_at", UtcDateTime, nullable=True),
    sa.Column("evidence_hash", sa.String(64), nullable=False),
)

source_cache = sa.Table(
    "source_cache",
    metadata,
    sa.Column("source_id", sa.String(32), primary_key=True),
    sa.Column("subject_key", sa.String(64), primary_key=True),
    sa.Column("payload_enc", sa.Text, nullable=False),
    sa.Column("fetched_at", UtcDateTime, nullable=False),
)

credit_applications = sa.Table(
    "credit_applications",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("channel", sa.String(20), nullable=False),
    sa.Column("application_ref", sa.String(64), nullable=False),
    sa.Column("product_code", sa.String(40), nullable=False),
    sa.Column("borrower_type", sa.String(24), nullable=False),
    sa.Column("applicant_ref", sa.String(64), nullable=False, index=True),
    sa.Column("enterprise_ref", sa.String(64), nullable=True, index=True),
    sa.Column("spouse_ref", sa.String(64), nullable=True, index=True),
    sa.Column("region_code", sa.String(6), nullable=False),
    sa.Column("industry_code", sa.String(1), nullable=False),
    sa.Column("guarantee_type", sa.String(12), nullable=False),
    sa.Column("requested_amount_minor", Minor, nullable=False),
    sa.Column("requested_term_months", sa.Integer, nullable=False),
    sa.Column("applied_on", sa.Date, nullable=False),
    sa.Column("snapshot_hash", sa.String(64), nullable=False),
    sa.Column("snapshot_enc", sa.Text, nullable=False),
    # decided -> approved / declined directly, or in_review until a reviewer decides
    sa.Column("status", sa.String(12), nullable=False, index=True),
    sa.Column("created_at", UtcDateTime, nullable=False),
    sa.UniqueConstraint("channel", "application_ref", name="uq_credit_applications_ref"),
)

credit_decisions = sa.Table(
    "credit_decisions",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column(
        "application_id",
        sa.BigInteger,
        sa.ForeignKey("credit_applications.id"),
        nullable=False,
        unique=True,
    ),
    sa.Column("outcome", sa.String(8), nullable=False),  # approve | decline | review
    sa.Column("arm", sa.String(12), nullable=False),  # champion | challenger
    sa.Column("rule_set", sa.String(120), nullable=False),  # id@version#hash
    sa.Column("scorecard", sa.String(120), nullable=False),
    sa.Column("variables", sa.String(120), nullable=False),
    sa.Column("policy", sa.String(120), nullable=False),
    sa.Column("score", sa.Integer, nullable=True),
    sa.Column("grade", sa.String(4), nullable=True),
    sa.Column("pd", sa.String(24), nullable=True),
    sa.Column("limit_minor", Minor, nullable=False),
    sa.Column("annual_rate", sa.String(24), nullable=True),
    sa.Column("latency_us", sa.Integer, nullable=False),
    sa.Column("record", sa.Text, nullable=False),  # the full explanation, canonical JSON
    sa.Column("record_hash", sa.String(64), nullable=False),
    sa.Column("decided_at", UtcDateTime, nullable=False),
)

review_outcomes = sa.Table(
    "review_outcomes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column(
        "application_id",
        sa.BigInteger,
        sa.ForeignKey("credit_applications.id"),
        nullable=False,
        unique=True,
    ),
    sa.Column("outcome", sa.String(8), nullable=False),  # approve | decline
    sa.Column("limit_minor", Minor, nullable=False),
    sa.Column("reviewer", sa.String(80), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("decided_at", UtcDateTime, nullable=False),
)

# -- keys, contracts and the evidence log (R-9.4, R-10.2 d/g) -------------------------------------

signing_keys = sa.Table(
    "signing_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("purpose", sa.String(10), nullable=False),
    sa.Column("owner_ref", sa.String(64), nullable=True, index=True),
    sa.Column("branch", sa.String(80), nullable=True),
    sa.Column("info", sa.Text, nullable=False),  # the public KeyInfo as JSON
    sa.Column("private_key_enc", sa.Text, nullable=False),  # FieldCipher token of the PKCS#8
    sa.Column("created_at", UtcDateTime, nullable=False),
)

contracts = sa.Table(
    "contracts",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("contract_id", sa.String(40), nullable=False, unique=True),
    sa.Column("contract_number", sa.String(40), nullable=False, unique=True),
    sa.Column("template_id", sa.String(40), nullable=False),
    sa.Column("template_version", sa.String(20), nullable=False),
    sa.Column("language", sa.String(8), nullable=False),
    sa.Column("application_id", sa.BigInteger, sa.ForeignKey("credit_applications.id")),
    sa.Column("owner_ref", sa.String(64), nullable=False, index=True),
    sa.Column("status", sa.String(12), nullable=False, index=True),
    sa.Column("document_digest", sa.String(64), nullable=False),
    sa.Column("digest_alg", sa.String(8), nullable=False),
    sa.Column("pdf_enc", sa.Text, nullable=False),  # the signed document, encrypted at rest
    sa.Column("terms", sa.Text, nullable=False),  # the offered loan terms as JSON
    sa.Column("state", sa.Text, nullable=False),  # signatures, seal, timestamps, history (JSON)
    sa.Column("offer_expires_at", UtcDateTime, nullable=False),
    sa.Column("created_at", UtcDateTime, nullable=False, index=True),
    sa.Column("loan_id", sa.BigInteger, sa.ForeignKey("loans.id"), nullable=True, index=True),
)

sandbox_identities = sa.Table(  # the sandbox TSA's key and certificate, kept across restarts
    "sandbox_identities",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("secret_enc", sa.Text, nullable=False),  # FieldCipher token of the private key
    sa.Column("public", sa.Text, nullable=False),  # e.g. the certificate PEM
    sa.Column("created_at", UtcDateTime, nullable=False),
)

from puhui.adapters.db import evidence_tables as _evidence_tables  # noqa: E402, F401
from puhui.adapters.db import fraud_tables as _fraud_tables  # noqa: E402, F401

BUSINESS_TABLES = [t.name for t in metadata.sorted_tables]
