"""Anti-fraud endpoints under /api/v1/fraud (R-9.6): black/grey/white lists (add, import,
look up, removal by maker-checker), fraud cases, and the back-test of rules and graph signals.
All need ``fraud.manage``; every change is audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from puhui.adapters.web.deps import CtxDep, PrincipalDep, RequestIdDep
from puhui.domain.fraud.cases import CaseStatus, FraudCase
from puhui.domain.fraud.lists import ListEntry
from puhui.services import fraud

router = APIRouter(prefix="/api/v1/fraud", tags=["anti-fraud"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class EntryIn(Strict):
    list_type: StrictStr = Field(max_length=8)
    kind: StrictStr = Field(max_length=16)
    value: StrictStr = Field(max_length=200)
    reason: StrictStr = Field(max_length=400)
    evidence: StrictStr | None = Field(default=None, max_length=400)
    expires_on: StrictStr | None = Field(default=None, max_length=10)


class ImportIn(Strict):
    source: StrictStr = Field(min_length=1, max_length=80)
    rows: list[dict[str, Any]] = Field(max_length=10_000)


class LookupIn(Strict):
    kind: StrictStr = Field(max_length=16)
    value: StrictStr = Field(max_length=200)


class ReasonIn(Strict):
    reason: StrictStr = Field(max_length=400)


class CaseIn(Strict):
    application_id: StrictInt
    reason: StrictStr = Field(max_length=400)


class CaseMoveIn(Strict):
    status: StrictStr = Field(max_length=14)
    note: StrictStr = Field(max_length=400)


def entry_json(e: ListEntry, at: datetime | None = None) -> dict[str, Any]:
    out = {
        "id": e.id,
        "list_type": e.list_type.value,
        "kind": e.kind.value,
        "masked": e.masked,
        "source": e.source.value,
        "reason": e.reason,
        "evidence": e.evidence,
        "added_by": e.added_by,
        "added_at": e.added_at.isoformat(),
        "expires_at": None if e.expires_at is None else e.expires_at.isoformat(),
        "removed_at": None if e.removed_at is None else e.removed_at.isoformat(),
    }
    if at is not None:
        out["active"] = e.is_active(at)
    return out


def case_json(c: FraudCase) -> dict[str, Any]:
    return {
        "id": c.id,
        "application_id": c.application_id,
        "status": c.status.value,
        "reason": c.reason,
        "opened_by": c.opened_by,
        "opened_at": c.opened_at.isoformat(),
        "history": [
            {
                "from": None if h.from_status is None else h.from_status.value,
                "to": h.to_status.value,
                "by": h.by,
                "at": h.at.isoformat(),
                "note": h.note,
            }
            for h in c.history
        ],
    }


@router.post("/list-entries", status_code=201)
def add_entry(body: EntryIn, ctx: CtxDep, actor: PrincipalDep, rid: RequestIdDep) -> dict[str, Any]:
    data = body.model_dump(exclude_none=True)
    return entry_json(fraud.add_list_entry(ctx, actor, data, request_id=rid), ctx.clock())


@router.post("/list-imports")
def import_entries(
    body: ImportIn, ctx: CtxDep, actor: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    result = fraud.import_list(ctx, actor, body.rows, source_name=body.source, request_id=rid)
    return {
        "added": len(result.added),
        "entry_ids": result.added,
        "errors": [
            {"row": e.row, "field": e.field, "code": e.code, "message": e.message}
            for e in result.errors
        ],
    }


@router.post("/list-lookups")
def lookup(body: LookupIn, ctx: CtxDep, actor: PrincipalDep) -> list[dict[str, Any]]:
    now = ctx.clock()
    return [entry_json(e, now) for e in fraud.lookup(ctx, actor, body.kind, body.value)]


@router.post("/list-entries/{entry_id}/removal-requests", status_code=202)
def request_removal(
    entry_id: int, body: ReasonIn, ctx: CtxDep, actor: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    pending = fraud.request_list_removal(ctx, actor, entry_id, body.reason, request_id=rid)
    return {"status": "pending_approval", "pending_action_id": pending.id}


@router.post("/cases", status_code=201)
def open_case(body: CaseIn, ctx: CtxDep, actor: PrincipalDep, rid: RequestIdDep) -> dict[str, Any]:
    case = fraud.open_case(ctx, actor, body.application_id, body.reason, request_id=rid)
    return case_json(case)


@router.post("/cases/{case_id}/status")
def move_case(
    case_id: int, body: CaseMoveIn, ctx: CtxDep, actor: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    case = fraud.move_case(ctx, actor, case_id, body.status, body.note, request_id=rid)
    return case_json(case)


@router.get("/cases")
def cases(
    ctx: CtxDep, actor: PrincipalDep, status: CaseStatus | None = Query(default=None)
) -> list[dict[str, Any]]:
    return [case_json(c) for c in fraud.list_cases(ctx, actor, status)]


@router.get("/backtest")
def backtest(ctx: CtxDep, actor: PrincipalDep) -> dict[str, Any]:
    return fraud.backtest_report(ctx, actor)
