"""The evidence log as use cases (R-9.4): every legal event appends a leaf in the same unit of
work as the act itself; tree heads are signed at intervals with the log key; signed heads and
leaf hashes go to a third-party notary as hashes only; anyone can get an inclusion proof.

Leaves hold references and digests only (``domain.evidence.log.EvidenceEvent`` refuses anything
that looks like an ID or phone number): a subject is a blind index, the payload a digest of the
document or record (a decision's record hash, a consent's evidence hash, a transaction's
canonical JSON).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from puhui.domain.errors import Conflict, DomainError
from puhui.domain.evidence.log import EventType, EvidenceEvent, SignedTreeHead, sign_tree_head
from puhui.domain.evidence.signatures import KeyPurpose, SignatureSuite
from puhui.domain.identity import Permission, Principal
from puhui.services.audit import audited
from puhui.services.ports import ServiceContext, UnitOfWork


@dataclass
class EvidenceSetup:
    """What the evidence services need from outside, built by the composition root."""

    keys: Any  # adapters.crypto.keystore.KeyService
    notary: Any  # adapters.providers.notary.Notary
    tsa: Any  # adapters.crypto.timestamp.TimeStampAuthority (with ``certificate_pem``)
    suite: SignatureSuite = SignatureSuite.SM2_SM3
    documents: Any = None  # adapters.documents.DocumentRenderer: templates, HTML and PDF
    lender: Mapping[str, Any] = field(default_factory=dict)  # config/lender.json
    auto_seal: bool = True  # the branch's e-seal follows the borrower's signature at once


def digest_of(document: Mapping[str, Any]) -> str:
    """SHA-256 hex of a record's canonical JSON: the payload digest of a leaf."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def opaque(kind: str, reference: str) -> str:
    """A subject reference for an object without a known person: ``kind:`` + SHA-256 hex."""
    return f"{kind}:{hashlib.sha256(reference.encode()).hexdigest()}"


def record_event(
    uow: UnitOfWork,
    event_type: EventType | str,
    *,
    occurred_at: datetime,
    subject_ref: str,
    object_ref: str,
    payload_digest: str,
    metadata: Mapping[str, str] | None = None,
) -> int:
    """Append one leaf in the caller's unit of work (it commits with the act); returns its
    sequence number."""
    event = EvidenceEvent(
        event_type=EventType(event_type),
        occurred_at=occurred_at,
        subject_ref=subject_ref,
        object_ref=object_ref,
        payload_digest=payload_digest,
        metadata=dict(metadata or {}),
    )
    seq: int = uow.evidence.append([event])[0]
    return seq


def _setup(ctx: ServiceContext) -> EvidenceSetup:
    if ctx.evidence is None:
        raise Conflict("the evidence services are not configured", code="evidence.not_configured")
    setup: EvidenceSetup = ctx.evidence
    return setup


def setup_of(ctx: ServiceContext) -> EvidenceSetup:
    """The evidence setup, or a clear refusal when the platform was built without one."""
    return _setup(ctx)


def log_key(ctx: ServiceContext) -> Any:
    """The active log key, created on first use (suite from the settings)."""
    setup = _setup(ctx)
    try:
        return setup.keys.active_key(KeyPurpose.LOG)
    except DomainError:  # none yet, or every one revoked or expired
        return setup.keys.create_key(KeyPurpose.LOG, setup.suite, None)


def sign_head(
    ctx: ServiceContext, actor: Principal, *, request_id: str | None = None
) -> SignedTreeHead | None:
    """Sign the log's current tree head (if it grew since the last one); audited.

    The head is read, signed outside any transaction (the keystore reads keys on its own
    connection) and stored: a head for a size the log has since passed is still a true head."""
    setup = _setup(ctx)
    actor.require(Permission.AUDIT_VERIFY)
    key = log_key(ctx)
    with ctx.uow() as uow:
        size = uow.evidence.size()
        latest: SignedTreeHead | None = uow.evidence.latest_tree_head()
        if size == 0 or (latest is not None and latest.head.tree_size == size):
            return latest
        head = uow.evidence.head_to_sign(ctx.clock(), size)
    signed = sign_tree_head(head, setup.keys, key.key_id)

    def body(uow: UnitOfWork) -> tuple[SignedTreeHead, str, dict[str, Any]]:
        uow.evidence.add_tree_head(signed)
        return (
            signed,
            "evidence_log",
            {"tree_size": head.tree_size, "root_hash": head.root_hash.hex(), "key_id": key.key_id},
        )

    return audited(ctx, actor=actor, action="evidence.sign_head", request_id=request_id, body=body)


def notarize(ctx: ServiceContext, actor: Principal, *, request_id: str | None = None) -> Any:
    """Send the latest signed tree head and the leaf hashes since the last receipt to the
    notary, hashes only; store and return the receipt."""
    setup = _setup(ctx)
    with ctx.uow() as uow:
        actor.require(Permission.AUDIT_VERIFY)
        latest = uow.evidence.latest_tree_head()
        if latest is None:
            raise Conflict("no signed tree head to notarize yet", code="evidence.no_tree_head")
        receipts = uow.evidence.receipts()
        start = max((r.tree_size for r in receipts), default=0)
        leaves = uow.evidence.leaves(start, latest.head.tree_size)
    document = {  # hashes only: the signed tree head and the leaf hashes since the last receipt
        "tree_head": {**latest.head.to_dict(), "signature": latest.signature.to_json()},
        "leaf_hashes": [leaf.leaf_hash.hex() for leaf in leaves],
    }
    receipt = setup.notary.submit(document)

    def body(uow: UnitOfWork) -> tuple[Any, str, dict[str, Any]]:
        uow.evidence.add_receipt(latest.head.tree_size, setup.notary.name, receipt, ctx.clock())
        return (
            receipt,
            "evidence_log",
            {"tree_size": latest.head.tree_size, "notary": setup.notary.name},
        )

    return audited(ctx, actor=actor, action="evidence.notarize", request_id=request_id, body=body)


def inclusion(ctx: ServiceContext, actor: Principal, seq: int) -> dict[str, Any]:
    """A leaf, its inclusion proof and the signed tree head it leads to (the latest)."""
    actor.require(Permission.AUDIT_VERIFY)
    with ctx.uow() as uow:
        latest = uow.evidence.latest_tree_head()
        if latest is None or seq >= latest.head.tree_size:
            raise Conflict(
                "the leaf is not under a signed tree head yet; sign a head first",
                code="evidence.not_yet_signed",
            )
        leaf = uow.evidence.leaf(seq)
        proof = uow.evidence.inclusion_proof(seq, latest.head.tree_size)
    key = _setup(ctx).keys.get(latest.signature.key_id)
    return {
        "seq": seq,
        "leaf": leaf.event.to_dict(),
        "leaf_hash": leaf.leaf_hash.hex(),
        "tree_size": latest.head.tree_size,
        "inclusion_proof": [h.hex() for h in proof.path],
        "tree_head": latest.to_dict(),
        "log_key": key.to_json(),
    }
