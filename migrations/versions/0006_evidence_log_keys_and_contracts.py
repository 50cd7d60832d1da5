"""evidence log, keys and contracts

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "evidence_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("peaks", sa.LargeBinary(), nullable=False),
        sa.Column("hash_alg", sa.String(length=10), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_evidence_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_head")),
    )
    op.create_table(
        "evidence_leaves",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("leaf_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("event_type", sa.String(length=32), nullable=False),
        sa.Column("object_ref", sa.String(length=128), nullable=False),
        sa.Column("subject_ref", sa.String(length=160), nullable=False),
        sa.Column("payload_digest", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_evidence_leaves")),
    )
    op.create_table(
        "evidence_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("node_index", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.CheckConstraint("level >= 1", name=op.f("ck_evidence_nodes_interior_level")),
        sa.PrimaryKeyConstraint("level", "node_index", name=op.f("pk_evidence_nodes")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "evidence_tree_heads",
        sa.Column("tree_size", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(length=32), nullable=False),
        sa.Column("hash_alg", sa.String(length=10), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name=op.f("pk_evidence_tree_heads")),
    )
    op.create_table(
        "signing_keys",
        sa.Column("key_id", sa.String(length=32), nullable=False),
        sa.Column("purpose", sa.String(length=10), nullable=False),
        sa.Column("owner_ref", sa.String(length=64), nullable=True),
        sa.Column("branch", sa.String(length=80), nullable=True),
        sa.Column("info", sa.Text(), nullable=False),
        sa.Column("private_key_enc", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_signing_keys")),
    )
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_keys_owner_ref"), ["owner_ref"], unique=False)

    op.create_table(
        "contracts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("contract_id", sa.String(length=40), nullable=False),
        sa.Column("contract_number", sa.String(length=40), nullable=False),
        sa.Column("template_id", sa.String(length=40), nullable=False),
        sa.Column("template_version", sa.String(length=20), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("application_id", sa.BigInteger(), nullable=True),
        sa.Column("owner_ref", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("document_digest", sa.String(length=64), nullable=False),
        sa.Column("digest_alg", sa.String(length=8), nullable=False),
        sa.Column("pdf_enc", sa.Text(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
        sa.Column("offer_expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["application_id"],
            ["credit_applications.id"],
            name=op.f("fk_contracts_application_id_credit_applications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
        sa.UniqueConstraint("contract_id", name=op.f("uq_contracts_contract_id")),
        sa.UniqueConstraint("contract_number", name=op.f("uq_contracts_contract_number")),
    )
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_contracts_owner_ref"), ["owner_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_contracts_status"), ["status"], unique=False)

    op.create_table(
        "evidence_receipts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("tree_size", sa.BigInteger(), nullable=False),
        sa.Column("notary", sa.String(length=80), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tree_size"],
            ["evidence_tree_heads.tree_size"],
            name=op.f("fk_evidence_receipts_tree_size_evidence_tree_heads"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evidence_receipts")),
    )
    with op.batch_alter_table("evidence_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_evidence_receipts_tree_size"), ["tree_size"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("evidence_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evidence_receipts_tree_size"))

    op.drop_table("evidence_receipts")
    with op.batch_alter_table("contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contracts_status"))
        batch_op.drop_index(batch_op.f("ix_contracts_owner_ref"))

    op.drop_table("contracts")
    with op.batch_alter_table("signing_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_keys_owner_ref"))

    op.drop_table("signing_keys")
    op.drop_table("evidence_tree_heads")
    op.drop_table("evidence_nodes")
    op.drop_table("evidence_leaves")
    op.drop_table("evidence_head")
