"""E-contracts in the database (R-9.4, R-10.2(d,g)).

A contract row holds its identifiers, status and document digest in columns (for search), the
canonical PDF encrypted at rest (``FieldCipher``: it names the borrower), the offered loan terms
as JSON, and its state — signature, seal, their time-stamps, history, the evidence log leaves
that record it — as JSON. The domain object (``domain.evidence.contract.Contract``) is rebuilt
from the row; only :func:`domain.evidence.contract.transition` changes it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from puhui.adapters.crypto.fieldcrypt import FieldCipher
from puhui.adapters.db import evidence_tables as et
from puhui.adapters.db import tables as t
from puhui.domain.audit import HashAlgorithm
from puhui.domain.errors import NotFound
from puhui.domain.evidence.contract import (
    Contract,
    ContractStatus,
    Language,
    StatusChange,
    StoredContract,
    TemplateId,
)

PDF_CONTEXT = "contract.pdf"
LIVE = (
    ContractStatus.DRAFT,
    ContractStatus.OFFERED,
    ContractStatus.SIGNED,
    ContractStatus.SEALED,
    ContractStatus.ARCHIVED,
)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _state(stored: StoredContract) -> str:
    c = stored.contract
    document = {
        "customer_signature": None if c.customer_signature is None else dict(c.customer_signature),
        "signature_timestamp": None
        if c.signature_timestamp is None
        else dict(c.signature_timestamp),
        "bank_seal": None if c.bank_seal is None else dict(c.bank_seal),
        "seal_timestamp": None if c.seal_timestamp is None else dict(c.seal_timestamp),
        "history": [
            {
                "from": h.from_status.value,
                "to": h.to_status.value,
                "at": h.at.isoformat(),
                "note": h.note,
            }
            for h in c.history
        ],
        "evidence": dict(stored.evidence),
        "customer_id": stored.customer_id,
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False)


def _contract(row: RowMapping, state: Mapping[str, Any]) -> Contract:
    return Contract(
        contract_id=row["contract_id"],
        contract_number=row["contract_number"],
        template_id=TemplateId(row["template_id"]),
        template_version=row["template_version"],
        language=Language(row["language"]),
        customer_id=row["owner_ref"],
        document_digest=row["document_digest"],
        offer_expires_at=_aware(row["offer_expires_at"]),
        created_at=_aware(row["created_at"]),
        digest_algorithm=HashAlgorithm(row["digest_alg"]),
        status=ContractStatus(row["status"]),
        customer_signature=state.get("customer_signature"),
        signature_timestamp=state.get("signature_timestamp"),
        bank_seal=state.get("bank_seal"),
        seal_timestamp=state.get("seal_timestamp"),
        history=tuple(
            StatusChange(
                ContractStatus(h["from"]),
                ContractStatus(h["to"]),
                datetime.fromisoformat(h["at"]),
                h["note"],
            )
            for h in state.get("history", [])
        ),
    )


def _stored(row: RowMapping) -> StoredContract:
    state = json.loads(row["state"])
    return StoredContract(
        contract=_contract(row, state),
        application_id=row["application_id"],
        owner_ref=row["owner_ref"],
        terms=json.loads(row["terms"]),
        evidence={k: int(v) for k, v in state.get("evidence", {}).items()},
        customer_id=state.get("customer_id"),
        loan_id=row["loan_id"],
    )


_COLUMNS = [c for c in t.contracts.c if c.name != "pdf_enc"]


class ContractRepository:
    def __init__(self, conn: Connection, cipher: FieldCipher) -> None:
        self.conn = conn
        self.cipher = cipher

    def add(self, stored: StoredContract, pdf: bytes) -> int:
        c = stored.contract
        token = self.cipher.encrypt(pdf.hex(), context=PDF_CONTEXT)
        return int(
            self.conn.execute(
                sa.insert(t.contracts)
                .values(
                    contract_id=c.contract_id,
                    contract_number=c.contract_number,
                    template_id=c.template_id.value,
                    template_version=c.template_version,
                    language=c.language.value,
                    application_id=stored.application_id,
                    owner_ref=stored.owner_ref,
                    status=c.status.value,
                    document_digest=c.document_digest,
                    digest_alg=c.digest_algorithm.value,
                    pdf_enc=token,
                    terms=json.dumps(stored.terms, sort_keys=True, ensure_ascii=False),
                    state=_state(stored),
                    offer_expires_at=c.offer_expires_at,
                    created_at=c.created_at,
                    loan_id=stored.loan_id,
                )
                .returning(t.contracts.c.id)
            ).scalar_one()
        )

    def get(self, contract_id: str, *, for_update: bool = False) -> StoredContract:
        query = sa.select(*_COLUMNS).where(t.contracts.c.contract_id == contract_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(
                "no such contract",
                code="contract.not_found",
                details={"contract_id": str(contract_id)[:40]},
            )
        return _stored(row)

    def pdf(self, contract_id: str) -> bytes:
        token = self.conn.execute(
            sa.select(t.contracts.c.pdf_enc).where(t.contracts.c.contract_id == contract_id)
        ).scalar_one_or_none()
        if token is None:
            raise NotFound("no such contract", code="contract.not_found")
        return bytes.fromhex(self.cipher.decrypt(token, context=PDF_CONTEXT))

    def save(self, stored: StoredContract) -> None:
        """Write the status, state and loan of a contract changed by ``transition``."""
        self.conn.execute(
            sa.update(t.contracts)
            .where(t.contracts.c.contract_id == stored.contract.contract_id)
            .values(
                status=stored.contract.status.value,
                state=_state(stored),
                loan_id=stored.loan_id,
            )
        )

    def live_for_application(self, application_id: int) -> list[StoredContract]:
        query = (
            sa.select(*_COLUMNS)
            .where(t.contracts.c.application_id == application_id)
            .where(t.contracts.c.status.in_([s.value for s in LIVE]))
        )
        return [_stored(r) for r in self.conn.execute(query).mappings()]

    def search(
        self,
        *,
        owner_ref: str | None = None,
        application_id: int | None = None,
        loan_id: int | None = None,
        contract_id: str | None = None,
        template_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[StoredContract]:
        c = t.contracts.c
        query = sa.select(*_COLUMNS).order_by(c.created_at.desc(), c.id.desc()).limit(limit)
        for column, value in (
            (c.owner_ref, owner_ref),
            (c.application_id, application_id),
            (c.loan_id, loan_id),
            (c.contract_id, contract_id),
            (c.template_id, template_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(c.created_at >= since)
        if until is not None:
            query = query.where(c.created_at < until)
        return [_stored(r) for r in self.conn.execute(query).mappings()]

    def evidence_leaves(
        self,
        *,
        subject_ref: str | None = None,
        object_refs: list[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> list[dict[str, Any]]:
        """Evidence log leaves about a person or objects (archive search; no proofs)."""
        leaves = et.evidence_leaves.c
        query = (
            sa.select(
                leaves.seq,
                leaves.event_type,
                leaves.object_ref,
                leaves.payload_digest,
                leaves.occurred_at,
            )
            .order_by(leaves.seq.desc())
            .limit(limit)
        )
        if subject_ref is None and not object_refs:
            return []
        if subject_ref is not None and object_refs:
            query = query.where(
                sa.or_(leaves.subject_ref == subject_ref, leaves.object_ref.in_(object_refs))
            )
        elif subject_ref is not None:
            query = query.where(leaves.subject_ref == subject_ref)
        else:
            query = query.where(leaves.object_ref.in_(object_refs or []))
        if since is not None:
            query = query.where(leaves.occurred_at >= since)
        if until is not None:
            query = query.where(leaves.occurred_at < until)
        return [dict(r) for r in self.conn.execute(query).mappings()]
