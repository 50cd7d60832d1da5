"""Loan terms: everything a repayment schedule is computed from (R-8.4c, R-11.3d, R-G7).

``LoanTerms`` is the one input of ``schedule.generate_schedule``; the JSON terms file of
``puhui loan schedule --terms FILE`` maps onto it field by field (``LoanTerms.from_mapping``).
Every field is validated here, with a stable error code, before any arithmetic runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple

from puhui.domain.errors import ValidationError
from puhui.domain.money import Currency


class Amortization(StrEnum):
    EQUAL_INSTALLMENTS = "equal_installments"  # 等额本息
    EQUAL_PRINCIPAL = "equal_principal"  # 等额本金
    INTEREST_ONLY = "interest_only"  # 先息后本
    BULLET = "bullet"  # 到期一次还本付息


class InterestMethod(StrEnum):
    DECLINING_BALANCE = "declining_balance"
    FLAT = "flat"


class InterestPeriod(StrEnum):
    DAILY = "daily"  # interest = balance x annual / days_in_year x actual days
    PER_PERIOD = "per_period"  # interest = balance x annual / periods_per_year


class Frequency(StrEnum):
    DAYS = "days"
    WEEKS = "weeks"
    MONTHS = "months"


class Conventions(StrEnum):
    """Which arithmetic the schedule follows.

    ``cn_bank``: the convention common in Chinese banks' calculators — a whole monthly period
    accrues annual / 12, a broken (partial) period accrues annual / 360 per day.
    ``fineract_cumulative`` / ``fineract_progressive``: reproduce Apache Fineract's two schedule
    generators for the same settings.
    """

    CN_BANK = "cn_bank"
    FINERACT_CUMULATIVE = "fineract_cumulative"
    FINERACT_PROGRESSIVE = "fineract_progressive"


class FeeKind(StrEnum):
    UPFRONT = "upfront"  # charged at disbursement (deducted or paid), counts in the APR
    PER_PERIOD = "per_period"  # added to every installment


@dataclass(frozen=True)
class Fee:
    """A fee: a fixed ``amount`` or a ``rate`` of the principal (exactly one of them)."""

    kind: FeeKind
    amount: Decimal | None = None
    rate: Decimal | None = None

    def __post_init__(self) -> None:
        if (self.amount is None) == (self.rate is None):
            raise ValidationError(
                "a fee has exactly one of amount or rate", code="terms.fee_amount_or_rate"
            )
        value = self.amount if self.amount is not None else self.rate
        assert value is not None
        if value < 0:
            raise ValidationError("a fee cannot be negative", code="terms.negative_fee")

    def charge_on(self, principal: Decimal) -> Decimal:
        """The fee's amount for a loan of ``principal`` (not yet rounded)."""
        if self.amount is not None:
            return self.amount
        assert self.rate is not None
        return principal * self.rate


DaysInYear = int | str  # 360 | 364 | 365 | "actual"
DaysInMonth = int | str  # 30 | "actual"


@dataclass(frozen=True)
class LoanTerms:
    """The contractual terms that fix a repayment schedule."""

    principal: Decimal
    annual_rate: Decimal  # 0.12 = 12 %
    repayments: int
    disbursement_date: date
    currency: Currency = field(default_factory=lambda: Currency.of("CNY"))
    amortization: Amortization = Amortization.EQUAL_INSTALLMENTS
    interest_method: InterestMethod = InterestMethod.DECLINING_BALANCE
    interest_period: InterestPeriod = InterestPeriod.PER_PERIOD
    every: int = 1
    frequency: Frequency = Frequency.MONTHS
    days_in_year: DaysInYear = 360
    days_in_month: DaysInMonth = 30
    schedule_start_date: date | None = None
    first_repayment_date: date | None = None
    grace_principal_periods: int = 0
    grace_interest_periods: int = 0
    installment_multiple: Decimal | None = None  # round installments up to this multiple
    decimals: int = 2
    fees: tuple[Fee, ...] = ()
    conventions: Conventions = Conventions.CN_BANK

    def __post_init__(self) -> None:
        validate_terms(self)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> LoanTerms:
        """Build terms from the JSON terms file; unknown fields are refused."""
        return terms_from_mapping(data)


MAX_PRINCIPAL = Decimal("1000000000000")
MAX_RATE = Decimal("10")
MAX_REPAYMENTS = 1200


def validate_terms(t: LoanTerms) -> None:
    def bad(message: str, code: str, **details: Any) -> ValidationError:
        return ValidationError(message, code=f"terms.{code}", details=details)

    if not isinstance(t.principal, Decimal) or not t.principal.is_finite():
        raise bad("principal must be a decimal amount", "invalid_principal")
    if t.principal <= 0:
        raise bad("principal must be greater than zero", "non_positive_principal")
    if t.principal > MAX_PRINCIPAL:
        raise bad("principal is implausibly large", "principal_too_large")
    if not isinstance(t.annual_rate, Decimal) or not t.annual_rate.is_finite():
        raise bad('annual_rate must be a decimal string such as "0.12"', "invalid_rate")
    if t.annual_rate < 0 or t.annual_rate > MAX_RATE:
        raise bad("annual_rate must be between 0 and 10 (1000 %)", "rate_out_of_range")
    if not 1 <= t.repayments <= MAX_REPAYMENTS:
        raise bad(f"repayments must be 1-{MAX_REPAYMENTS}", "invalid_repayments")
    if not 1 <= t.every <= 366:
        raise bad("every must be 1-366", "invalid_every")
    if t.days_in_year not in (360, 364, 365, "actual"):
        raise bad('days_in_year must be 360, 364, 365 or "actual"', "invalid_days_in_year")
    if t.days_in_month not in (30, "actual"):
        raise bad('days_in_month must be 30 or "actual"', "invalid_days_in_month")
    if not 0 <= t.decimals <= 4:
        raise bad("decimals must be 0-4", "invalid_decimals")
    if t.installment_multiple is not None and t.installment_multiple <= 0:
        raise bad("installment_multiple must be positive", "invalid_installment_multiple")
    for name in ("grace_principal_periods", "grace_interest_periods"):
        value = getattr(t, name)
        if not 0 <= value < t.repayments:
            raise bad(f"{name} must be 0 to repayments - 1", "invalid_grace", field=name)
    if t.schedule_start_date is not None and t.schedule_start_date < t.disbursement_date:
        raise bad("schedule_start_date is before the disbursement", "date_before_disbursement")
    if t.first_repayment_date is not None and t.first_repayment_date <= t.disbursement_date:
        raise bad("first_repayment_date must be after the disbursement", "date_before_disbursement")


FIELDS = {
    "principal",
    "currency",
    "annual_rate",
    "interest_method",
    "interest_period",
    "amortization",
    "repayments",
    "every",
    "frequency",
    "days_in_year",
    "days_in_month",
    "disbursement_date",
    "schedule_start_date",
    "first_repayment_date",
    "grace_principal_periods",
    "grace_interest_periods",
    "installment_multiple",
    "decimals",
    "fees",
    "conventions",
}
REQUIRED = {"principal", "annual_rate", "repayments", "disbursement_date"}


def _decimal(data: Mapping[str, Any], key: str) -> Decimal:
    value = data[key]
    if isinstance(value, float | bool) or not isinstance(value, str | int):
        raise ValidationError(
            f"{key} must be a decimal string (not a float)",
            code="terms.invalid_number",
            details={"field": key},
        )
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValidationError(
            f"{key} is not a number", code="terms.invalid_number", details={"field": key}
        ) from None


def _date(data: Mapping[str, Any], key: str) -> date | None:
    value = data.get(key)
    if value is None:
        return None
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(
            f"{key} must be a date YYYY-MM-DD", code="terms.invalid_date", details={"field": key}
        ) from None


def _int(data: Mapping[str, Any], key: str, default: int) -> int:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(
            f"{key} must be a whole number", code="terms.invalid_integer", details={"field": key}
        )
    return value


def _enum(data: Mapping[str, Any], key: str, enum: type[StrEnum], default: StrEnum) -> Any:
    value = data.get(key, default.value)
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(e.value for e in enum)
        raise ValidationError(
            f"{key} must be one of: {allowed}", code="terms.invalid_choice", details={"field": key}
        ) from None


def terms_from_mapping(data: Mapping[str, Any]) -> LoanTerms:
    if not isinstance(data, Mapping):
        raise ValidationError("the terms must be a JSON object", code="terms.not_an_object")
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise ValidationError(
            f"unknown field(s): {', '.join(unknown)}",
            code="terms.unknown_field",
            details={"fields": unknown},
        )
    missing = sorted(REQUIRED - set(data))
    if missing:
        raise ValidationError(
            f"missing field(s): {', '.join(missing)}",
            code="terms.missing_field",
            details={"fields": missing},
        )
    fees = []
    raw_fees = data.get("fees") or []
    if not isinstance(raw_fees, list):
        raise ValidationError("fees must be a list", code="terms.invalid_fees")
    for raw in raw_fees:
        if not isinstance(raw, Mapping) or set(raw) - {"kind", "amount", "rate"}:
            raise ValidationError("each fee is {kind, amount | rate}", code="terms.invalid_fees")
        fees.append(
            Fee(
                kind=_enum(raw, "kind", FeeKind, FeeKind.UPFRONT),
                amount=_decimal(raw, "amount") if "amount" in raw else None,
                rate=_decimal(raw, "rate") if "rate" in raw else None,
            )
        )
    dim = data.get("days_in_year", 360)
    dmo = data.get("days_in_month", 30)
    disbursement = _date(data, "disbursement_date")
    assert disbursement is not None
    return LoanTerms(
        principal=_decimal(data, "principal"),
        annual_rate=_decimal(data, "annual_rate"),
        repayments=_int(data, "repayments", 0),
        disbursement_date=disbursement,
        currency=Currency.of(str(data.get("currency", "CNY"))),
        amortization=_enum(data, "amortization", Amortization, Amortization.EQUAL_INSTALLMENTS),
        interest_method=_enum(
            data, "interest_method", InterestMethod, InterestMethod.DECLINING_BALANCE
        ),
        interest_period=_enum(data, "interest_period", InterestPeriod, InterestPeriod.PER_PERIOD),
        every=_int(data, "every", 1),
        frequency=_enum(data, "frequency", Frequency, Frequency.MONTHS),
        days_in_year=dim,
        days_in_month=dmo,
        schedule_start_date=_date(data, "schedule_start_date"),
        first_repayment_date=_date(data, "first_repayment_date"),
        grace_principal_periods=_int(data, "grace_principal_periods", 0),
        grace_interest_periods=_int(data, "grace_interest_periods", 0),
        installment_multiple=(
            _decimal(data, "installment_multiple")
            if data.get("installment_multiple") is not None
            else None
        ),
        decimals=_int(data, "decimals", 2),
        fees=tuple(fees),
        conventions=_enum(data, "conventions", Conventions, Conventions.CN_BANK),
    )


def terms_to_mapping(t: LoanTerms) -> dict[str, Any]:
    """The terms as the JSON terms file (the inverse of ``terms_from_mapping``)."""
    out: dict[str, Any] = {
        "principal": str(t.principal),
        "currency": t.currency.code,
        "annual_rate": str(t.annual_rate),
        "interest_method": t.interest_method.value,
        "interest_period": t.interest_period.value,
        "amortization": t.amortization.value,
        "repayments": t.repayments,
        "every": t.every,
        "frequency": t.frequency.value,
        "days_in_year": t.days_in_year,
        "days_in_month": t.days_in_month,
        "disbursement_date": t.disbursement_date.isoformat(),
        "grace_principal_periods": t.grace_principal_periods,
        "grace_interest_periods": t.grace_interest_periods,
        "decimals": t.decimals,
        "conventions": t.conventions.value,
        "fees": [
            {
                "kind": f.kind.value,
                **({"amount": str(f.amount)} if f.amount is not None else {"rate": str(f.rate)}),
            }
            for f in t.fees
        ],
    }
    if t.schedule_start_date is not None:
        out["schedule_start_date"] = t.schedule_start_date.isoformat()
    if t.first_repayment_date is not None:
        out["first_repayment_date"] = t.first_repayment_date.isoformat()
    if t.installment_multiple is not None:
        out["installment_multiple"] = str(t.installment_multiple)
    return out


class ScheduledPeriod(NamedTuple):
    """One installment of a repayment schedule (amounts rounded to ``decimals``).

    A named tuple: immutable, and the cheapest immutable record Python builds, which matters
    when schedules are generated by the tens of thousands per second."""

    n: int
    from_date: date
    due_date: date
    days: int
    principal: Decimal
    interest: Decimal
    fees: Decimal
    balance_after: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.interest + self.fees


@dataclass(frozen=True)
class Schedule:
    """A repayment schedule. ``upfront_fees`` are due at disbursement (period 0)."""

    terms: LoanTerms
    periods: tuple[ScheduledPeriod, ...]
    upfront_fees: Decimal

    @property
    def total_principal(self) -> Decimal:
        return sum((p.principal for p in self.periods), Decimal(0))

    @property
    def total_interest(self) -> Decimal:
        return sum((p.interest for p in self.periods), Decimal(0))

    @property
    def total_fees(self) -> Decimal:
        return self.upfront_fees + sum((p.fees for p in self.periods), Decimal(0))

    @property
    def maturity_date(self) -> date:
        return self.periods[-1].due_date
