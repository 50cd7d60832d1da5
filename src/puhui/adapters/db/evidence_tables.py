"""Tables of the Merkle evidence log (R-9.4), on the shared ``metadata`` of ``tables.py``.

* ``evidence_leaves``: one row per appended event, ``seq`` from 0 = the RFC 9162 leaf index.
  Only references, digests and short metadata — never personal data in clear. Deliberately no
  secondary index: the log is written far more often than searched, and an index on random
  keys (``object_ref``, ``subject_ref``) costs most of the append rate on a durable disk (see
  ``benchmarks/evidence.py --search-indexes``). Search by customer, loan, date or type belongs
  to the archive (R-10.2g), which records the ``seq`` of each leaf it files.
* ``evidence_nodes``: hashes of the *perfect* subtrees of level 1 and up (node ``(level,
  node_index)`` covers leaves ``[node_index * 2**level, (node_index + 1) * 2**level)``). Level 0
  is ``evidence_leaves.leaf_hash``. Rows are written once, when the subtree fills, never changed.
* ``evidence_head``: one row (``id = 1``) with the current size, root and the peaks of the tree
  (the compact range: the perfect subtrees of the binary decomposition of the size, largest
  first, concatenated). Appenders lock it (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's
  ``BEGIN IMMEDIATE`` already serialises writers), so appends are strictly sequential.
* ``evidence_tree_heads``: signed tree heads (the signature value object as JSON).
* ``evidence_receipts``: what an external notary returned for a tree head (R-9.4).

Merkle hashes are raw 32-byte values (``LargeBinary``: BLOB / bytea), the document digest
``payload_digest`` is hex like the other digests of the schema.
"""

from __future__ import annotations

import sqlalchemy as sa

from puhui.adapters.db.tables import UtcDateTime, metadata

__all__ = [
    "evidence_head",
    "evidence_leaves",
    "evidence_nodes",
    "evidence_receipts",
    "evidence_tree_heads",
]

_Seq = sa.BigInteger().with_variant(sa.Integer, "sqlite")
_Hash = sa.LargeBinary(32)

evidence_leaves = sa.Table(
    "evidence_leaves",
    metadata,
    sa.Column("seq", _Seq, primary_key=True, autoincrement=False),
    sa.Column("leaf_hash", _Hash, nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("object_ref", sa.String(128), nullable=False),
    sa.Column("subject_ref", sa.String(160), nullable=False),
    sa.Column("payload_digest", sa.String(64), nullable=False),
    sa.Column("occurred_at", UtcDateTime, nullable=False),
    sa.Column("metadata", sa.Text, nullable=False),  # canonical JSON of short strings
)

evidence_nodes = sa.Table(
    "evidence_nodes",
    metadata,
    sa.Column("level", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("node_index", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("hash", _Hash, nullable=False),
    sa.CheckConstraint("level >= 1", name="interior_level"),
    sqlite_with_rowid=False,  # the primary key is the only access path: one B-tree, not two
)

evidence_head = sa.Table(
    "evidence_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("tree_size", sa.BigInteger, nullable=False),
    sa.Column("root_hash", _Hash, nullable=False),
    sa.Column("peaks", sa.LargeBinary, nullable=False),
    sa.Column("hash_alg", sa.String(10), nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)

evidence_tree_heads = sa.Table(
    "evidence_tree_heads",
    metadata,
    sa.Column("tree_size", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("root_hash", _Hash, nullable=False),
    sa.Column("hash_alg", sa.String(10), nullable=False),
    sa.Column("signed_at", UtcDateTime, nullable=False),
    sa.Column("signature", sa.Text, nullable=False),  # the signature value object as JSON
)

evidence_receipts = sa.Table(
    "evidence_receipts",
    metadata,
    sa.Column("id", _Seq, primary_key=True),
    sa.Column(
        "tree_size",
        sa.BigInteger,
        sa.ForeignKey("evidence_tree_heads.tree_size"),
        nullable=False,
        index=True,
    ),
    sa.Column("notary", sa.String(80), nullable=False),
    sa.Column("receipt", sa.Text, nullable=False),  # the notary's receipt as JSON
    sa.Column("received_at", UtcDateTime, nullable=False),
)
