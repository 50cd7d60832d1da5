"""Revolving credit lines: terms and transactions in, the ``CreditLine`` aggregate out."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from puhui.adapters.db import tables as t
from puhui.adapters.db.journal import balances, post_entries, to_minor
from puhui.domain.errors import NotFound
from puhui.domain.lending.credit_line import (
    CreditLine,
    CreditLineTerms,
    LineTransaction,
    LineTransactionType,
)
from puhui.domain.lending.ledger import JournalEntry
from puhui.domain.lending.transactions import Allocation
from puhui.domain.money import Currency


def _alloc(a: Allocation) -> list[str]:
    return [str(a.principal), str(a.interest), str(a.penalty), str(a.fee)]


def _alloc_of(v: list[str]) -> Allocation:
    return Allocation(*(Decimal(x) for x in v))


def terms_to_json(terms: CreditLineTerms) -> str:
    return json.dumps(
        {
            "limit": str(terms.limit),
            "annual_rate": str(terms.annual_rate),
            "opened_on": terms.opened_on.isoformat(),
            "expires_on": terms.expires_on.isoformat(),
            "days_in_year": terms.days_in_year,
            "min_drawdown": str(terms.min_drawdown),
            "term_days_per_drawdown": terms.term_days_per_drawdown,
            "penalty_uplift": str(terms.penalty_uplift),
            "drawdown_fee_rate": str(terms.drawdown_fee_rate),
            "drawdown_fee": str(terms.drawdown_fee),
            "currency": terms.currency.code,
        },
        sort_keys=True,
    )


def terms_from_json(text: str) -> CreditLineTerms:
    d = json.loads(text)
    return CreditLineTerms(
        limit=Decimal(d["limit"]),
        annual_rate=Decimal(d["annual_rate"]),
        opened_on=date.fromisoformat(d["opened_on"]),
        expires_on=date.fromisoformat(d["expires_on"]),
        days_in_year=d["days_in_year"],
        min_drawdown=Decimal(d["min_drawdown"]),
        term_days_per_drawdown=d["term_days_per_drawdown"],
        penalty_uplift=Decimal(d["penalty_uplift"]),
        drawdown_fee_rate=Decimal(d.get("drawdown_fee_rate", "0")),
        drawdown_fee=Decimal(d.get("drawdown_fee", "0")),
        currency=Currency.of(d["currency"]),
    )


class CreditLineRepository:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def add(self, terms: CreditLineTerms, *, customer_id: int | None, now: datetime) -> int:
        return int(
            self.conn.execute(
                sa.insert(t.credit_lines)
                .values(
                    customer_id=customer_id,
                    currency=terms.currency.code,
                    limit_minor=to_minor(terms.limit),
                    terms=terms_to_json(terms),
                    status="active",
                    created_at=now,
                )
                .returning(t.credit_lines.c.id)
            ).scalar_one()
        )

    def open_ids(self) -> list[int]:
        """Lines that may carry a balance (not closed): the ones end of day accrues."""
        query = (
            sa.select(t.credit_lines.c.id)
            .where(t.credit_lines.c.status != "closed")
            .order_by(t.credit_lines.c.id)
        )
        return list(self.conn.execute(query).scalars())

    def get(self, line_id: int, *, for_update: bool = False) -> CreditLine:
        query = sa.select(t.credit_lines).where(t.credit_lines.c.id == line_id)
        if for_update:
            query = query.with_for_update()
        row = self.conn.execute(query).mappings().first()
        if row is None:
            raise NotFound(f"credit line {line_id} not found", code="credit_line.not_found")
        txns = []
        for r in self.conn.execute(
            sa.select(t.credit_line_transactions)
            .where(t.credit_line_transactions.c.line_id == line_id)
            .order_by(t.credit_line_transactions.c.seq)
        ).mappings():
            d = json.loads(r["detail"])
            txns.append(
                LineTransaction(
                    id=r["seq"],
                    type=LineTransactionType(r["type"]),
                    value_date=r["value_date"],
                    amount=Decimal(d["amount"]),
                    allocation=_alloc_of(d["allocation"]),
                    reversed=r["reversed"],
                    recognised=_alloc_of(d["recognised"]),
                    settles=tuple((int(k), Decimal(v)) for k, v in d["settles"]),
                    version=r["version"],
                )
            )
        return CreditLine(id=line_id, terms=terms_from_json(row["terms"]), transactions=tuple(txns))

    def save(
        self, line_id: int, txns: Iterable[LineTransaction], status: str, *, now: datetime
    ) -> None:
        lt = t.credit_line_transactions
        for txn in txns:
            values: dict[str, Any] = {
                "version": txn.version,
                "type": txn.type.value,
                "value_date": txn.value_date,
                "amount_minor": to_minor(txn.amount),
                "reversed": txn.reversed,
                "detail": json.dumps(
                    {
                        "amount": str(txn.amount),
                        "allocation": _alloc(txn.allocation),
                        "recognised": _alloc(txn.recognised),
                        "settles": [[k, str(v)] for k, v in txn.settles],
                    }
                ),
            }
            updated = self.conn.execute(
                sa.update(lt).where(lt.c.line_id == line_id, lt.c.seq == txn.id).values(**values)
            )
            if updated.rowcount == 0:
                self.conn.execute(
                    sa.insert(lt).values(line_id=line_id, seq=txn.id, created_at=now, **values)
                )
        self.conn.execute(
            sa.update(t.credit_lines).where(t.credit_lines.c.id == line_id).values(status=status)
        )

    def post(self, line_id: int, entries: Iterable[JournalEntry]) -> int:
        return post_entries(self.conn, entries, owner="credit_line_id", owner_id=line_id)

    def gl_balances(self, line_id: int) -> dict[str, Decimal]:
        """Debit-minus-credit balance per account code of everything posted for this line."""
        return {
            a.code: v
            for a, v in balances(self.conn, owner="credit_line_id", owner_id=line_id).items()
        }
