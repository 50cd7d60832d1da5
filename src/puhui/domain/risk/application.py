"""Credit application (授信申请): the input of a credit decision, checked before any data source is
queried (R-9.2, R-9.6 information check) and frozen as a snapshot for the decision record.

:meth:`CreditApplication.from_mapping` reads the JSON form (names = attribute names, amounts as
strings, dates as ISO strings) and refuses

* an unknown or missing field, or a bad value — ``risk.application.invalid`` with
  ``details={"field": ..., "reason": ...}`` (a mistyped ID number or USCC check character, a term
  outside 1..360 months, an amount <= 0 or with more than two decimals ...);
* data that contradicts itself — ``risk.application.inconsistent``: a business borrower without
  an enterprise code, a consumer with one, a known product for another borrower type, an
  applicant born after the application date, the spouse's ID equal to the applicant's.

Errors never repeat personal values (R-11.2): only the field name and a reason code.
:meth:`CreditApplication.snapshot_hash` is the SHA-256 of the canonical JSON (sorted keys, no
spaces, UTF-8) that the decision record stores (R-9.4 evidence transmitted as hashes).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, Final, TypeVar

from puhui.domain.errors import DomainError, ValidationError
from puhui.domain.identifiers import (
    PROVINCES,
    MobileNumber,
    ResidentIdNumber,
    UnifiedSocialCreditCode,
)

__all__ = [
    "PRODUCT_BORROWER_TYPES",
    "BorrowerType",
    "CreditApplication",
    "GuaranteeType",
    "LoanPurpose",
]


class BorrowerType(StrEnum):
    CONSUMER = "consumer"  # 个人消费者
    INDIVIDUAL_BUSINESS = "individual_business"  # 个体工商户
    MICRO_ENTERPRISE = "micro_enterprise"  # 小微企业

    @property
    def is_business(self) -> bool:
        return self is not BorrowerType.CONSUMER


class LoanPurpose(StrEnum):
    WORKING_CAPITAL = "working_capital"
    EQUIPMENT = "equipment"
    INVENTORY = "inventory"
    CONSUMPTION = "consumption"
    EDUCATION = "education"
    MEDICAL = "medical"
    OTHER = "other"


class GuaranteeType(StrEnum):
    CREDIT = "credit"  # 信用
    GUARANTEE = "guarantee"  # 保证
    MORTGAGE = "mortgage"  # 抵押
    PLEDGE = "pledge"  # 质押


PRODUCT_BORROWER_TYPES: Final[Mapping[str, BorrowerType]] = {
    "MICRO-BIZ": BorrowerType.MICRO_ENTERPRISE,
    "INDIV-BIZ": BorrowerType.INDIVIDUAL_BUSINESS,
    "CONSUMER": BorrowerType.CONSUMER,
}
"""Borrower type of the known products; other product codes are checked against products later."""

_INVALID: Final = "risk.application.invalid"
_INCONSISTENT: Final = "risk.application.inconsistent"
_APPLICATION_ID: Final = re.compile(r"[A-Za-z0-9_-]{1,64}")
_PRODUCT_CODE: Final = re.compile(r"[A-Z0-9][A-Z0-9_-]{0,31}")
_CHANNEL: Final = re.compile(r"[a-z0-9][a-z0-9_.-]{0,31}")
_REGION: Final = re.compile(r"[0-9]{6}")
_INDUSTRY: Final = re.compile(r"[A-T]")
_AMOUNT: Final = re.compile(r"[0-9]{1,13}(?:\.[0-9]{1,2})?")
_ISO_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_TERM_MONTHS: Final = 360
_CENT: Final = Decimal("0.01")
_E = TypeVar("_E", bound=StrEnum)


def _invalid(name: str, reason: str, message: str | None = None) -> ValidationError:
    return ValidationError(
        message or f"The application field '{name}' is not valid ({reason}).",
        code=_INVALID,
        details={"field": name, "reason": reason},
    )


def _inconsistent(name: str, reason: str, message: str) -> ValidationError:
    return ValidationError(message, code=_INCONSISTENT, details={"field": name, "reason": reason})


def _text(name: str, value: object, pattern: re.Pattern[str] | None = None) -> str:
    if not isinstance(value, str):
        raise _invalid(name, "not_a_string")
    if pattern is not None and not pattern.fullmatch(value):
        raise _invalid(name, "format")
    return value


def _choice(name: str, value: object, enum: type[_E]) -> _E:
    if isinstance(value, str):
        try:
            return enum(value)
        except ValueError:
            pass
    raise _invalid(name, "not_allowed")


def _name(name: str, value: object, max_len: int, *, digits: bool = False) -> str:
    text = " ".join(_text(name, value).split())
    if not 2 <= len(text) <= max_len or (not digits and any(c.isdigit() for c in text)):
        raise _invalid(name, "format")
    return text


def _amount(name: str, value: object, *, positive: bool) -> Decimal:
    if isinstance(value, Decimal):
        text = format(value, "f") if value.is_finite() else "nan"
    elif isinstance(value, str):
        text = value.strip()
    elif isinstance(value, int) and not isinstance(value, bool):
        text = str(value)
    else:  # float, bool, None ...: money is never a float
        raise _invalid(name, "not_a_decimal_string")
    if text.startswith("-"):
        raise _invalid(name, "not_positive" if positive else "negative")
    if not _AMOUNT.fullmatch(text):
        raise _invalid(name, "format", f"'{name}' must be a decimal string with at most 2 places.")
    try:
        amount = Decimal(text).quantize(_CENT)  # one form: "100" and "100.00" hash alike
    except InvalidOperation:  # pragma: no cover - the pattern admits only valid decimals
        raise _invalid(name, "format") from None
    if positive and amount <= 0:
        raise _invalid(name, "not_positive", f"'{name}' must be greater than zero.")
    return amount


def _resident_id(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise _invalid(name, "not_a_string")
    try:
        return ResidentIdNumber(value).value
    except ValidationError as error:
        raise _invalid(name, error.code) from None


@dataclass(frozen=True, slots=True)
class CreditApplication:
    """One application for credit, as the customer or the account manager filed it (R-9.2).

    Constructing it checks and normalizes every field (ID numbers and USCC in their standard
    form, names with single spaces); ``from_mapping`` reads the JSON form.
    """

    application_id: str
    product_code: str
    borrower_type: BorrowerType
    applicant_name: str = field(repr=False)
    applicant_resident_id: str = field(repr=False)
    applicant_mobile: str = field(repr=False)
    requested_amount: Decimal
    requested_term_months: int
    purpose: LoanPurpose
    region_code: str
    industry_code: str
    guarantee_type: GuaranteeType
    applied_on: date
    enterprise_uscc: str | None = None
    enterprise_name: str | None = None
    declared_monthly_income: Decimal | None = None
    declared_annual_revenue: Decimal | None = None
    channel: str = "portal"
    owner_spouse_resident_id: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "application_id", _text("application_id", self.application_id, _APPLICATION_ID))
        set_(self, "product_code", _text("product_code", self.product_code, _PRODUCT_CODE))
        set_(self, "borrower_type", _choice("borrower_type", self.borrower_type, BorrowerType))
        set_(self, "applicant_name", _name("applicant_name", self.applicant_name, 40))
        set_(
            self,
            "applicant_resident_id",
            _resident_id("applicant_resident_id", self.applicant_resident_id),
        )
        try:
            mobile = MobileNumber(_text("applicant_mobile", self.applicant_mobile)).value
        except ValidationError as error:
            raise _invalid("applicant_mobile", error.code) from None
        set_(self, "applicant_mobile", mobile)
        set_(
            self,
            "requested_amount",
            _amount("requested_amount", self.requested_amount, positive=True),
        )
        term = self.requested_term_months
        if isinstance(term, bool) or not isinstance(term, int):
            raise _invalid("requested_term_months", "not_an_integer")
        if not 1 <= term <= MAX_TERM_MONTHS:
            raise _invalid(
                "requested_term_months",
                "out_of_range",
                f"The requested term must be 1 to {MAX_TERM_MONTHS} months.",
            )
        set_(self, "purpose", _choice("purpose", self.purpose, LoanPurpose))
        region = _text("region_code", self.region_code, _REGION)
        if region[:2] not in PROVINCES:
            raise _invalid("region_code", "unknown_province")
        set_(self, "industry_code", _text("industry_code", self.industry_code, _INDUSTRY))
        set_(self, "guarantee_type", _choice("guarantee_type", self.guarantee_type, GuaranteeType))
        set_(self, "applied_on", _date("applied_on", self.applied_on))
        if self.enterprise_uscc is not None:
            try:
                uscc = UnifiedSocialCreditCode(_text("enterprise_uscc", self.enterprise_uscc)).value
            except ValidationError as error:
                raise _invalid("enterprise_uscc", error.code) from None
            set_(self, "enterprise_uscc", uscc)
        if self.enterprise_name is not None:
            set_(
                self,
                "enterprise_name",
                _name("enterprise_name", self.enterprise_name, 100, digits=True),
            )
        for name in ("declared_monthly_income", "declared_annual_revenue"):
            value = getattr(self, name)
            if value is not None:
                set_(self, name, _amount(name, value, positive=False))
        set_(self, "channel", _text("channel", self.channel, _CHANNEL))
        if self.owner_spouse_resident_id is not None:
            spouse = _resident_id("owner_spouse_resident_id", self.owner_spouse_resident_id)
            set_(self, "owner_spouse_resident_id", spouse)
        self._check_consistency()

    def _check_consistency(self) -> None:
        expected = PRODUCT_BORROWER_TYPES.get(self.product_code)
        if expected is not None and expected is not self.borrower_type:
            raise _inconsistent(
                "borrower_type",
                "product_borrower_type",
                f"Product {self.product_code} is for borrower type {expected.value}.",
            )
        if self.borrower_type is BorrowerType.MICRO_ENTERPRISE and self.enterprise_uscc is None:
            raise _inconsistent(
                "enterprise_uscc",
                "required_for_enterprise",
                "An enterprise application needs the enterprise's unified social credit code.",
            )
        if self.borrower_type is BorrowerType.CONSUMER and (
            self.enterprise_uscc is not None or self.enterprise_name is not None
        ):
            raise _inconsistent(
                "enterprise_uscc",
                "not_allowed_for_consumer",
                "A consumer application has no enterprise.",
            )
        if self.enterprise_name is not None and self.enterprise_uscc is None:
            raise _inconsistent(
                "enterprise_name",
                "name_without_code",
                "An enterprise name needs the enterprise's unified social credit code.",
            )
        if self.applicant_birth_date > self.applied_on:
            raise _inconsistent(
                "applicant_resident_id",
                "born_after_application",
                "The applicant's date of birth is after the application date.",
            )
        if self.owner_spouse_resident_id == self.applicant_resident_id:
            raise _inconsistent(
                "owner_spouse_resident_id",
                "same_as_applicant",
                "The spouse's ID number is the applicant's own.",
            )

    # --- derived facts -----------------------------------------------------------------------

    @property
    def applicant_birth_date(self) -> date:
        """Read from the (already checked) ID number: digits 7 to 14."""
        rid = self.applicant_resident_id
        return date(int(rid[6:10]), int(rid[10:12]), int(rid[12:14]))

    @property
    def applicant_sequence_code(self) -> str:
        """The ID number's order code (digits 15 to 17)."""
        return self.applicant_resident_id[14:17]

    @property
    def is_business(self) -> bool:
        return self.borrower_type is not BorrowerType.CONSUMER

    # --- JSON form ---------------------------------------------------------------------------

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> CreditApplication:
        """Build from the JSON form; unknown and missing fields are refused by name."""
        if not isinstance(data, Mapping):
            raise _invalid("application", "not_an_object")
        known = {f.name: f for f in fields(cls)}
        for name in data:
            if name not in known:
                raise _invalid(
                    str(name)[:64], "unknown_field", "The application has an unknown field."
                )
        required = [n for n, f in known.items() if f.default is MISSING]
        for name in required:
            if name not in data:
                raise _invalid(name, "missing", f"The application field '{name}' is missing.")
        try:
            return cls(**dict(data))
        except DomainError:
            raise
        except (TypeError, ValueError) as error:  # pragma: no cover - defensive
            raise _invalid("application", "malformed", str(error)) from None

    def to_mapping(self) -> dict[str, Any]:
        """The JSON form: plain strings, numbers and nulls; ``from_mapping`` reads it back."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, StrEnum):
                value = value.value
            elif isinstance(value, Decimal):
                value = format(value, "f")
            elif isinstance(value, date):
                value = value.isoformat()
            out[f.name] = value
        return out

    def canonical_json(self) -> bytes:
        """Sorted keys, no insignificant spaces, UTF-8: the bytes that are hashed."""
        return json.dumps(
            self.to_mapping(), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode("utf-8")

    def snapshot_hash(self) -> str:
        """SHA-256 (hex) of :meth:`canonical_json`, stored in the decision record (R-9.4)."""
        return hashlib.sha256(self.canonical_json()).hexdigest()


def _date(name: str, value: object) -> date:
    if isinstance(value, date) and type(value) is date:
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    raise _invalid(name, "not_an_iso_date")
