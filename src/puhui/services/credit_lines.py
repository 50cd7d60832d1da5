"""Revolving credit lines (随借随还): open a line, draw within it, repay any time, reverse
(R-10.3 drawdown and repayment within an approved limit, R-9.3 limits).

Each command loads the ``CreditLine``, applies one domain command on the business date, stores
the transactions it created or re-versioned and posts their journal entries — one unit of work,
audited. Interest accrues daily on what is drawn and is derived by replay; a line's general
ledger equals its replayed journal after every command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from puhui.domain.errors import ValidationError
from puhui.domain.identity import Permission, Principal
from puhui.domain.lending.credit_line import CreditLine, CreditLineTerms, LineChange, LineState
from puhui.services.audit import audited
from puhui.services.platform import business_date
from puhui.services.ports import ServiceContext, UnitOfWork
from puhui.services.servicing import parse_amount


def _decimal(data: Mapping[str, Any], key: str, default: str | None = None) -> Decimal:
    if key not in data and default is not None:
        return Decimal(default)
    return parse_amount(data.get(key), key)


def _int(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"{key} must be a whole number",
            code="credit_line.invalid_integer",
            details={"field": key},
        )
    return value


def open_line(
    ctx: ServiceContext,
    actor: Principal,
    data: Mapping[str, Any],
    *,
    customer_id: int | None = None,
    request_id: str | None = None,
) -> int:
    """Open an approved line: ``limit``, ``annual_rate``, ``expires_on`` and optional
    ``term_days_per_drawdown``, ``min_drawdown``, ``days_in_year``, ``penalty_uplift``,
    ``drawdown_fee_rate`` and ``drawdown_fee``."""
    known = {
        "limit",
        "annual_rate",
        "expires_on",
        "term_days_per_drawdown",
        "min_drawdown",
        "days_in_year",
        "penalty_uplift",
        "drawdown_fee_rate",
        "drawdown_fee",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValidationError(
            f"unknown field(s): {', '.join(unknown)}",
            code="credit_line.unknown_field",
            details={"fields": unknown},
        )

    def body(uow: UnitOfWork) -> tuple[int, str, dict[str, Any]]:
        actor.require(Permission.LOANS_SERVICE)
        if customer_id is not None:
            uow.customers.get(customer_id)
        try:
            expires = date.fromisoformat(str(data.get("expires_on")))
        except ValueError:
            raise ValidationError(
                "expires_on must be a date YYYY-MM-DD", code="credit_line.invalid_dates"
            ) from None
        terms = CreditLineTerms(
            limit=_decimal(data, "limit"),
            annual_rate=_decimal(data, "annual_rate"),
            opened_on=business_date(uow, clock=ctx.clock()),
            expires_on=expires,
            days_in_year=_int(data, "days_in_year", 360),
            min_drawdown=_decimal(data, "min_drawdown", "100.00"),
            term_days_per_drawdown=_int(data, "term_days_per_drawdown", 90),
            penalty_uplift=_decimal(data, "penalty_uplift", "0.5"),
            drawdown_fee_rate=_decimal(data, "drawdown_fee_rate", "0"),
            drawdown_fee=_decimal(data, "drawdown_fee", "0"),
        )
        line_id: int = uow.credit_lines.add(terms, customer_id=customer_id, now=ctx.clock())
        return line_id, f"credit_line:{line_id}", {"limit": str(terms.limit)}

    return audited(ctx, actor=actor, action="credit_lines.open", request_id=request_id, body=body)


def _command(
    ctx: ServiceContext,
    actor: Principal,
    line_id: int,
    action: str,
    apply: Callable[[CreditLine, date], LineChange],
    request_id: str | None,
    details: Mapping[str, Any],
) -> LineState:
    def body(uow: UnitOfWork) -> tuple[LineState, str, dict[str, Any]]:
        actor.require(Permission.LOANS_SERVICE)
        line: CreditLine = uow.credit_lines.get(line_id, for_update=True)
        on = business_date(uow, clock=ctx.clock())
        change = apply(line, on)
        state = change.line.state(on)
        uow.credit_lines.save(line_id, change.transactions, state.status.value, now=ctx.clock())
        uow.credit_lines.post(line_id, change.journal)
        return state, f"credit_line:{line_id}", {**details, "on": on.isoformat()}

    return audited(ctx, actor=actor, action=action, request_id=request_id, body=body)


def draw(
    ctx: ServiceContext,
    actor: Principal,
    line_id: int,
    amount: str | int,
    *,
    request_id: str | None = None,
) -> LineState:
    """提款: draw within the available limit."""
    value = parse_amount(amount)
    return _command(
        ctx,
        actor,
        line_id,
        "credit_lines.draw",
        lambda line, on: line.draw(value, on),
        request_id,
        {"amount": str(value)},
    )


def repay(
    ctx: ServiceContext,
    actor: Principal,
    line_id: int,
    amount: str | int,
    *,
    request_id: str | None = None,
) -> LineState:
    """还款: penalty, then interest, then principal of the oldest drawdown first."""
    value = parse_amount(amount)
    return _command(
        ctx,
        actor,
        line_id,
        "credit_lines.repay",
        lambda line, on: line.repay(value, on),
        request_id,
        {"amount": str(value)},
    )


def reverse(
    ctx: ServiceContext,
    actor: Principal,
    line_id: int,
    transaction: int,
    *,
    request_id: str | None = None,
) -> LineState:
    return _command(
        ctx,
        actor,
        line_id,
        "credit_lines.reverse",
        lambda line, on: line.reverse(transaction, on),
        request_id,
        {"transaction": transaction},
    )


def view_line(
    ctx: ServiceContext, actor: Principal, line_id: int
) -> tuple[CreditLine, LineState, dict[str, Decimal]]:
    actor.require(Permission.LOANS_READ)
    with ctx.uow() as uow:
        line: CreditLine = uow.credit_lines.get(line_id)
        on = max(business_date(uow, clock=ctx.clock()), line.terms.opened_on)
        return line, line.state(on), uow.credit_lines.gl_balances(line_id)
