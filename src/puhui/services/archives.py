"""Archives (R-10.2(g)) and evidence bundles for disputes (R-9.5(g), R-9.4).

:func:`search_archives` finds contracts, authorizations (consents) and evidence log leaves by
customer (resident ID, matched through its blind index), application, loan, contract, date and
type. Every search and every export is recorded in the audit log with its filters (the resident
ID only as the first characters of its blind index): archive access is access-logged.

:func:`contract_evidence` gathers what an independent party needs to check a sealed contract
without the platform — the PDF, the signature and seal with their keys and time-stamps, the
contract's evidence leaves with inclusion proofs to a signed tree head, the log key, the TSA
certificate, the notary receipt for that head. It signs a new tree head when the contract's
leaves are not yet under one and notarizes the head when no receipt names it, so the bundle is
complete. ``adapters.verify`` turns the parts into the ``puhui-evidence-bundle/1`` document.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from puhui.domain.errors import Conflict, ValidationError
from puhui.domain.evidence.contract import ContractStatus, StoredContract
from puhui.domain.evidence.log import SignedTreeHead
from puhui.domain.evidence.signatures import KeyInfo, Signature
from puhui.domain.identifiers import ResidentIdNumber
from puhui.domain.identity import SYSTEM, Permission, Principal
from puhui.services import evidence as evidence_services
from puhui.services.audit import record
from puhui.services.platform import CHINA
from puhui.services.ports import ServiceContext

__all__ = ["KINDS", "ArchiveItem", "ContractEvidence", "contract_evidence", "search_archives"]

KINDS = ("contract", "authorization", "evidence")


@dataclass(frozen=True)
class ArchiveItem:
    kind: str  # contract | authorization | evidence
    reference: str  # contract:ct-…, consent:cs-…, leaf:12
    type: str  # template id, consent purpose, event type
    status: str
    at: datetime
    digest: str  # the document digest, the consent's evidence hash, the leaf payload digest
    links: dict[str, Any]


def _day_start(value: date | None) -> datetime | None:
    return None if value is None else datetime.combine(value, time(), tzinfo=CHINA)


def search_archives(
    ctx: ServiceContext,
    actor: Principal,
    *,
    resident_id: str | None = None,
    application_id: int | None = None,
    loan_id: int | None = None,
    contract_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    kinds: Sequence[str] = KINDS,
    limit: int = 100,
    request_id: str | None = None,
) -> list[ArchiveItem]:
    """Archived records matching every filter given, newest first; audited."""
    actor.require(Permission.ARCHIVES_READ)
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown or not kinds:
        raise ValidationError(
            f"type must be among {', '.join(KINDS)}",
            code="archives.invalid_type",
            details={"field": "type", "unknown": unknown},
        )
    if date_from is not None and date_to is not None and date_to < date_from:
        raise ValidationError(
            "date_to is before date_from", code="archives.invalid_range", details={"field": "to"}
        )
    if not 1 <= limit <= 1000:
        raise ValidationError("limit must be 1-1000", code="archives.invalid_limit")
    if resident_id is None and application_id is None and loan_id is None and contract_id is None:
        raise ValidationError(
            "name a customer, an application, a loan or a contract",
            code="archives.no_filter",
        )
    since = _day_start(date_from)
    until = _day_start(None if date_to is None else date_to + timedelta(days=1))
    items: list[ArchiveItem] = []
    with ctx.uow() as uow:
        owner = None
        if resident_id is not None:
            owner = uow.risk.person_ref(str(ResidentIdNumber.parse(resident_id)))
        contracts = uow.contracts.search(
            owner_ref=owner,
            application_id=application_id,
            loan_id=loan_id,
            contract_id=contract_id,
            since=since,
            until=until,
            limit=limit,
        )
        if "contract" in kinds:
            items += [_contract_item(c) for c in contracts]
        if "authorization" in kinds and owner is not None:
            items += [
                _consent_item(c)
                for c in uow.risk.consents_of(owner)
                if (since is None or c.granted_at >= since)
                and (until is None or c.granted_at < until)
            ]
        if "evidence" in kinds:
            objects = [f"contract:{c.contract.contract_id}" for c in contracts]
            objects += [f"loan:{c.loan_id}" for c in contracts if c.loan_id is not None]
            if application_id is not None:
                objects.append(f"credit_application:{application_id}")
            if loan_id is not None:
                objects.append(f"loan:{loan_id}")
            leaves = uow.contracts.evidence_leaves(
                subject_ref=owner,
                object_refs=sorted(set(objects)),
                since=since,
                until=until,
                limit=limit,
            )
            items += [_leaf_item(leaf) for leaf in leaves]
        items.sort(key=lambda i: i.at, reverse=True)
        record(
            ctx,
            uow,
            actor=actor,
            action="archives.search",
            target="archives",
            request_id=request_id,
            details={
                "customer_ref": None if owner is None else owner[:12],
                "application_id": application_id,
                "loan_id": loan_id,
                "contract_id": contract_id,
                "from": None if date_from is None else date_from.isoformat(),
                "to": None if date_to is None else date_to.isoformat(),
                "types": sorted(kinds),
                "found": len(items[:limit]),
            },
        )
        uow.commit()
    return items[:limit]


def _contract_item(stored: StoredContract) -> ArchiveItem:
    c = stored.contract
    return ArchiveItem(
        kind="contract",
        reference=f"contract:{c.contract_id}",
        type=c.template_id.value,
        status=c.status.value,
        at=c.created_at,
        digest=c.document_digest,
        links={
            "contract_number": c.contract_number,
            "application_id": stored.application_id,
            "loan_id": stored.loan_id,
            "evidence_leaves": dict(stored.evidence),
        },
    )


def _consent_item(consent: Any) -> ArchiveItem:
    revoked = consent.revoked_at is not None
    return ArchiveItem(
        kind="authorization",
        reference=f"consent:{consent.consent_id}",
        type=consent.purpose.value,
        status="revoked" if revoked else "given",
        at=consent.granted_at,
        digest="",
        links={
            "text_version": consent.text_version,
            "expires_at": consent.expires_at.isoformat(),
            "revoked_at": consent.revoked_at.isoformat() if revoked else None,
        },
    )


def _leaf_item(leaf: dict[str, Any]) -> ArchiveItem:
    at = leaf["occurred_at"]
    return ArchiveItem(
        kind="evidence",
        reference=f"leaf:{leaf['seq']}",
        type=leaf["event_type"],
        status="logged",
        at=at if at.tzinfo is not None else at.replace(tzinfo=UTC),
        digest=leaf["payload_digest"],
        links={"object_ref": leaf["object_ref"], "seq": leaf["seq"]},
    )


# -- evidence bundles ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContractEvidence:
    """The parts of an evidence bundle (``adapters.verify.bundle_from_evidence`` assembles it)."""

    stored: StoredContract
    pdf: bytes
    signatures: list[tuple[str, Signature, KeyInfo, bytes]]  # role, signature, key, TSA token
    tsa_certificates: list[bytes]
    leaves: list[tuple[Any, Any]]  # (EvidenceEvent, InclusionProof)
    hasher: Any  # the log's TreeHasher
    tree_head: SignedTreeHead
    log_key: KeyInfo
    notary_receipt: dict[str, Any] | None


def contract_evidence(
    ctx: ServiceContext, actor: Principal, contract_id: str, *, request_id: str | None = None
) -> ContractEvidence:
    """Everything needed to verify a sealed contract independently; audited as an export."""
    actor.require(Permission.ARCHIVES_READ)
    setup = evidence_services.setup_of(ctx)
    with ctx.uow() as uow:
        stored: StoredContract = uow.contracts.get(contract_id)
        latest = uow.evidence.latest_tree_head()
    if stored.contract.status not in (ContractStatus.SEALED, ContractStatus.ARCHIVED):
        raise Conflict(
            "only a signed and sealed contract has an evidence bundle",
            code="contract.not_sealed",
            details={"status": stored.contract.status.value},
        )
    needed = max(stored.evidence.values()) + 1
    if latest is None or latest.head.tree_size < needed:
        evidence_services.sign_head(ctx, SYSTEM, request_id=request_id)
    with ctx.uow() as uow:
        head: SignedTreeHead = uow.evidence.latest_tree_head()
        has_receipt = any(
            r.tree_size == head.head.tree_size for r in uow.evidence.receipts(head.head.tree_size)
        )
    if not has_receipt:
        evidence_services.notarize(ctx, SYSTEM, request_id=request_id)
    c = stored.contract
    with ctx.uow() as uow:
        pdf: bytes = uow.contracts.pdf(contract_id)
        size = head.head.tree_size
        leaves = [
            (uow.evidence.leaf(seq).event, uow.evidence.inclusion_proof(seq, size))
            for seq in sorted(stored.evidence.values())
        ]
        hasher = uow.evidence.hasher()
        receipts = uow.evidence.receipts(size)
        record(
            ctx,
            uow,
            actor=actor,
            action="contracts.export_evidence",
            target=f"contract:{contract_id}",
            request_id=request_id,
            details={"tree_size": size, "leaves": sorted(stored.evidence.values())},
        )
        uow.commit()
    signatures = []
    for role, sig, stamp in (
        ("customer", c.customer_signature, c.signature_timestamp),
        ("seal", c.bank_seal, c.seal_timestamp),
    ):
        assert sig is not None and stamp is not None
        signature = Signature.from_json(sig)
        key = setup.keys.get(signature.key_id)
        signatures.append((role, signature, key, base64.b64decode(stamp["token"])))
    receipt = next((r for r in receipts if r.tree_size == size), None)
    return ContractEvidence(
        stored=stored,
        pdf=pdf,
        signatures=signatures,
        tsa_certificates=[setup.tsa.certificate_pem],
        leaves=leaves,
        hasher=hasher,
        tree_head=head,
        log_key=setup.keys.get(head.signature.key_id),
        notary_receipt=None if receipt is None else dict(receipt.receipt),
    )
