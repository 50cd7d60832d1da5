"""E-contract and archive endpoints under /api/v1 (R-9.4, R-10.2(d,g), R-9.5(g)).

Staff: offer the contract of an approved application, read it and its PDF, seal, withdraw,
book the loan, export the evidence bundle, search the archives. Customers (their portal
session): list their contracts, read the PDF, ask for a signing code, sign with it.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, StrictStr

from puhui.adapters.evidence_bundle import bundle_document
from puhui.adapters.verify import dump_bundle
from puhui.adapters.web.deps import CtxDep, CustomerDep, PrincipalDep, RequestIdDep
from puhui.domain.evidence.contract import StoredContract
from puhui.services import archives, contracts

router = APIRouter(prefix="/api/v1", tags=["contracts"])

_ID = r"^ct-[0-9a-f]{16}$"
ContractId = Annotated[str, Field(pattern=_ID)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class OfferIn(Strict):
    disbursement_account: StrictStr = Field(max_length=32)
    language: StrictStr = Field(default="zh-CN", max_length=8)
    amount: StrictStr | None = Field(default=None, max_length=24)
    repayment_method: StrictStr | None = Field(default=None, max_length=24)


class SignIn(Strict):
    code: StrictStr = Field(min_length=1, max_length=12)


class WithdrawIn(Strict):
    reason: StrictStr = Field(min_length=1, max_length=400)


def contract_json(stored: StoredContract) -> dict[str, Any]:
    c = stored.contract
    signature = c.customer_signature or {}
    seal = c.bank_seal or {}
    return {
        "contract_id": c.contract_id,
        "contract_number": c.contract_number,
        "template": {
            "id": c.template_id.value,
            "version": c.template_version,
            "language": c.language.value,
        },
        "status": c.status.value,
        "application_id": stored.application_id,
        "loan_id": stored.loan_id,
        "document_digest": c.document_digest,
        "digest_alg": c.digest_algorithm.value,
        "offer_expires_at": c.offer_expires_at.isoformat(),
        "created_at": c.created_at.isoformat(),
        "terms": dict(stored.terms),
        "signature": {"key_id": signature["key_id"], "suite": signature["suite"]}
        if signature
        else None,
        "seal": {"key_id": seal["key_id"], "suite": seal["suite"]} if seal else None,
        "evidence_leaves": dict(stored.evidence),
        "history": [
            {"from": h.from_status.value, "to": h.to_status.value, "at": h.at.isoformat()}
            for h in c.history
        ],
    }


def _pdf(body: bytes, stored_id: str) -> Response:
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{stored_id}.pdf"'},
    )


# -- staff ---------------------------------------------------------------------------------------


@router.post("/applications/{application_id}/contract", status_code=201)
def offer(
    application_id: int, body: OfferIn, ctx: CtxDep, actor: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    stored = contracts.offer_contract(
        ctx,
        actor,
        application_id,
        disbursement_account=body.disbursement_account,
        language=body.language,
        amount=body.amount,
        repayment_method=body.repayment_method,
        request_id=rid,
    )
    return contract_json(stored)


@router.get("/contracts/{contract_id}")
def read(contract_id: ContractId, ctx: CtxDep, actor: PrincipalDep) -> dict[str, Any]:
    return contract_json(contracts.get_contract(ctx, actor, contract_id))


@router.get("/contracts/{contract_id}/pdf")
def read_pdf(
    contract_id: ContractId, ctx: CtxDep, actor: PrincipalDep, rid: RequestIdDep
) -> Response:
    return _pdf(
        contracts.contract_pdf(ctx, contract_id=contract_id, actor=actor, request_id=rid),
        contract_id,
    )


@router.post("/contracts/{contract_id}/seal")
def seal(
    contract_id: ContractId, ctx: CtxDep, actor: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    return contract_json(contracts.seal_contract(ctx, actor, contract_id, request_id=rid))


@router.post("/contracts/{contract_id}/withdrawal")
def withdraw(
    contract_id: ContractId, body: WithdrawIn, ctx: CtxDep, actor: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    stored = contracts.withdraw_contract(ctx, actor, contract_id, body.reason, request_id=rid)
    return contract_json(stored)


@router.post("/contracts/{contract_id}/loan", status_code=201)
def book(
    contract_id: ContractId, ctx: CtxDep, actor: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    loan_id = contracts.book_loan_from_contract(ctx, actor, contract_id, request_id=rid)
    return {"loan_id": loan_id, "contract_id": contract_id}


@router.get("/contracts/{contract_id}/evidence-bundle")
def evidence_bundle(
    contract_id: ContractId, ctx: CtxDep, actor: PrincipalDep, rid: RequestIdDep
) -> Response:
    parts = archives.contract_evidence(ctx, actor, contract_id, request_id=rid)
    return Response(
        dump_bundle(bundle_document(parts)),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="{contract_id}.bundle.json"'},
    )


@router.get("/archives")
def search(
    ctx: CtxDep,
    actor: PrincipalDep,
    rid: RequestIdDep,
    resident_id: Annotated[str | None, Query(max_length=32)] = None,
    application_id: int | None = None,
    loan_id: int | None = None,
    contract_id: Annotated[str | None, Query(pattern=_ID)] = None,
    date_from: Annotated[date | None, Query(alias="from")] = None,
    date_to: Annotated[date | None, Query(alias="to")] = None,
    type: Annotated[list[str] | None, Query(max_length=3)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    items = archives.search_archives(
        ctx,
        actor,
        resident_id=resident_id,
        application_id=application_id,
        loan_id=loan_id,
        contract_id=contract_id,
        date_from=date_from,
        date_to=date_to,
        kinds=type or archives.KINDS,
        limit=limit,
        request_id=rid,
    )
    return [
        {
            "kind": i.kind,
            "reference": i.reference,
            "type": i.type,
            "status": i.status,
            "at": i.at.isoformat(),
            "digest": i.digest,
            "links": i.links,
        }
        for i in items
    ]


# -- customers -----------------------------------------------------------------------------------


@router.get("/customer/contracts", tags=["customer"])
def my_contracts(ctx: CtxDep, customer: CustomerDep) -> list[dict[str, Any]]:
    return [contract_json(s) for s in contracts.my_contracts(ctx, customer)]


@router.get("/customer/contracts/{contract_id}/pdf", tags=["customer"])
def my_pdf(
    contract_id: ContractId, ctx: CtxDep, customer: CustomerDep, rid: RequestIdDep
) -> Response:
    return _pdf(
        contracts.contract_pdf(ctx, contract_id=contract_id, customer=customer, request_id=rid),
        contract_id,
    )


@router.post("/customer/contracts/{contract_id}/signing-code", status_code=202, tags=["customer"])
def signing_code(
    contract_id: ContractId, ctx: CtxDep, customer: CustomerDep, rid: RequestIdDep
) -> dict[str, str]:
    message_id = contracts.request_signing_code(ctx, customer, contract_id, request_id=rid)
    return {"message_id": message_id}


@router.post("/customer/contracts/{contract_id}/signature", tags=["customer"])
def sign(
    contract_id: ContractId, body: SignIn, ctx: CtxDep, customer: CustomerDep, rid: RequestIdDep
) -> dict[str, Any]:
    stored = contracts.sign_contract(ctx, customer, contract_id, body.code, request_id=rid)
    return contract_json(stored)
