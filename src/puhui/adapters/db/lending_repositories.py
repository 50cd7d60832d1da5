"""Read models of the servicing tables: trial balance, sub-ledger totals, portfolio by class."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from puhui.adapters.db import tables as t


@dataclass(frozen=True)
class AccountTotals:
    account: str
    debit_minor: int
    credit_minor: int

    @property
    def balance_minor(self) -> int:
        return self.debit_minor - self.credit_minor


@dataclass(frozen=True)
class ClassRow:
    class_code: int
    loans: int
    principal_minor: int
    overdue_minor: int


class LedgerReadModel:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def trial_balance(self, through: date | None = None) -> list[AccountTotals]:
        jp = t.journal_postings
        where = [] if through is None else [jp.c.value_date <= through]
        debits = dict(
            self.conn.execute(
                sa.select(jp.c.debit_account, sa.func.sum(jp.c.amount_minor))
                .where(*where)
                .group_by(jp.c.debit_account)
            ).all()
        )
        credits = dict(
            self.conn.execute(
                sa.select(jp.c.credit_account, sa.func.sum(jp.c.amount_minor))
                .where(*where)
                .group_by(jp.c.credit_account)
            ).all()
        )
        return [
            AccountTotals(a, int(debits.get(a, 0)), int(credits.get(a, 0)))
            for a in sorted(set(debits) | set(credits))
        ]

    def subledger_totals(self) -> dict[str, int]:
        p = t.loan_positions
        row = self.conn.execute(
            sa.select(
                sa.func.coalesce(sa.func.sum(p.c.principal_outstanding), 0),
                sa.func.coalesce(sa.func.sum(p.c.interest_receivable), 0),
                sa.func.coalesce(sa.func.sum(p.c.penalty_receivable), 0),
            ).where(p.c.status.in_(("active", "overdue")))
        ).one()
        return {"principal": int(row[0]), "interest": int(row[1]), "penalty": int(row[2])}

    def loan_gl_balances(self) -> dict[str, int]:
        """Debit-minus-credit balance per account of the postings of loans (not lines)."""
        jp = t.journal_postings
        out: dict[str, int] = {}
        for side, sign in ((jp.c.debit_account, 1), (jp.c.credit_account, -1)):
            for code, total in self.conn.execute(
                sa.select(side, sa.func.sum(jp.c.amount_minor))
                .where(jp.c.loan_id.is_not(None))
                .group_by(side)
            ).all():
                out[code] = out.get(code, 0) + sign * int(total)
        return out

    def portfolio_by_class(self) -> list[ClassRow]:
        p = t.loan_positions
        rows = self.conn.execute(
            sa.select(
                p.c.class_code,
                sa.func.count(),
                sa.func.sum(p.c.principal_outstanding),
                sa.func.sum(p.c.overdue_principal),
            )
            .where(p.c.status.in_(("active", "overdue")))
            .group_by(p.c.class_code)
            .order_by(p.c.class_code)
        ).all()
        return [ClassRow(int(c), int(n), int(pr or 0), int(o or 0)) for c, n, pr, o in rows]
