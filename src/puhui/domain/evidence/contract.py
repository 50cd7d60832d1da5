"""E-contracts: template metadata, the variables a template needs, and the contract's lifecycle.

R-10.2(d) contract generation, seal and signing; R-9.4 signing with a trusted time, no change
after signing, a bank e-seal; R-11.3(d,e) a contract highlights the annualized rate, the
repayment arrangement and the default liability and says how it may be changed or ended.

A :class:`ContractTemplate` names one versioned text (``loan_contract``, ``zh-CN``,
``2025.1``) and the typed variables it must be given: nothing else is accepted, nothing may be
missing (:meth:`ContractTemplate.check_variables`). Rendering is an adapter's job
(``puhui.adapters.documents``); this module is pure.

A :class:`Contract` moves ``draft → offered → signed → sealed → archived`` through the one
function :func:`transition`; an offer not signed before ``offer_expires_at`` can only expire
(or be withdrawn). The contract holds the SM3 (or SHA-256) digest of its canonical PDF and the
customer's signature and the bank's seal as opaque records (``Mapping[str, str]``, defined by
the signature service); each record's ``signed_digest`` must be the document's digest.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final

from puhui.domain.audit import HashAlgorithm, digest
from puhui.domain.errors import Conflict, ValidationError
from puhui.domain.lending.terms import Amortization
from puhui.domain.money import Currency, Money

__all__ = [
    "TEMPLATE_VARIABLES",
    "Archive",
    "Contract",
    "ContractCommand",
    "ContractStatus",
    "ContractTemplate",
    "Expire",
    "Language",
    "Offer",
    "Seal",
    "Sign",
    "StatusChange",
    "StoredContract",
    "TemplateId",
    "TemplateVariable",
    "VariableKind",
    "Withdraw",
    "document_digest",
    "transition",
]


class TemplateId(StrEnum):
    LOAN_CONTRACT = "loan_contract"  # 个人贷款合同
    CREDIT_REPORT_AUTHORIZATION = "credit_report_authorization"  # 征信查询授权书
    DATA_AUTHORIZATION = "data_authorization"  # 个人信息处理授权书
    DRAWDOWN_NOTICE = "drawdown_notice"  # 提款通知书


class Language(StrEnum):
    ZH_CN = "zh-CN"
    EN = "en"


class VariableKind(StrEnum):
    """The Python type a template variable must have; floats are never accepted."""

    TEXT = "text"  # str, one line, ≤ 500 characters
    TEXT_LIST = "text_list"  # non-empty sequence of TEXT
    MASKED = "masked"  # str masked for display: 110105********002X, 622202******1234
    CURRENCY = "currency"  # ISO 4217 code known to puhui.domain.money
    MONEY = "money"  # Money, in the template's ``currency``
    RATE = "rate"  # Decimal fraction, 0 ≤ r ≤ 10 (0.1358 = 13.58 %)
    INTEGER = "integer"  # int ≥ 1
    DATE = "date"  # datetime.date (not a datetime)
    INSTANT = "instant"  # timezone-aware datetime
    CHOICE = "choice"  # one of the variable's ``choices``
    SCHEDULE = "schedule"  # rows {n, due_date, principal, interest, fees, total}
    FEES = "fees"  # rows {name, amount, timing}; may be empty


SCHEDULE_ROW_KEYS: Final = frozenset({"n", "due_date", "principal", "interest", "fees", "total"})
FEE_ROW_KEYS: Final = frozenset({"name", "amount", "timing"})
_MAX_TEXT: Final = 500
_VERSION: Final = re.compile(r"[0-9A-Za-z][0-9A-Za-z._-]{0,31}")
_HEX64: Final = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class TemplateVariable:
    name: str
    kind: VariableKind
    choices: tuple[str, ...] = ()


def _vars(spec: str, **choices: tuple[str, ...]) -> tuple[TemplateVariable, ...]:
    """``"name:kind name2:kind2"`` → variables (compact declaration, see TEMPLATE_VARIABLES)."""
    out = []
    for item in spec.split():
        name, _, kind = item.partition(":")
        out.append(TemplateVariable(name, VariableKind(kind), choices.get(name, ())))
    return tuple(out)


_METHODS: Final = tuple(m.value for m in Amortization)
_PARTIES: Final = (
    "lender_name:text lender_branch:text borrower_name:text borrower_id_number_masked:masked"
)
_LOAN_TERMS: Final = (
    " currency:currency principal:money annual_rate:rate apr_irr:rate apr_simple:rate"
    " term_months:integer repayment_method:choice schedule:schedule fees:fees"
    " penalty_rate_uplift:rate early_repayment_fee_rate:rate purpose:text"
    " disbursement_account_masked:masked offer_date:date offer_expires_at:instant"
    " complaint_hotline:text"
)
_AUTHORIZATION: Final = (
    " authorization_number:text authorization_date:date valid_until:date"
    " revocation_channel:text complaint_hotline:text"
)

TEMPLATE_VARIABLES: Final[Mapping[TemplateId, tuple[TemplateVariable, ...]]] = MappingProxyType(
    {
        TemplateId.LOAN_CONTRACT: _vars(
            "contract_number:text product_name:text "
            + _PARTIES
            + _LOAN_TERMS
            + " governing_law:text dispute_venue:text",
            repayment_method=_METHODS,
        ),
        TemplateId.DRAWDOWN_NOTICE: _vars(
            "notice_number:text contract_number:text product_name:text credit_limit:money"
            " available_limit:money " + _PARTIES + _LOAN_TERMS,
            repayment_method=_METHODS,
        ),
        TemplateId.CREDIT_REPORT_AUTHORIZATION: _vars(
            _PARTIES + _AUTHORIZATION + " credit_bureaus:text_list"
        ),
        TemplateId.DATA_AUTHORIZATION: _vars(
            _PARTIES
            + _AUTHORIZATION
            + " purposes:text_list data_items:text_list recipients:text_list retention:text"
        ),
    }
)
"""What each template must be given (R-11.3, R-G7 rates and all fees; R-11.2 consent scope)."""


def _bad(
    name: str, message: str, code: str = "contract.invalid_variable", **details: object
) -> ValidationError:
    what = "Template variable" if code == "contract.invalid_variable" else "Field"
    return ValidationError(
        f"{what} {name!r}: {message}", code=code, details={"variable": name, **details}
    )


def _check_text(name: str, value: object, code: str = "contract.invalid_variable") -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(name, "a non-empty text is required", code)
    if len(value) > _MAX_TEXT or any(ord(c) < 32 or c == "\x7f" for c in value):
        raise _bad(name, f"one line of at most {_MAX_TEXT} characters is required", code)
    return value


def _check_money(name: str, value: object) -> Money:
    if not isinstance(value, Money) or value.is_negative():
        raise _bad(name, "a non-negative amount of Money is required (never a float)")
    return value


def _check_rows(name: str, value: object, keys: frozenset[str]) -> list[Mapping[str, object]]:
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise _bad(name, "a list of rows is required")
    rows = list(value)
    for row in rows:
        if not isinstance(row, Mapping) or set(row) != keys:
            raise _bad(name, f"each row has exactly the keys {sorted(keys)}")
    return rows


def _check_schedule(name: str, value: object) -> None:
    rows = _check_rows(name, value, SCHEDULE_ROW_KEYS)
    if not rows:
        raise _bad(name, "a schedule has at least one installment")
    previous: date | None = None
    for expected_n, row in enumerate(rows, start=1):
        if row["n"] != expected_n or isinstance(row["n"], bool):
            raise _bad(name, "installments are numbered 1, 2, 3 …", row=expected_n)
        due = row["due_date"]
        if not isinstance(due, date) or isinstance(due, datetime):
            raise _bad(name, "a due date is a date", row=expected_n)
        if previous is not None and due <= previous:
            raise _bad(name, "due dates must increase", row=expected_n)
        previous = due
        parts = [_check_money(name, row[k]) for k in ("principal", "interest", "fees", "total")]
        if parts[0] + parts[1] + parts[2] != parts[3]:
            raise _bad(name, "each total is principal + interest + fees", row=expected_n)


def _check_masked(name: str, value: object) -> None:
    text = _check_text(name, value)
    if text.count("*") < 4 or sum(1 for c in text if c.isalnum()) > 10:
        raise ValidationError(
            f"Template variable {name!r} must be masked (e.g. 110105********002X)",
            code="contract.unmasked_identifier",
            details={"variable": name},
        )


def _check_text_list(name: str, value: object) -> None:
    if isinstance(value, str) or not isinstance(value, Sequence) or not value:
        raise _bad(name, "a non-empty list of texts is required")
    for item in value:
        _check_text(name, item)


def _check_fees(name: str, value: object) -> None:
    for row in _check_rows(name, value, FEE_ROW_KEYS):
        _check_text(name, row["name"])
        _check_text(name, row["timing"])
        _check_money(name, row["amount"])


def _require(test: Callable[[object], bool], message: str) -> Callable[[str, object], None]:
    def check(name: str, value: object) -> None:
        if not test(value):
            raise _bad(name, message)

    return check


def _is_date(v: object) -> bool:
    return isinstance(v, date) and not isinstance(v, datetime)


_CHECKS: Final[Mapping[VariableKind, Callable[[str, object], object]]] = MappingProxyType(
    {
        VariableKind.TEXT: _check_text,
        VariableKind.TEXT_LIST: _check_text_list,
        VariableKind.MASKED: _check_masked,
        VariableKind.CURRENCY: lambda name, v: Currency.of(_check_text(name, v)),
        VariableKind.MONEY: _check_money,
        VariableKind.RATE: _require(
            lambda v: isinstance(v, Decimal) and v.is_finite() and 0 <= v <= 10,
            "a Decimal rate from 0 to 10 is required (0.1358 = 13.58 %)",
        ),
        VariableKind.INTEGER: _require(
            lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
            "a whole number ≥ 1 is required",
        ),
        VariableKind.DATE: _require(_is_date, "a date is required"),
        VariableKind.INSTANT: _require(
            lambda v: isinstance(v, datetime) and v.utcoffset() is not None,
            "a timezone-aware datetime is required",
        ),
        VariableKind.SCHEDULE: _check_schedule,
        VariableKind.FEES: _check_fees,
    }
)


def _check_value(var: TemplateVariable, value: object) -> None:
    if var.kind is VariableKind.CHOICE:
        if value not in var.choices:
            raise _bad(var.name, f"one of {list(var.choices)} is required")
        return
    _CHECKS[var.kind](var.name, value)


def _money_values(values: Mapping[str, object]) -> list[tuple[str, Money]]:
    found = [(k, v) for k, v in values.items() if isinstance(v, Money)]
    for key in ("schedule", "fees"):
        rows = values.get(key)
        if isinstance(rows, Sequence):
            for row in rows:
                found += [(key, v) for v in row.values() if isinstance(v, Money)]
    return found


def _check_consistency(values: Mapping[str, object]) -> None:
    """Amounts are in the stated currency; the schedule repays exactly the principal; a
    drawdown fits the available credit."""
    currency = values.get("currency")
    for name, amount in _money_values(values):
        if amount.currency.code != currency:
            raise _bad(name, f"amounts must be in {currency}", currency=amount.currency.code)
    principal, schedule = values.get("principal"), values.get("schedule")
    if isinstance(principal, Money) and isinstance(schedule, Sequence):
        repaid = Money.zero(principal.currency)
        for row in schedule:
            repaid = repaid + row["principal"]
        if repaid != principal:
            raise _bad("schedule", "the installments must repay exactly the principal")
    limit, available = values.get("credit_limit"), values.get("available_limit")
    if (
        isinstance(principal, Money)
        and isinstance(available, Money)
        and isinstance(limit, Money)
        and not principal <= available <= limit
    ):
        raise _bad("principal", "a drawdown must fit the available credit, within the limit")


@dataclass(frozen=True, slots=True)
class ContractTemplate:
    """One versioned text of a template in one language (R-10.2(d))."""

    template_id: TemplateId
    version: str
    language: Language
    variables: tuple[TemplateVariable, ...]
    source_digest: str = ""  # SM3 hex of the template source, set by the adapter that loads it

    def __post_init__(self) -> None:
        if not isinstance(self.version, str) or not _VERSION.fullmatch(self.version):
            raise ValidationError(
                "A template version is 1-32 letters, digits, '.', '_' or '-'.",
                code="contract.invalid_template_version",
                details={"template_id": str(self.template_id)},
            )

    @classmethod
    def declared(
        cls, template_id: TemplateId, version: str, language: Language
    ) -> ContractTemplate:
        """The template with the variables :data:`TEMPLATE_VARIABLES` declares for it."""
        return cls(template_id, version, language, TEMPLATE_VARIABLES[template_id])

    @property
    def variable_names(self) -> frozenset[str]:
        return frozenset(v.name for v in self.variables)

    def check_variables(self, values: Mapping[str, object]) -> None:
        """Refuse missing, undeclared or ill-typed variables, naming them (nothing is guessed)."""
        where = {"template_id": str(self.template_id), "language": str(self.language)}
        missing = sorted(self.variable_names - set(values))
        if missing:
            raise ValidationError(
                f"Missing template variable(s): {', '.join(missing)}",
                code="contract.missing_variable",
                details={"variable": missing[0], "variables": missing, **where},
            )
        unknown = sorted(set(values) - self.variable_names, key=str)
        if unknown:
            names = [str(n) for n in unknown]
            raise ValidationError(
                f"Unknown template variable(s): {', '.join(names)}",
                code="contract.unknown_variable",
                details={"variable": names[0], "variables": names, **where},
            )
        for var in self.variables:
            _check_value(var, values[var.name])
        _check_consistency(values)


def document_digest(pdf: bytes, algorithm: HashAlgorithm = HashAlgorithm.SM3) -> str:
    """Hex digest of the canonical PDF bytes: what the customer signs and the bank seals."""
    return digest(pdf, algorithm)


# -- the contract's lifecycle ----------------------------------------------------------------


class ContractStatus(StrEnum):
    DRAFT = "draft"
    OFFERED = "offered"
    SIGNED = "signed"  # the customer's signature is attached
    SEALED = "sealed"  # the bank's e-seal is attached
    ARCHIVED = "archived"
    EXPIRED = "expired"  # the offer lapsed unsigned
    WITHDRAWN = "withdrawn"  # the bank took the draft or offer back


@dataclass(frozen=True, slots=True)
class Offer:
    """Present the draft to the customer."""


@dataclass(frozen=True, slots=True)
class Sign:
    """Attach the customer's signature (and its trusted timestamp) over the document digest."""

    signature: Mapping[str, str]
    timestamp: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Seal:
    """Attach the bank's e-seal (and its trusted timestamp) over the document digest."""

    seal: Mapping[str, str]
    timestamp: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Archive:
    """File the sealed contract (R-10.2(g))."""


@dataclass(frozen=True, slots=True)
class Expire:
    """Record that the offer lapsed (only once ``offer_expires_at`` has passed)."""


@dataclass(frozen=True, slots=True)
class Withdraw:
    """The bank takes back a draft or an unsigned offer."""

    reason: str


ContractCommand = Offer | Sign | Seal | Archive | Expire | Withdraw

_MOVES: Final[Mapping[type[object], tuple[frozenset[ContractStatus], ContractStatus]]] = (
    MappingProxyType(
        {
            Offer: (frozenset({ContractStatus.DRAFT}), ContractStatus.OFFERED),
            Sign: (frozenset({ContractStatus.OFFERED}), ContractStatus.SIGNED),
            Seal: (frozenset({ContractStatus.SIGNED}), ContractStatus.SEALED),
            Archive: (frozenset({ContractStatus.SEALED}), ContractStatus.ARCHIVED),
            Expire: (frozenset({ContractStatus.OFFERED}), ContractStatus.EXPIRED),
            Withdraw: (
                frozenset({ContractStatus.DRAFT, ContractStatus.OFFERED}),
                ContractStatus.WITHDRAWN,
            ),
        }
    )
)


@dataclass(frozen=True, slots=True)
class StatusChange:
    from_status: ContractStatus
    to_status: ContractStatus
    at: datetime
    note: str = ""


def _aware(value: datetime, what: str) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ValidationError(
            f"{what} must be a timezone-aware datetime", code="contract.naive_time"
        )
    return value


def _frozen(value: Mapping[str, str] | None) -> Mapping[str, str] | None:
    return None if value is None else MappingProxyType(dict(value))


def _record(value: Mapping[str, str], what: str, document: str) -> Mapping[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValidationError(
            f"The {what} is a mapping of text to text", code="contract.invalid_record"
        )
    if value.get("signed_digest", "").lower() != document:
        raise ValidationError(
            f"The {what} was not made over this contract's document digest",
            code="contract.digest_mismatch",
            details={"record": what},
        )
    return MappingProxyType(dict(value))


@dataclass(frozen=True, slots=True)
class Contract:
    """An e-contract (R-9.4, R-10.2(d)); change it only through :func:`transition`."""

    contract_id: str
    contract_number: str
    template_id: TemplateId
    template_version: str
    language: Language
    customer_id: str
    document_digest: str  # hex digest of the canonical PDF
    offer_expires_at: datetime
    created_at: datetime
    digest_algorithm: HashAlgorithm = HashAlgorithm.SM3
    status: ContractStatus = ContractStatus.DRAFT
    customer_signature: Mapping[str, str] | None = None
    signature_timestamp: Mapping[str, str] | None = None
    bank_seal: Mapping[str, str] | None = None
    seal_timestamp: Mapping[str, str] | None = None
    history: tuple[StatusChange, ...] = ()

    def __post_init__(self) -> None:
        for name in ("contract_id", "contract_number", "customer_id"):
            _check_text(name, getattr(self, name), "contract.invalid_field")
        if not isinstance(self.document_digest, str) or not _HEX64.fullmatch(self.document_digest):
            raise ValidationError(
                "A document digest is 64 lower-case hex characters (SM3 or SHA-256)",
                code="contract.invalid_digest",
            )
        _aware(self.offer_expires_at, "offer_expires_at")
        _aware(self.created_at, "created_at")
        if self.offer_expires_at <= self.created_at:
            raise ValidationError(
                "An offer must expire after it is created", code="contract.invalid_expiry"
            )

    def is_expired(self, at: datetime) -> bool:
        return _aware(at, "at") >= self.offer_expires_at


_REFUSALS: Final = (  # (command, statuses, code, message): the first match explains a refusal
    (Sign, {ContractStatus.SIGNED, ContractStatus.SEALED, ContractStatus.ARCHIVED},
     "contract.already_signed", "The contract is already signed"),
    (Sign, {ContractStatus.EXPIRED}, "contract.offer_expired", "The offer has expired"),
    (Seal, {ContractStatus.DRAFT, ContractStatus.OFFERED},
     "contract.not_signed", "The customer has not signed yet"),
    (Seal, {ContractStatus.SEALED, ContractStatus.ARCHIVED},
     "contract.already_sealed", "The contract is already sealed"),
)  # fmt: skip


def _conflict(contract: Contract, command: ContractCommand, code: str, message: str) -> Conflict:
    details = {
        "status": contract.status.value,
        "command": type(command).__name__.lower(),
        "contract_id": contract.contract_id,
        "offer_expires_at": contract.offer_expires_at.isoformat(),
    }
    return Conflict(message, code=code, details=details)


def _refuse(contract: Contract, command: ContractCommand) -> Conflict:
    for kind, statuses, code, message in _REFUSALS:
        if isinstance(command, kind) and contract.status in statuses:
            return _conflict(contract, command, code, message)
    message = f"A {contract.status} contract cannot {type(command).__name__.lower()}"
    return _conflict(contract, command, "contract.illegal_transition", message)


def transition(contract: Contract, command: ContractCommand, *, at: datetime) -> Contract:
    """The one way a contract changes state; an illegal move raises and changes nothing."""
    _aware(at, "at")
    allowed_from, to = _MOVES[type(command)]
    if contract.status not in allowed_from:
        raise _refuse(contract, command)
    expired = contract.is_expired(at)
    if isinstance(command, Offer | Sign) and expired:
        raise _conflict(contract, command, "contract.offer_expired", "The offer has expired")
    if isinstance(command, Expire) and not expired:
        raise _conflict(contract, command, "contract.not_expired", "The offer has not expired")
    updated, note = contract, ""
    if isinstance(command, Sign):
        record = _record(command.signature, "signature", contract.document_digest)
        updated = replace(
            contract, customer_signature=record, signature_timestamp=_frozen(command.timestamp)
        )
    elif isinstance(command, Seal):
        record = _record(command.seal, "seal", contract.document_digest)
        updated = replace(contract, bank_seal=record, seal_timestamp=_frozen(command.timestamp))
    elif isinstance(command, Withdraw):
        note = _check_text("reason", command.reason, "contract.invalid_field")
    change = StatusChange(contract.status, to, at, note)
    return replace(updated, status=to, history=(*contract.history, change))


@dataclass(frozen=True)
class StoredContract:
    """A contract and what the platform keeps beside it (the e-contract services' record)."""

    contract: Contract
    application_id: int | None
    owner_ref: str  # blind index of the borrower's resident ID (the person who signs)
    terms: Mapping[str, Any]  # the offered loan terms, product and display values (JSON)
    evidence: Mapping[str, int] = field(default_factory=dict)  # event type -> log leaf seq
    customer_id: int | None = None  # the portal customer who signed
    loan_id: int | None = None  # the loan booked from it
