"""End of day for what the vectorized batch does not close: loans closed by replay, and
revolving credit lines (R-10.2f, R-9.5f).

The batch (``adapters.batch.eod``) closes every loan whose position says ``closing = "vector"``
in int64 arithmetic. A loan with compound interest (复利) or with fees on its regular
installments (per-period or charged fees) says ``"replay"`` (``domain.lending.eod.closing_path``)
and is closed here by its exact Decimal replay: ``Loan.accrue(d)`` records the accrual, its
journal is posted, the GL is trued up to the replayed journal and the position is rewritten as
of ``d``. Credit lines accrue daily interest on what is drawn the same way (``CreditLine.accrue``).

Each loan and each line is its own unit of work, and both ``accrue`` commands add nothing for a
date already run, so an interrupted run started again finishes the rest and posts nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from puhui.domain.errors import DomainError
from puhui.domain.lending.ledger import Account, JournalEntry
from puhui.services.ports import ServiceContext
from puhui.services.servicing import _policy, _true_up

INCOME = {
    Account.INTEREST_INCOME: "interest",
    Account.PENALTY_INCOME: "penalty",
    Account.FEE_INCOME: "fee",
}


@dataclass
class ReplayClosing:
    """What the replay step of one business date did."""

    business_date: date
    loans: int = 0
    lines: int = 0
    skipped_lines: int = 0  # lines already closed for the date
    recognised: dict[str, Decimal] = field(
        default_factory=lambda: {"interest": Decimal(0), "penalty": Decimal(0), "fee": Decimal(0)}
    )
    failures: list[tuple[str, str]] = field(default_factory=list)  # (target, error code)

    def add(self, journal: tuple[JournalEntry, ...]) -> None:
        for entry in journal:
            for posting in entry.postings:
                kind = INCOME.get(posting.credit)
                if kind is not None:
                    self.recognised[kind] += posting.amount
                kind = INCOME.get(posting.debit)
                if kind is not None:  # a reversal of income
                    self.recognised[kind] -= posting.amount


def close_loan_by_replay(ctx: ServiceContext, loan_id: int, on: date) -> tuple[JournalEntry, ...]:
    """Close ``on`` for one loan by its Decimal replay; returns the accrual journal posted."""
    with ctx.uow() as uow:
        loan = uow.loans.get(loan_id, for_update=True, policy=_policy(ctx, uow, loan_id))
        change = loan.accrue(on)
        uow.loans.save_transactions(loan_id, change.transactions, now=ctx.clock())
        uow.loans.post(loan_id, change.journal)
        _true_up(uow, loan_id, change.loan, on)
        state = change.loan.state(on)
        uow.loans.set_status(loan_id, state.status)
        uow.loans.write_position(loan_id, change.loan, state)
        uow.commit()
        return tuple(change.journal)


def close_line(ctx: ServiceContext, line_id: int, on: date) -> tuple[JournalEntry, ...] | None:
    """Accrue one credit line through ``on``; ``None`` when it was already closed for ``on``."""
    with ctx.uow() as uow:
        line = uow.credit_lines.get(line_id, for_update=True)
        change = line.accrue(on)
        if not change.transactions:
            return None
        state = change.line.state(on)
        uow.credit_lines.save(line_id, change.transactions, state.status.value, now=ctx.clock())
        uow.credit_lines.post(line_id, change.journal)
        uow.commit()
        return tuple(change.journal)


def close_by_replay(
    ctx: ServiceContext, on: date, *, progress: Callable[[int], None] | None = None
) -> ReplayClosing:
    """Close ``on`` for every loan that closes by replay and for every open credit line.

    A loan or line that refuses (a domain error, e.g. a transaction dated after ``on``) is
    listed in ``failures`` with its error code and the others go on; nothing of it is saved.
    """
    result = ReplayClosing(on)
    with ctx.uow() as uow:
        loan_ids = uow.loans.replay_closing_ids(on)
        line_ids = uow.credit_lines.open_ids()
    for loan_id in loan_ids:
        try:
            result.add(close_loan_by_replay(ctx, loan_id, on))
            result.loans += 1
        except DomainError as err:
            result.failures.append((f"loan:{loan_id}", err.code))
        if progress:
            progress(1)
    for line_id in line_ids:
        try:
            journal = close_line(ctx, line_id, on)
        except DomainError as err:
            result.failures.append((f"credit_line:{line_id}", err.code))
        else:
            if journal is None:
                result.skipped_lines += 1
            else:
                result.add(journal)
                result.lines += 1
        if progress:
            progress(1)
    return result


def pending_count(ctx: ServiceContext, on: date) -> int:
    """How many loans and lines ``close_by_replay`` would visit for ``on``."""
    with ctx.uow() as uow:
        return len(uow.loans.replay_closing_ids(on)) + len(uow.credit_lines.open_ids())
