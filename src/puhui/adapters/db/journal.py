"""The general ledger table: posting journal entries and reading balances, for any owner
(a loan or a credit line). ``LedgerReadModel`` reads the whole book."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from puhui.adapters.db import tables as t
from puhui.domain.lending.ledger import Account, JournalEntry

CENT = Decimal("0.01")
BY_CODE = {a.code: a for a in Account}


def to_minor(amount: Decimal) -> int:
    return int((amount / CENT).to_integral_value())


def from_minor(value: int) -> Decimal:
    return (Decimal(value) * CENT).quantize(CENT)


def post_entries(
    conn: Connection, entries: Iterable[JournalEntry], *, owner: str, owner_id: int
) -> int:
    """Insert the entries' transfers, tagged with ``owner`` (``loan_id`` or
    ``credit_line_id``); returns the number of rows."""
    rows = [
        {
            "entry_ref": e.entry_ref[:48],
            owner: owner_id,
            "value_date": e.value_date,
            "debit_account": p.debit.code,
            "credit_account": p.credit.code,
            "amount_minor": to_minor(p.amount),
        }
        for e in entries
        for p in e.postings
    ]
    if rows:
        conn.execute(sa.insert(t.journal_postings), rows)
    return len(rows)


def balances(conn: Connection, *, owner: str, owner_id: int) -> dict[Account, Decimal]:
    """Debit-minus-credit balance per account of everything posted for one owner."""
    jp = t.journal_postings
    column = jp.c[owner]
    out: dict[Account, Decimal] = {}
    for side, sign in ((jp.c.debit_account, 1), (jp.c.credit_account, -1)):
        for code, total in conn.execute(
            sa.select(side, sa.func.sum(jp.c.amount_minor)).where(column == owner_id).group_by(side)
        ).all():
            account = BY_CODE[code]
            out[account] = out.get(account, Decimal(0)) + sign * from_minor(int(total))
    return {a: v for a, v in out.items() if v}
