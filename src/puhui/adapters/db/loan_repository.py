"""Loans: contract, installments and transactions in, the ``Loan`` aggregate out.

Money is stored in minor units (分) and converted to ``Decimal`` here, at the boundary. The
contract schedule is stored as generated at booking, so a loan never changes because schedule
code changed. Transactions are stored by their number within the loan (``seq``); a replay that
re-splits a transaction updates its current version, while the journal keeps every version's
postings (append-only).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from puhui.adapters.db import tables as t
from puhui.adapters.db.journal import balances, from_minor, post_entries, to_minor
from puhui.domain.errors import NotFound
from puhui.domain.lending.allocation import ServicingPolicy
from puhui.domain.lending.eod import closing_path
from puhui.domain.lending.ledger import Account, JournalEntry
from puhui.domain.lending.loan import Loan
from puhui.domain.lending.terms import LoanTerms, Schedule, ScheduledPeriod, terms_to_mapping
from puhui.domain.lending.transactions import (
    Allocation,
    LoanState,
    LoanStatus,
    LoanTransaction,
    PrepaymentMode,
    TransactionType,
)


def _alloc(a: Allocation) -> dict[str, str]:
    return {
        "principal": str(a.principal),
        "interest": str(a.interest),
        "penalty": str(a.penalty),
        "fee": str(a.fee),
    }


def _alloc_of(d: dict[str, str] | None) -> Allocation:
    if not d:
        return Allocation()
    return Allocation(
        Decimal(d["principal"]), Decimal(d["interest"]), Decimal(d["penalty"]), Decimal(d["fee"])
    )


class LoanRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    # -- contract ---------------------------------------------------------------------------
    def add(
        self, schedule: Schedule, *, product_code: str, customer_id: int | None, now: datetime
    ) -> int:
        terms = schedule.terms
        loan_id = self.conn.execute(
            sa.insert(t.loans)
            .values(
                customer_id=customer_id,
                product_code=product_code,
                currency=terms.currency.code,
                upfront_fee_minor=to_minor(schedule.upfront_fees),
                principal_minor=to_minor(terms.principal),
                annual_rate=str(terms.annual_rate),
                terms=json.dumps(terms_to_mapping(terms), sort_keys=True),
                status=LoanStatus.APPROVED.value,
                maturity_date=schedule.maturity_date,
                created_at=now,
            )
            .returning(t.loans.c.id)
        ).scalar_one()
        rows = [
            {
                "loan_id": loan_id,
                "n": p.n,
                "from_date": p.from_date,
                "due_date": p.due_date,
                "days": p.days,
                "principal_minor": to_minor(p.principal),
                "interest_minor": to_minor(p.interest),
                "fee_minor": to_minor(p.fees),
            }
            for p in schedule.periods
        ]
        self.conn.execute(sa.insert(t.loan_installments), rows)
        return int(loan_id)

    def get(
        self, loan_id: int, *, for_update: bool = False, policy: ServicingPolicy | None = None
    ) -> Loan:
        query = sa.select(t.loans).where(t.loans.c.id == loan_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"loan {loan_id} not found", code="loan.not_found")
        terms = LoanTerms.from_mapping(json.loads(row["terms"]))
        periods = tuple(
            ScheduledPeriod(
                n=r["n"],
                from_date=r["from_date"],
                due_date=r["due_date"],
                days=r["days"],
                principal=from_minor(r["principal_minor"]),
                interest=from_minor(r["interest_minor"]),
                fees=from_minor(r["fee_minor"]),
                balance_after=Decimal(0),
            )
            for r in self.conn.execute(
                sa.select(t.loan_installments)
                .where(t.loan_installments.c.loan_id == loan_id)
                .order_by(t.loan_installments.c.n)
            ).mappings()
        )
        balance = terms.principal
        fixed = []
        for p in periods:
            balance -= p.principal
            fixed.append(
                ScheduledPeriod(
                    p.n, p.from_date, p.due_date, p.days, p.principal, p.interest, p.fees, balance
                )
            )
        upfront = from_minor(row["upfront_fee_minor"])
        schedule = Schedule(terms=terms, periods=tuple(fixed), upfront_fees=upfront)
        return Loan(
            id=loan_id,
            terms=terms,
            schedule=schedule,
            policy=policy or ServicingPolicy(),
            transactions=self._transactions(loan_id),
        )

    def replay_closing_ids(self, business_date: date) -> list[int]:
        """Open loans that end of day closes by replay and has not closed for the date yet."""
        p = t.loan_positions
        query = (
            sa.select(p.c.loan_id)
            .where(
                p.c.closing == "replay",
                p.c.status.in_(("active", "overdue")),
                p.c.as_of < business_date,
            )
            .order_by(p.c.loan_id)
        )
        return list(self.conn.execute(query).scalars())

    def product_code(self, loan_id: int) -> str:
        return str(
            self.conn.execute(
                sa.select(t.loans.c.product_code).where(t.loans.c.id == loan_id)
            ).scalar_one()
        )

    # -- transactions -------------------------------------------------------------------------
    def _transactions(self, loan_id: int) -> tuple[LoanTransaction, ...]:
        rows = self.conn.execute(
            sa.select(t.loan_transactions)
            .where(t.loan_transactions.c.loan_id == loan_id)
            .order_by(t.loan_transactions.c.seq)
        ).mappings()
        out = []
        for r in rows:
            detail = json.loads(r["detail"])
            out.append(
                LoanTransaction(
                    id=r["seq"],
                    type=TransactionType(r["type"]),
                    value_date=r["value_date"],
                    amount=Decimal(detail["amount"]),
                    allocation=_alloc_of(detail.get("allocation")),
                    reversed=r["reversed"],
                    mode=PrepaymentMode(r["mode"]) if r["mode"] else None,
                    recognised=_alloc_of(detail.get("recognised")),
                    waived=_alloc_of(detail.get("waived")),
                    version=r["version"],
                )
            )
        return tuple(out)

    def save_transactions(
        self, loan_id: int, txns: Iterable[LoanTransaction], *, now: datetime
    ) -> None:
        for txn in txns:
            values: dict[str, Any] = {
                "version": txn.version,
                "type": txn.type.value,
                "mode": txn.mode.value if txn.mode else None,
                "value_date": txn.value_date,
                "amount_minor": to_minor(txn.amount),
                "principal_minor": to_minor(txn.allocation.principal),
                "interest_minor": to_minor(txn.allocation.interest),
                "penalty_minor": to_minor(txn.allocation.penalty),
                "fee_minor": to_minor(txn.allocation.fee),
                "reversed": txn.reversed,
                "detail": json.dumps(
                    {
                        "amount": str(txn.amount),
                        "allocation": _alloc(txn.allocation),
                        "recognised": _alloc(txn.recognised),
                        "waived": _alloc(txn.waived),
                    },
                    sort_keys=True,
                ),
            }
            updated = self.conn.execute(
                sa.update(t.loan_transactions)
                .where(
                    t.loan_transactions.c.loan_id == loan_id, t.loan_transactions.c.seq == txn.id
                )
                .values(**values)
            )
            if updated.rowcount == 0:
                self.conn.execute(
                    sa.insert(t.loan_transactions).values(
                        loan_id=loan_id, seq=txn.id, created_at=now, **values
                    )
                )

    def set_status(
        self, loan_id: int, status: LoanStatus, *, disbursed_on: date | None = None
    ) -> None:
        values: dict[str, Any] = {"status": status.value}
        if disbursed_on is not None:
            values["disbursed_on"] = disbursed_on
        self.conn.execute(sa.update(t.loans).where(t.loans.c.id == loan_id).values(**values))

    # -- general ledger -----------------------------------------------------------------------
    def post(self, loan_id: int, entries: Iterable[JournalEntry]) -> int:
        return post_entries(self.conn, entries, owner="loan_id", owner_id=loan_id)

    def gl_balances(self, loan_id: int) -> dict[Account, Decimal]:
        """Debit-minus-credit balance per account of everything posted for this loan."""
        return balances(self.conn, owner="loan_id", owner_id=loan_id)

    # -- position for the end-of-day batch -----------------------------------------------------
    def write_position(self, loan_id: int, loan: Loan, state: LoanState) -> None:
        on = state.as_of
        regular = [i for i in state.installments if i.n > 0]
        current = next((i for i in regular if i.due_date > on), regular[-1])
        overdue = [i for i in regular if i.due_date <= on and i.unpaid.principal > 0]
        oldest = min(  # installment 0 (upfront fees) counts too, as in the replay
            (i.due_date for i in state.installments if i.due_date <= on and not i.settled),
            default=None,
        )
        rate = loan.terms.annual_rate * (1 + loan.policy.penalty_uplift)
        values: dict[str, Any] = {
            "status": state.status.value,
            "as_of": on,
            "period_n": current.n,
            "principal_outstanding": to_minor(state.principal_outstanding),
            "overdue_principal": to_minor(sum((i.unpaid.principal for i in overdue), Decimal(0))),
            "interest_receivable": to_minor(
                state.interest_outstanding + state.interest_accrued_not_due
            ),
            "penalty_receivable": to_minor(state.penalty_outstanding),
            "period_start": current.from_date.toordinal(),
            "period_days": max(1, (current.due_date - current.from_date).days),
            "period_due": current.due_date.toordinal(),
            "period_interest": to_minor(current.interest),
            "period_accrued": to_minor(max(current.accrued_interest, current.paid.interest)),
            "period_principal": to_minor(current.principal),
            "period_paid_principal": to_minor(current.paid.principal),
            "period_paid_interest": to_minor(current.paid.interest),
            "oldest_unpaid_due": oldest.toordinal() if oldest else 0,
            "penalty_rate_ppm": int((rate * 1_000_000).to_integral_value()),
            "penalty_day_basis": loan.policy.penalty_day_basis,
            "dpd": state.days_past_due,
            "class_code": state.loan_class.rank,
            "bucket": list(type(state.bucket)).index(state.bucket),
            "closing": closing_path(loan.policy.compound_overdue_interest, state),
        }
        li = t.loan_installments
        for i in regular:
            self.conn.execute(
                sa.update(li)
                .where(li.c.loan_id == loan_id, li.c.n == i.n)
                .values(
                    paid_principal_minor=to_minor(i.paid.principal),
                    paid_interest_minor=to_minor(i.paid.interest),
                )
            )
        updated = self.conn.execute(
            sa.update(t.loan_positions)
            .where(t.loan_positions.c.loan_id == loan_id)
            .values(**values)
        )
        if updated.rowcount == 0:
            self.conn.execute(sa.insert(t.loan_positions).values(loan_id=loan_id, **values))
