"""``puhui loan book|disburse|repay|prepay|reverse|show``: loan servicing from the shell.

Commands run as the system operator and are audited as such; dates are the platform business
date (``puhui business-date set``). Amounts are decimal strings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from puhui.adapters.cli.errors import handles_errors
from puhui.domain.errors import ValidationError
from puhui.domain.identity import SYSTEM
from puhui.domain.lending.transactions import LoanState


def _ctx() -> Any:
    from puhui.bootstrap import build_platform
    from puhui.settings import Settings

    return build_platform(Settings()).ctx


def _print(loan_id: int, state: LoanState) -> None:
    typer.echo(
        f"loan {loan_id} {state.status.value} as of {state.as_of}: principal "
        f"{state.principal_outstanding:,.2f}, interest {state.interest_outstanding:,.2f} due + "
        f"{state.interest_accrued_not_due:,.2f} accrued, penalty {state.penalty_outstanding:,.2f},"
        f" {state.days_past_due} days past due, {state.loan_class.label_zh}"
    )


def register(loan_app: typer.Typer) -> None:
    @loan_app.command("book")
    @handles_errors
    def book(
        terms: Annotated[Path, typer.Option(help="JSON terms file (see docs/loan-schedules.md).")],
        product: Annotated[str, typer.Option(help="Product code, e.g. MICRO-BIZ.")],
        customer: Annotated[int | None, typer.Option(help="Customer id.")] = None,
    ) -> None:
        """Book an approved loan under a product."""
        from puhui.services.servicing import book_loan, view_loan

        try:
            data = json.loads(terms.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise ValidationError(
                f"cannot read the terms file: {err}", code="terms.malformed_json"
            ) from None
        ctx = _ctx()
        loan_id = book_loan(ctx, SYSTEM, data, product_code=product, customer_id=customer)
        _print(loan_id, view_loan(ctx, SYSTEM, loan_id).state)

    @loan_app.command("disburse")
    @handles_errors
    def disburse(loan_id: int) -> None:
        """Disburse a booked loan (放款)."""
        from puhui.services.servicing import disburse as run

        _print(loan_id, run(_ctx(), SYSTEM, loan_id))

    @loan_app.command("repay")
    @handles_errors
    def repay(loan_id: int, amount: str) -> None:
        """Record a repayment of AMOUNT on the business date."""
        from puhui.services.servicing import repay as run

        _print(loan_id, run(_ctx(), SYSTEM, loan_id, amount))

    @loan_app.command("prepay")
    @handles_errors
    def prepay(
        loan_id: int,
        amount: Annotated[str | None, typer.Argument(help="Omit to pay the loan off.")] = None,
        mode: Annotated[str, typer.Option(help="reduce_term or reduce_installment.")] = (
            "reduce_term"
        ),
    ) -> None:
        """Prepay (提前还款): in full, or AMOUNT reducing the term or the installment."""
        from puhui.services.servicing import prepay as run

        _print(loan_id, run(_ctx(), SYSTEM, loan_id, amount, mode))

    @loan_app.command("charge-fee")
    @handles_errors
    def charge_fee(loan_id: int, amount: str) -> None:
        """Charge a fee of AMOUNT, collected with the next installment due."""
        from puhui.services.servicing import charge_fee as run

        _print(loan_id, run(_ctx(), SYSTEM, loan_id, amount))

    @loan_app.command("reverse")
    @handles_errors
    def reverse(loan_id: int, transaction: int) -> None:
        """Reverse a transaction (冲正); the later ones are replayed."""
        from puhui.services.servicing import reverse as run

        _print(loan_id, run(_ctx(), SYSTEM, loan_id, transaction))

    @loan_app.command("show")
    @handles_errors
    def show(loan_id: int) -> None:
        """The loan's position, schedule and transactions."""
        from puhui.services.servicing import view_loan

        view = view_loan(_ctx(), SYSTEM, loan_id)
        _print(loan_id, view.state)
        for i in view.state.installments:
            if i.n == 0:
                continue
            typer.echo(
                f"  {i.n:>3} {i.due_date} principal {i.principal:>12,.2f} interest "
                f"{i.interest:>10,.2f} paid {i.paid.total:>12,.2f}"
            )
        for t in view.loan.transactions:
            if not t.is_accrual:
                flag = " (reversed)" if t.reversed else ""
                typer.echo(f"  #{t.id} {t.value_date} {t.type.value} {t.amount:,.2f}{flag}")
