"""Loan servicing endpoints under /api/v1: products, quote, book, disburse, repay, prepay,
reverse, view, trial balance and portfolio by class. Amounts are decimal strings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from puhui.adapters.lending_documents import money, schedule_document
from puhui.adapters.web.deps import CtxDep, PrincipalDep, RequestIdDep
from puhui.domain.lending.apr import AnnualizedRate, check_rate_ceiling, schedule_annualized_rate
from puhui.domain.lending.eod import class_of_rank
from puhui.domain.lending.terms import Schedule
from puhui.domain.lending.transactions import LoanState
from puhui.services import credit_lines, servicing

router = APIRouter(prefix="/api/v1", tags=["loans"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class BookIn(Strict):
    terms: dict[str, Any]
    product_code: StrictStr = Field(max_length=40)
    customer_id: StrictInt | None = None


class AmountIn(Strict):
    amount: StrictStr = Field(max_length=24, pattern=r"^-?\d+(\.\d+)?$")


class PrepayIn(Strict):
    amount: StrictStr | None = Field(default=None, max_length=24, pattern=r"^-?\d+(\.\d+)?$")
    mode: StrictStr = Field(default="reduce_term", max_length=24)


def _money(value: Decimal) -> str:
    return money(value.quantize(Decimal("0.01")))


def _document(
    schedule: Schedule, apr: AnnualizedRate, ceiling: Decimal = servicing.RATE_CEILING
) -> dict[str, Any]:
    return schedule_document(schedule, apr, check_rate_ceiling(apr, ceiling))


def state_json(loan_id: int, state: LoanState) -> dict[str, Any]:
    return {
        "loan_id": loan_id,
        "as_of": state.as_of.isoformat(),
        "status": state.status.value,
        "principal_outstanding": _money(state.principal_outstanding),
        "interest_outstanding": _money(state.interest_outstanding),
        "interest_accrued_not_due": _money(state.interest_accrued_not_due),
        "penalty_outstanding": _money(state.penalty_outstanding),
        "fee_outstanding": _money(state.fee_outstanding),
        "total_outstanding": _money(state.total_outstanding),
        "days_past_due": state.days_past_due,
        "bucket": state.bucket.value,
        "class": state.loan_class.value,
        "class_zh": state.loan_class.label_zh,
    }


@router.get("/products")
def products(ctx: CtxDep) -> list[dict[str, Any]]:
    """The loan products on offer, with their limits (public: shown before applying)."""
    return [
        {
            "code": p.code,
            "name": p.name_en,
            "name_zh": p.name_zh,
            "segment": p.segment.value,
            "currency": p.currency.code,
            "min_principal": str(p.min_principal),
            "max_principal": str(p.max_principal),
            "min_repayments": p.min_repayments,
            "max_repayments": p.max_repayments,
            "amortizations": sorted(a.value for a in p.amortizations),
            "min_rate": str(p.min_rate),
            "max_rate": str(p.max_rate),
            "rate_ceiling": str(p.rate_ceiling),
            "penalty_uplift": str(p.servicing.penalty_uplift),
        }
        for p in ctx.products.values()
    ]


@router.post("/loan-quotes")
def loan_quote(body: dict[str, Any]) -> dict[str, Any]:
    """Schedule and annualized rate (IRR method, PBoC 2021 No. 3) of a terms object."""
    q = servicing.quote(body)
    return _document(q.schedule, q.apr)


@router.post("/loans", status_code=201)
def book(body: BookIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep) -> dict[str, Any]:
    loan_id = servicing.book_loan(
        ctx,
        principal,
        body.terms,
        product_code=body.product_code,
        customer_id=body.customer_id,
        request_id=rid,
    )
    return loan(loan_id, ctx, principal)


@router.get("/loans/{loan_id}")
def loan(loan_id: int, ctx: CtxDep, principal: PrincipalDep) -> dict[str, Any]:
    view = servicing.view_loan(ctx, principal, loan_id)
    txns = [
        {
            "id": t.id,
            "type": t.type.value,
            "value_date": t.value_date.isoformat(),
            "amount": _money(t.amount),
            "principal": _money(t.allocation.principal),
            "interest": _money(t.allocation.interest),
            "penalty": _money(t.allocation.penalty),
            "fee": _money(t.allocation.fee),
            "reversed": t.reversed,
            "version": t.version,
        }
        for t in view.loan.transactions
        if not t.is_accrual
    ]
    return {
        **state_json(loan_id, view.state),
        "product_code": view.product_code,
        "schedule": _document(
            view.loan.schedule,
            schedule_annualized_rate(view.loan.schedule),
            servicing.product(ctx, view.product_code).rate_ceiling
            if view.product_code in ctx.products
            else servicing.RATE_CEILING,
        ),
        "transactions": txns,
        "ledger": {a.code: _money(v) for a, v in sorted(view.gl.items())},
    }


@router.post("/loans/{loan_id}/disbursement")
def disburse(
    loan_id: int, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    return state_json(loan_id, servicing.disburse(ctx, principal, loan_id, request_id=rid))


@router.post("/loans/{loan_id}/repayments")
def repay(
    loan_id: int, body: AmountIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    return state_json(
        loan_id, servicing.repay(ctx, principal, loan_id, body.amount, request_id=rid)
    )


@router.post("/loans/{loan_id}/prepayments")
def prepay(
    loan_id: int, body: PrepayIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    return state_json(
        loan_id, servicing.prepay(ctx, principal, loan_id, body.amount, body.mode, request_id=rid)
    )


@router.post("/loans/{loan_id}/transactions/{transaction_id}/reversal")
def reverse(
    loan_id: int, transaction_id: int, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    return state_json(
        loan_id, servicing.reverse(ctx, principal, loan_id, transaction_id, request_id=rid)
    )


class WriteOffIn(Strict):
    reason: StrictStr = Field(max_length=400)


@router.post("/loans/{loan_id}/write-off-requests", status_code=202)
def request_write_off(
    loan_id: int, body: WriteOffIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    """Ask for a write-off (核销); it happens when a checker approves
    ``POST /api/v1/approvals/{id}/approve``."""
    pending = servicing.request_write_off(ctx, principal, loan_id, body.reason, request_id=rid)
    return {"status": "pending_approval", "pending_action_id": pending.id}


@router.post("/loans/{loan_id}/charge-off-requests", status_code=202)
def request_charge_off(
    loan_id: int, body: WriteOffIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    """Ask to end recovery of a written-off loan; it happens when a checker approves."""
    pending = servicing.request_charge_off(ctx, principal, loan_id, body.reason, request_id=rid)
    return {"status": "pending_approval", "pending_action_id": pending.id}


@router.post("/loans/{loan_id}/fees")
def charge_fee(
    loan_id: int, body: AmountIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    """Charge a fee, collected with the next installment due."""
    return state_json(
        loan_id, servicing.charge_fee(ctx, principal, loan_id, body.amount, request_id=rid)
    )


@router.post("/loans/{loan_id}/recoveries")
def recover(
    loan_id: int, body: AmountIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    return state_json(
        loan_id, servicing.recover(ctx, principal, loan_id, body.amount, request_id=rid)
    )


@router.get("/ledger/trial-balance")
def trial_balance(ctx: CtxDep, principal: PrincipalDep) -> dict[str, Any]:
    rows = servicing.trial_balance(ctx, principal)
    debit = sum(d for _, d, _ in rows)
    credit = sum(c for _, _, c in rows)
    return {
        "accounts": [
            {
                "code": a.code,
                "name": a.label_en,
                "name_zh": a.label_zh,
                "debit": _money(Decimal(d) / 100),
                "credit": _money(Decimal(c) / 100),
                "balance": _money(Decimal(d - c) / 100),
            }
            for a, d, c in rows
        ],
        "total_debit": _money(Decimal(debit) / 100),
        "total_credit": _money(Decimal(credit) / 100),
        "balanced": debit == credit,
    }


@router.get("/ledger/reconciliation")
def reconciliation(ctx: CtxDep, principal: PrincipalDep) -> dict[str, Any]:
    """Loan sub-ledger (positions) against the general ledger, per receivable account."""
    rows = servicing.reconcile(ctx, principal)
    return {
        "accounts": [
            {
                "code": r.account.code,
                "name": r.account.label_en,
                "name_zh": r.account.label_zh,
                "subledger": _money(Decimal(r.subledger_minor) / 100),
                "ledger": _money(Decimal(r.gl_minor) / 100),
                "difference": _money(Decimal(r.difference_minor) / 100),
            }
            for r in rows
        ],
        "reconciled": all(r.difference_minor == 0 for r in rows),
    }


@router.get("/portfolio/classification")
def portfolio(ctx: CtxDep, principal: PrincipalDep) -> dict[str, Any]:
    rows = servicing.portfolio_by_class(ctx, principal)
    return {
        "classes": [
            {
                "class": class_of_rank(r.class_code).value,
                "class_zh": class_of_rank(r.class_code).label_zh,
                "loans": r.loans,
                "principal_outstanding": _money(Decimal(r.principal_minor) / 100),
                "overdue_principal": _money(Decimal(r.overdue_minor) / 100),
            }
            for r in rows
        ]
    }


# --- revolving credit lines (随借随还) ---------------------------------------------------------


class LineIn(Strict):
    terms: dict[str, Any]
    customer_id: StrictInt | None = None


def line_json(line_id: int, state: Any) -> dict[str, Any]:
    return {
        "credit_line_id": line_id,
        "as_of": state.as_of.isoformat(),
        "status": state.status.value,
        "limit": _money(state.limit),
        "available": _money(state.available),
        "principal_outstanding": _money(state.principal_outstanding),
        "interest_outstanding": _money(state.interest_outstanding),
        "penalty_outstanding": _money(state.penalty_outstanding),
        "fee_outstanding": _money(state.fee_outstanding),
        "total_owed": _money(state.total_owed),
        "days_past_due": state.days_past_due,
        "bucket": state.bucket.value,
        "class": state.line_class.value,
        "class_zh": state.line_class.label_zh,
        "drawdowns": [
            {
                "id": d.id,
                "drawn_on": d.drawn_on.isoformat(),
                "due_on": d.due_on.isoformat(),
                "amount": _money(d.amount),
                "principal_outstanding": _money(d.principal_outstanding),
                "days_past_due": d.days_past_due,
            }
            for d in state.drawdowns
        ],
    }


@router.post("/credit-lines", status_code=201)
def open_line(
    body: LineIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    line_id = credit_lines.open_line(
        ctx, principal, body.terms, customer_id=body.customer_id, request_id=rid
    )
    return get_line(line_id, ctx, principal)


@router.get("/credit-lines/{line_id}")
def get_line(line_id: int, ctx: CtxDep, principal: PrincipalDep) -> dict[str, Any]:
    line, state, gl = credit_lines.view_line(ctx, principal, line_id)
    txns = [
        {
            "id": t.id,
            "type": t.type.value,
            "value_date": t.value_date.isoformat(),
            "amount": _money(t.amount),
            "reversed": t.reversed,
        }
        for t in line.transactions
        if not t.is_accrual
    ]
    return {
        **line_json(line_id, state),
        "transactions": txns,
        "ledger": {code: _money(v) for code, v in sorted(gl.items())},
    }


@router.post("/credit-lines/{line_id}/drawdowns")
def draw(
    line_id: int, body: AmountIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    return line_json(
        line_id, credit_lines.draw(ctx, principal, line_id, body.amount, request_id=rid)
    )


@router.post("/credit-lines/{line_id}/repayments")
def repay_line(
    line_id: int, body: AmountIn, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    return line_json(
        line_id, credit_lines.repay(ctx, principal, line_id, body.amount, request_id=rid)
    )


@router.post("/credit-lines/{line_id}/transactions/{transaction_id}/reversal")
def reverse_line(
    line_id: int, transaction_id: int, ctx: CtxDep, principal: PrincipalDep, rid: RequestIdDep
) -> dict[str, Any]:
    return line_json(
        line_id, credit_lines.reverse(ctx, principal, line_id, transaction_id, request_id=rid)
    )
