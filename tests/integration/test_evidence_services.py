"""The evidence log in the platform (R-9.4), on both databases: legal acts append leaves in
their own unit of work, tree heads are signed with the 国密 log key, every leaf has an inclusion
proof to a signed head, notarization sends hashes only, and a rewritten leaf is detected."""

from __future__ import annotations

from datetime import date

import pytest
import sqlalchemy as sa

from puhui.adapters.crypto.signing import SuiteVerifier
from puhui.adapters.db.evidence_tables import evidence_leaves, evidence_receipts
from puhui.bootstrap import Platform
from puhui.domain.evidence.log import (
    EvidenceEvent,
    SignedTreeHead,
    canonical_json,
    verify_tree_head,
)
from puhui.domain.evidence.merkle import InclusionProof, InvalidProof, TreeHasher, verify_inclusion
from puhui.domain.evidence.signatures import KeyInfo
from puhui.domain.identity import SYSTEM
from puhui.services import consents, evidence, servicing
from puhui.services.platform import set_business_date

RESIDENT_ID = "110105198506150022"
TERMS = {
    "principal": "12000.00",
    "annual_rate": "0.12",
    "repayments": 6,
    "disbursement_date": "2026-03-01",
    "amortization": "equal_installments",
}


def leaf_types(platform: Platform) -> list[str]:
    with platform.engine.connect() as conn:
        return list(
            conn.execute(
                sa.select(evidence_leaves.c.event_type).order_by(evidence_leaves.c.seq)
            ).scalars()
        )


def check_proof(bundle: dict[str, object]) -> None:
    head = SignedTreeHead.from_dict(bundle["tree_head"])  # type: ignore[arg-type]
    key = KeyInfo.from_json(bundle["log_key"])  # type: ignore[arg-type]
    verify_tree_head(head, key, SuiteVerifier())
    event = EvidenceEvent.from_leaf_bytes(canonical_json(bundle["leaf"]))
    hasher = TreeHasher(head.head.hash_alg)
    leaf_hash = event.leaf_hash(hasher)  # from the leaf's content, not the stored hash
    proof = InclusionProof(
        int(bundle["seq"]),  # type: ignore[arg-type]
        int(bundle["tree_size"]),  # type: ignore[arg-type]
        tuple(bytes.fromhex(h) for h in bundle["inclusion_proof"]),  # type: ignore[attr-defined]
    )
    verify_inclusion(hasher, leaf_hash, proof, head.head.root_hash)


def test_acts_append_leaves_heads_are_signed_and_proofs_verify(platform: Platform) -> None:
    set_business_date(platform.ctx, SYSTEM, date(2026, 3, 1), allow_backwards=True)
    consent = consents.grant_consent(
        platform.ctx,
        SYSTEM,
        {"resident_id": RESIDENT_ID, "purpose": "credit_report", "text_version": "v1"},
    )
    consents.revoke_consent(platform.ctx, SYSTEM, consent.consent_id)
    loan_id = servicing.book_loan(platform.ctx, SYSTEM, TERMS, product_code="MICRO-BIZ")
    servicing.disburse(platform.ctx, SYSTEM, loan_id)
    set_business_date(platform.ctx, SYSTEM, date(2026, 4, 1))
    servicing.repay(platform.ctx, SYSTEM, loan_id, "2070.00")
    assert leaf_types(platform) == ["consent_given", "consent_revoked", "disbursement", "repayment"]
    with platform.engine.connect() as conn:  # no personal data in clear anywhere in the log
        rows = conn.execute(sa.select(evidence_leaves)).mappings().all()
    assert all(RESIDENT_ID not in str(dict(r)) for r in rows)

    with pytest.raises(Exception) as err:  # not yet under a signed head
        evidence.inclusion(platform.ctx, SYSTEM, 0)
    assert getattr(err.value, "code", "") == "evidence.not_yet_signed"
    signed = evidence.sign_head(platform.ctx, SYSTEM)
    assert signed is not None and signed.head.tree_size == 4
    assert signed.signature.suite == "sm2-sm3"
    assert evidence.sign_head(platform.ctx, SYSTEM) == signed  # nothing new: no new head
    for seq in range(4):
        check_proof(evidence.inclusion(platform.ctx, SYSTEM, seq))

    receipt = evidence.notarize(platform.ctx, SYSTEM)
    assert receipt["sandbox"] is True and receipt["tree_size"] == 4
    with platform.engine.connect() as conn:
        stored = conn.execute(sa.select(evidence_receipts)).mappings().all()
    assert len(stored) == 1 and RESIDENT_ID not in stored[0]["receipt"]

    # an insider rewrites a leaf in the database: its proof no longer leads to the signed root
    with platform.engine.begin() as conn:
        conn.execute(
            sa.update(evidence_leaves)
            .where(evidence_leaves.c.seq == 3)
            .values(payload_digest="0" * 64)
        )
    with pytest.raises(InvalidProof):
        check_proof(evidence.inclusion(platform.ctx, SYSTEM, 3))
