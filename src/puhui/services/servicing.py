"""Loan servicing use cases: book, disburse, repay, prepay, reverse, and the loan's view
(R-10.2e,f, R-10.3 drawdown and repayment, R-A5.3).

Every command loads the ``Loan`` aggregate, applies one domain command dated on the platform
business date (a disbursement on the contract's disbursement date, never after the business
date), stores the transactions it created or re-split, posts its journal entries and
refreshes the loan's end-of-day position — in one unit of work, audited.

End of day accrues every open loan in bulk and posts those accruals provisionally. The loan's
own replay is the authority: after each command the loan's general-ledger balances are
**trued up** to the replay's journal (``_true_up``), so the GL of a loan always equals its
domain journal after any money movement.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from puhui.domain.errors import NotFound, ValidationError
from puhui.domain.evidence.log import EventType
from puhui.domain.identity import PendingAction, Permission, Principal
from puhui.domain.lending.allocation import ServicingPolicy
from puhui.domain.lending.apr import AnnualizedRate, check_rate_ceiling, schedule_annualized_rate
from puhui.domain.lending.ledger import Account, JournalEntry, Posting, TrialBalance
from puhui.domain.lending.loan import Loan, LoanChange
from puhui.domain.lending.products import LoanProduct
from puhui.domain.lending.schedule import generate_schedule
from puhui.domain.lending.terms import LoanTerms, Schedule
from puhui.domain.lending.transactions import (
    LoanState,
    LoanStatus,
    LoanTransaction,
    PrepaymentMode,
)
from puhui.services.audit import audited
from puhui.services.evidence import digest_of, opaque, record_event
from puhui.services.platform import business_date
from puhui.services.ports import ServiceContext, UnitOfWork

# Comprehensive-cost ceiling for quotes made without a product; a product's own
# ``rate_ceiling`` (products.json) applies to everything booked under it.
RATE_CEILING = Decimal("0.24")


def parse_amount(value: str | int | None, field: str = "amount") -> Decimal:
    if value is None or isinstance(value, bool | float):
        raise ValidationError(
            f'{field} must be a decimal string such as "1000.00"',
            code="loan.invalid_amount",
            details={"field": field},
        )
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(
            f"{field} is not a number", code="loan.invalid_amount", details={"field": field}
        ) from None
    if not amount.is_finite():
        raise ValidationError(f"{field} is not a number", code="loan.invalid_amount")
    return amount


@dataclass(frozen=True)
class Quote:
    schedule: Schedule
    apr: AnnualizedRate


def product(ctx: ServiceContext, code: str) -> LoanProduct:
    found: LoanProduct | None = ctx.products.get(code)
    if found is None:
        raise NotFound(
            f"no product {code!r}",
            code="product.not_found",
            details={"known": sorted(ctx.products)},
        )
    return found


def quote(
    terms_data: Mapping[str, Any],
    *,
    ceiling: Decimal = RATE_CEILING,
    loan_product: LoanProduct | None = None,
) -> Quote:
    """Schedule and annualized rate of a terms file; refuses a cost above the ceiling and,
    given a product, terms outside it."""
    terms = LoanTerms.from_mapping(terms_data)
    if loan_product is not None:
        loan_product.check(terms)
        ceiling = loan_product.rate_ceiling
    schedule = generate_schedule(terms)
    apr = schedule_annualized_rate(schedule)
    verdict = check_rate_ceiling(apr, ceiling)
    if verdict.breaches:
        raise ValidationError(
            f"the annualized rate {apr.nominal_apr:.4%} is above the ceiling {ceiling:.2%}",
            code="loan.rate_above_ceiling",
            details={
                "apr": str(apr.nominal_apr.quantize(Decimal("0.000001"))),
                "ceiling": str(ceiling),
            },
        )
    return Quote(schedule, apr)


def book_loan(
    ctx: ServiceContext,
    actor: Principal,
    terms_data: Mapping[str, Any],
    *,
    product_code: str,
    customer_id: int | None = None,
    request_id: str | None = None,
) -> int:
    """Book an approved loan of a product from its terms: the contract schedule is fixed here."""
    q = quote(terms_data, loan_product=product(ctx, product_code))

    def body(uow: UnitOfWork) -> tuple[int, str, dict[str, Any]]:
        actor.require(Permission.LOANS_SERVICE)
        if customer_id is not None:
            uow.customers.get(customer_id)
        loan_id: int = uow.loans.add(
            q.schedule, product_code=product_code, customer_id=customer_id, now=ctx.clock()
        )
        return (
            loan_id,
            f"loan:{loan_id}",
            {
                "principal": str(q.schedule.terms.principal),
                "apr": str(q.apr.nominal_apr.quantize(Decimal("0.000001"))),
            },
        )

    return audited(ctx, actor=actor, action="loans.book", request_id=request_id, body=body)


def _true_up(uow: UnitOfWork, loan_id: int, loan: Loan, on: date) -> int:
    """Post the difference between the loan's GL and its replayed journal, if any."""
    truth = TrialBalance.of(loan.current_journal())
    posted: dict[Account, Decimal] = uow.loans.gl_balances(loan_id)
    diffs = {a: truth.balance(a) - posted.get(a, Decimal(0)) for a in Account}
    debit: list[tuple[Account, Decimal]] = [(a, d) for a, d in diffs.items() if d > 0]
    credit: list[tuple[Account, Decimal]] = [(a, -d) for a, d in diffs.items() if d < 0]
    postings = []
    while debit and credit:
        (dr, dr_left), (cr, cr_left) = debit[0], credit[0]
        amount = min(dr_left, cr_left)
        postings.append(Posting(dr, cr, amount))
        debit[0], credit[0] = (dr, dr_left - amount), (cr, cr_left - amount)
        if debit[0][1] == 0:
            debit.pop(0)
        if credit[0][1] == 0:
            credit.pop(0)
    if not postings:
        return 0
    entry = JournalEntry(
        f"trueup:{loan_id}:{on.isoformat()}:{len(postings)}",
        loan.ref,
        on,
        tuple(postings),
        "true-up of provisional end-of-day accruals",
    )
    return int(uow.loans.post(loan_id, [entry]))


def _policy(ctx: ServiceContext, uow: UnitOfWork, loan_id: int) -> ServicingPolicy:
    """The servicing policy of the loan's product (the default one for unknown products)."""
    found = ctx.products.get(uow.loans.product_code(loan_id))
    return found.servicing if found is not None else ServicingPolicy()


def _latest(txns: tuple[LoanTransaction, ...]) -> tuple[LoanTransaction, ...]:
    """The last version of each transaction, in order of first appearance."""
    latest: dict[int, LoanTransaction] = {}
    for txn in txns:
        latest[txn.id] = txn
    return tuple(latest.values())


def _apply(
    ctx: ServiceContext, uow: UnitOfWork, loan_id: int, apply: Callable[[Loan, date], LoanChange]
) -> tuple[LoanState, date, int, LoanChange]:
    """Apply one domain command to a loan inside ``uow``: store, post, true up, reposition."""
    loan: Loan = uow.loans.get(loan_id, for_update=True, policy=_policy(ctx, uow, loan_id))
    on = business_date(uow, clock=ctx.clock())
    change = apply(loan, on)
    if change.loan.state(on).status in (LoanStatus.ACTIVE, LoanStatus.OVERDUE):
        # accrue through today, so the loan's journal matches its position (which the end of
        # day then continues from tomorrow)
        accrued = change.loan.accrue(on)
        change = LoanChange(
            accrued.loan,
            _latest(change.transactions + accrued.transactions),
            change.journal + accrued.journal,
        )
    uow.loans.save_transactions(loan_id, change.transactions, now=ctx.clock())
    uow.loans.post(loan_id, change.journal)
    _record_evidence(uow, loan_id, change, ctx.clock())
    trued = _true_up(uow, loan_id, change.loan, on)
    state = change.loan.state(on)
    disbursed = next(
        (
            t.value_date
            for t in change.loan.transactions
            if t.type.value == "disbursement" and not t.reversed
        ),
        None,
    )
    uow.loans.set_status(loan_id, state.status, disbursed_on=disbursed)
    if disbursed is not None:
        uow.loans.write_position(loan_id, change.loan, state)
    return state, on, trued, change


# Money movements that are legal acts, and their evidence event
EVIDENCE_EVENTS = {
    "disbursement": EventType.DISBURSEMENT,
    "repayment": EventType.REPAYMENT,
    "prepayment": EventType.REPAYMENT,
    "write_off": EventType.WRITE_OFF,
}


def _record_evidence(uow: UnitOfWork, loan_id: int, change: LoanChange, now: datetime) -> None:
    """One evidence leaf per new disbursement, repayment or write-off: a digest of the
    transaction, never its parties."""
    for txn in change.transactions:
        event = EVIDENCE_EVENTS.get(txn.type.value)
        if event is None or txn.version != 1:
            continue
        a = txn.allocation
        record_event(
            uow,
            event,
            occurred_at=now,
            subject_ref=opaque("loan", f"loan:{loan_id}"),
            object_ref=f"loan:{loan_id}",
            payload_digest=digest_of(
                {
                    "loan_id": loan_id,
                    "transaction": txn.id,
                    "type": txn.type.value,
                    "value_date": txn.value_date.isoformat(),
                    "amount": str(txn.amount),
                    "allocation": [str(a.principal), str(a.interest), str(a.penalty), str(a.fee)],
                }
            ),
            metadata={"transaction": str(txn.id), "value_date": txn.value_date.isoformat()},
        )


def _command(
    ctx: ServiceContext,
    actor: Principal,
    loan_id: int,
    action: str,
    apply: Callable[[Loan, date], LoanChange],
    request_id: str | None,
    details: Mapping[str, Any] | None = None,
) -> LoanState:
    def body(uow: UnitOfWork) -> tuple[LoanState, str, dict[str, Any]]:
        actor.require(Permission.LOANS_SERVICE)
        state, on, trued, change = _apply(ctx, uow, loan_id, apply)
        return (
            state,
            f"loan:{loan_id}",
            {
                **(details or {}),
                "on": on.isoformat(),
                "status": state.status.value,
                "transactions": [t.id for t in change.transactions],
                "true_up_postings": trued,
            },
        )

    return audited(ctx, actor=actor, action=action, request_id=request_id, body=body)


# Commands that take two people (maker-checker): what each one does to the loan.
TWO_PERSON: dict[str, Callable[[Loan, date], LoanChange]] = {
    "loans.write_off": lambda loan, on: loan.write_off(on),  # 核销
    "loans.charge_off": lambda loan, on: loan.charge_off(on),  # 终止追偿, clears the memo
}


def _request_two_person(
    ctx: ServiceContext,
    actor: Principal,
    loan_id: int,
    action: str,
    reason: str,
    request_id: str | None,
) -> PendingAction:
    reason = " ".join(reason.split())
    kind = action.removeprefix("loans.")
    if not 4 <= len(reason) <= 400:
        raise ValidationError(
            f"a {kind.replace('_', '-')} needs a reason of 4-400 characters",
            code=f"loan.{kind}_reason",
        )

    def body(uow: UnitOfWork) -> tuple[PendingAction, str, dict[str, Any]]:
        actor.require(Permission.LOANS_SERVICE)
        loan: Loan = uow.loans.get(loan_id, policy=_policy(ctx, uow, loan_id))
        on = business_date(uow, clock=ctx.clock())
        TWO_PERSON[action](loan, on)  # refuses now, not at approval, what cannot be done
        pending: PendingAction = uow.pending.add(
            PendingAction(
                id=None,
                action=action,
                payload={"loan_id": loan_id, "reason": reason},
                maker=actor.ref,
                checker_permission=Permission.APPROVALS_CHECK,
            ),
            now=ctx.clock(),
        )
        return pending, f"loan:{loan_id}", {"pending_action": pending.id, "reason": reason}

    return audited(
        ctx, actor=actor, action=f"loans.request_{kind}", request_id=request_id, body=body
    )


def request_write_off(
    ctx: ServiceContext,
    actor: Principal,
    loan_id: int,
    reason: str,
    *,
    request_id: str | None = None,
) -> PendingAction:
    """核销 needs two people: the maker asks, a checker with ``approvals.check`` approves
    (``identity.decide_pending_action``), and only then is the loan written off (R-9.5f)."""
    return _request_two_person(ctx, actor, loan_id, "loans.write_off", reason, request_id)


def request_charge_off(
    ctx: ServiceContext,
    actor: Principal,
    loan_id: int,
    reason: str,
    *,
    request_id: str | None = None,
) -> PendingAction:
    """Ending recovery of a written-off loan (the off-balance memo is cleared) takes two people
    as the write-off did: the maker asks, a checker approves."""
    return _request_two_person(ctx, actor, loan_id, "loans.charge_off", reason, request_id)


def execute_two_person(ctx: ServiceContext, uow: UnitOfWork, pending: PendingAction) -> str:
    """Run an approved write-off or charge-off inside the checker's unit of work."""
    loan_id = int(pending.payload["loan_id"])
    _apply(ctx, uow, loan_id, TWO_PERSON[pending.action])
    return f"loan:{loan_id}"


def charge_fee(
    ctx: ServiceContext,
    actor: Principal,
    loan_id: int,
    amount: str | int,
    *,
    request_id: str | None = None,
) -> LoanState:
    """Charge a fee (e.g. a documented service fee); it is collected with the installment due
    on or after today. From then on end of day closes the loan by replay."""
    value = parse_amount(amount)
    return _command(
        ctx,
        actor,
        loan_id,
        "loans.charge_fee",
        lambda loan, on: loan.charge_fee(value, on),
        request_id,
        {"amount": str(value)},
    )


def recover(
    ctx: ServiceContext,
    actor: Principal,
    loan_id: int,
    amount: str | int,
    *,
    request_id: str | None = None,
) -> LoanState:
    """核销后收回: money recovered on a written-off loan, up to the written-off claim."""
    value = parse_amount(amount)
    return _command(
        ctx,
        actor,
        loan_id,
        "loans.recover",
        lambda loan, on: loan.recover(value, on),
        request_id,
        {"amount": str(value)},
    )


def disburse(
    ctx: ServiceContext, actor: Principal, loan_id: int, *, request_id: str | None = None
) -> LoanState:
    """放款: on the contract's disbursement date, which may not be after the business date."""

    def apply(loan: Loan, on: date) -> LoanChange:
        if loan.terms.disbursement_date > on:
            raise ValidationError(
                "the disbursement date is after the business date",
                code="loan.disbursement_in_future",
            )
        return loan.disburse(loan.terms.disbursement_date)

    return _command(ctx, actor, loan_id, "loans.disburse", apply, request_id)


def repay(
    ctx: ServiceContext,
    actor: Principal,
    loan_id: int,
    amount: str | int,
    *,
    request_id: str | None = None,
) -> LoanState:
    value = parse_amount(amount)
    return _command(
        ctx,
        actor,
        loan_id,
        "loans.repay",
        lambda loan, on: loan.repay(value, on),
        request_id,
        {"amount": str(value)},
    )


def prepay(
    ctx: ServiceContext,
    actor: Principal,
    loan_id: int,
    amount: str | int | None,
    mode: str = "reduce_term",
    *,
    request_id: str | None = None,
) -> LoanState:
    value = None if amount is None else parse_amount(amount)
    try:
        how = PrepaymentMode(mode)
    except ValueError:
        raise ValidationError(
            "mode is reduce_term or reduce_installment", code="loan.invalid_prepayment_mode"
        ) from None
    return _command(
        ctx,
        actor,
        loan_id,
        "loans.prepay",
        lambda loan, on: loan.prepay(value, on, how),
        request_id,
        {"amount": "full" if value is None else str(value), "mode": how.value},
    )


def reverse(
    ctx: ServiceContext,
    actor: Principal,
    loan_id: int,
    transaction: int,
    *,
    request_id: str | None = None,
) -> LoanState:
    return _command(
        ctx,
        actor,
        loan_id,
        "loans.reverse",
        lambda loan, on: loan.reverse(transaction, on),
        request_id,
        {"transaction": transaction},
    )


@dataclass(frozen=True)
class LoanView:
    loan: Loan
    state: LoanState
    product_code: str
    gl: dict[Account, Decimal]


def view_loan(ctx: ServiceContext, actor: Principal, loan_id: int) -> LoanView:
    actor.require(Permission.LOANS_READ)
    with ctx.uow() as uow:
        loan: Loan = uow.loans.get(loan_id, policy=_policy(ctx, uow, loan_id))
        on = business_date(uow, clock=ctx.clock())
        as_of = max(on, loan.terms.disbursement_date)
        return LoanView(
            loan, loan.state(as_of), uow.loans.product_code(loan_id), uow.loans.gl_balances(loan_id)
        )


def trial_balance(ctx: ServiceContext, actor: Principal) -> list[tuple[Account, int, int]]:
    actor.require(Permission.LOANS_READ)
    by_code = {a.code: a for a in Account}
    with ctx.uow() as uow:
        return [
            (by_code[r.account], r.debit_minor, r.credit_minor) for r in uow.ledger.trial_balance()
        ]


@dataclass(frozen=True)
class ReconciliationRow:
    account: Account
    subledger_minor: int
    gl_minor: int

    @property
    def difference_minor(self) -> int:
        return self.subledger_minor - self.gl_minor


def reconcile(ctx: ServiceContext, actor: Principal) -> list[ReconciliationRow]:
    """Sub-ledger ↔ GL reconciliation of the loan book: the positions' principal, interest and
    penalty receivable against the balances of those accounts in the general ledger."""
    actor.require(Permission.LOANS_READ)
    with ctx.uow() as uow:
        sub = uow.ledger.subledger_totals()
        gl = uow.ledger.loan_gl_balances()
    pairs = (
        ("principal", Account.PRINCIPAL_RECEIVABLE),
        ("interest", Account.INTEREST_RECEIVABLE),
        ("penalty", Account.PENALTY_RECEIVABLE),
    )
    return [ReconciliationRow(a, sub[k], gl.get(a.code, 0)) for k, a in pairs]


def portfolio_by_class(ctx: ServiceContext, actor: Principal) -> list[Any]:
    actor.require(Permission.LOANS_READ)
    with ctx.uow() as uow:
        rows: list[Any] = uow.ledger.portfolio_by_class()
        return rows
