"""Black, grey and white lists (R-9.6(a,b): 黑名单、灰名单、白名单).

An entry names a subject — a resident ID, a mobile number, a bank card, a device, an IP
address, an enterprise (USCC) or an address — by its **blind index** only (the caller hashes
the normalized value: :func:`normalize` gives the text to hash), with where it came from, why,
the evidence (a reference or digest), who added it and until when it holds. An entry past its
``expires_at`` no longer matches; removing one before that needs a second person
(maker-checker, in the services).

:func:`parse_rows` reads an import (CSV rows as mappings): every row is checked on its own, the
valid ones are returned to be stored together, each bad row is reported with its number, field
and reason — a bad row never stops or half-applies the others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from enum import StrEnum
from typing import Final

from puhui.domain.errors import DomainError, ValidationError
from puhui.domain.identifiers import (
    BankCardNumber,
    MobileNumber,
    ResidentIdNumber,
    UnifiedSocialCreditCode,
)

__all__ = [
    "ListEntry",
    "ListSource",
    "ListType",
    "RowError",
    "SubjectKind",
    "active_hits",
    "normalize",
    "parse_rows",
]

CHINA: Final = timezone(timedelta(hours=8))
_DEVICE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")
_MAX_TEXT: Final = 400


class ListType(StrEnum):
    BLACK = "black"  # 黑名单: block
    GREY = "grey"  # 灰名单: step-up and review
    WHITE = "white"  # 白名单: known good; velocity and graph signals are capped at low


class SubjectKind(StrEnum):
    RESIDENT_ID = "resident_id"
    MOBILE = "mobile"
    BANK_CARD = "bank_card"
    DEVICE = "device"
    IP = "ip"
    ENTERPRISE = "enterprise"
    ADDRESS = "address"


class ListSource(StrEnum):
    MANUAL = "manual"  # entered by staff
    IMPORT = "import"  # a file from a partner, an association, the regulator
    CASE = "case"  # a confirmed fraud case
    RULE = "rule"  # an automatic rule


def _address(text: str) -> str:
    """One spelling per address: no spaces or punctuation, full-width digits made ASCII."""
    folded = text.translate(
        {0xFF10 + i: ord("0") + i for i in range(10)} | {0x3000: None, 0x20: None}
    )
    return re.sub(r"[\s,，。.·#\-－_/]", "", folded).lower()


def _ip(text: str) -> str:
    import ipaddress

    return str(ipaddress.ip_address(text.strip()))


def _device(text: str) -> str:
    value = text.strip()
    if not _DEVICE.fullmatch(value):
        raise ValidationError("a device id is 8-128 letters, digits, . _ : -", code="format")
    return value


_NORMALIZE: Final[Mapping[SubjectKind, Callable[[str], str]]] = {
    SubjectKind.RESIDENT_ID: lambda v: str(ResidentIdNumber.parse(v)),
    SubjectKind.MOBILE: lambda v: str(MobileNumber.parse(v)),
    SubjectKind.BANK_CARD: lambda v: str(BankCardNumber.parse(v)),
    SubjectKind.DEVICE: _device,
    SubjectKind.IP: _ip,
    SubjectKind.ENTERPRISE: lambda v: str(UnifiedSocialCreditCode.parse(v)),
    SubjectKind.ADDRESS: _address,
}


def normalize(kind: SubjectKind, value: str) -> str:
    """The canonical text of a subject (what is hashed into its blind index); refuses a value
    that is not one (``fraud.list.invalid_value``)."""
    try:
        text = _NORMALIZE[kind](value)
    except (DomainError, ValueError) as error:
        raise ValidationError(
            f"not a valid {kind.value}: {error}",
            code="fraud.list.invalid_value",
            details={"field": "value", "kind": kind.value},
        ) from None
    if not text:
        raise ValidationError(
            f"not a valid {kind.value}", code="fraud.list.invalid_value", details={"field": "value"}
        )
    return text


def _text(value: object, field: str, *, required: bool = True) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ValidationError(
                f"{field} is required", code="fraud.list.missing_field", details={"field": field}
            )
        return ""
    if not isinstance(value, str) or len(value) > _MAX_TEXT or "\n" in value:
        raise ValidationError(
            f"{field} is one line of at most {_MAX_TEXT} characters",
            code="fraud.list.invalid_field",
            details={"field": field},
        )
    return value.strip()


@dataclass(frozen=True, slots=True)
class ListEntry:
    id: int | None
    list_type: ListType
    kind: SubjectKind
    subject_key: str  # blind index of the normalized value
    source: ListSource
    reason: str
    evidence: str  # a case number, a document digest, the import file's digest …
    added_by: str
    added_at: datetime
    expires_at: datetime | None = None
    removed_at: datetime | None = None
    masked: str = ""  # for display: 110105********002X, 138****5678

    def __post_init__(self) -> None:
        _text(self.reason, "reason")
        if self.expires_at is not None and self.expires_at <= self.added_at:
            raise ValidationError(
                "an entry must expire after it is added",
                code="fraud.list.invalid_field",
                details={"field": "expires_on"},
            )

    def is_active(self, at: datetime) -> bool:
        if self.removed_at is not None and self.removed_at <= at:
            return False
        return self.expires_at is None or at < self.expires_at


def active_hits(entries: Iterable[ListEntry], at: datetime) -> list[ListEntry]:
    return [e for e in entries if e.is_active(at)]


def mask(kind: SubjectKind, text: str) -> str:
    if kind is SubjectKind.ADDRESS:
        return text[:6] + "***"
    if kind in (SubjectKind.IP, SubjectKind.DEVICE):
        return text[: max(3, len(text) // 3)] + "***"
    return text[:3] + "*" * max(0, len(text) - 7) + text[-4:]


@dataclass(frozen=True, slots=True)
class ParsedRow:
    row: int
    list_type: ListType
    kind: SubjectKind
    value: str  # normalized, to be hashed by the caller (never stored in clear)
    reason: str
    evidence: str
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    field: str
    code: str
    message: str


def _choice(enum: type[ListType] | type[SubjectKind], value: object, field: str) -> str:
    try:
        return enum(str(value).strip().lower()).value
    except ValueError:
        raise ValidationError(
            f"{field} must be one of {[e.value for e in enum]}",
            code="fraud.list.invalid_field",
            details={"field": field},
        ) from None


def _expiry(value: object, today: date) -> datetime | None:
    if value in (None, ""):
        return None
    try:
        day = date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValidationError(
            "expires_on must be a date YYYY-MM-DD",
            code="fraud.list.invalid_field",
            details={"field": "expires_on"},
        ) from None
    if day <= today:
        raise ValidationError(
            "expires_on must be after today",
            code="fraud.list.invalid_field",
            details={"field": "expires_on"},
        )
    return datetime.combine(day, time(), tzinfo=CHINA)


COLUMNS: Final = ("list_type", "kind", "value", "reason", "evidence", "expires_on")


def parse_row(row: Mapping[str, object], today: date, number: int = 1) -> ParsedRow:
    unknown = sorted(str(k) for k in set(row) - set(COLUMNS))
    if unknown:
        raise ValidationError(
            f"unknown column(s): {', '.join(unknown)}",
            code="fraud.list.invalid_field",
            details={"field": unknown[0]},
        )
    kind = SubjectKind(_choice(SubjectKind, _text(row.get("kind"), "kind"), "kind"))
    return ParsedRow(
        row=number,
        list_type=ListType(
            _choice(ListType, _text(row.get("list_type"), "list_type"), "list_type")
        ),
        kind=kind,
        value=normalize(kind, _text(row.get("value"), "value")),
        reason=_text(row.get("reason"), "reason"),
        evidence=_text(row.get("evidence"), "evidence", required=False),
        expires_at=_expiry(row.get("expires_on"), today),
    )


def parse_rows(
    rows: Iterable[Mapping[str, object]], today: date
) -> tuple[list[ParsedRow], list[RowError]]:
    """Check every row on its own: ``(valid rows, errors)``; row numbers start at 1 (the first
    data row) and a repeated subject in the same file is reported, not stored twice."""
    valid: list[ParsedRow] = []
    errors: list[RowError] = []
    seen: set[tuple[str, str, str]] = set()
    for number, row in enumerate(rows, start=1):
        try:
            if not isinstance(row, Mapping):
                raise ValidationError("a row is an object", code="fraud.list.invalid_field",
                                      details={"field": "row"})  # fmt: skip
            parsed = parse_row(row, today, number)
        except ValidationError as error:
            field = str(error.details.get("field", "row"))
            errors.append(RowError(number, field, error.code, str(error)))
            continue
        key = (parsed.list_type.value, parsed.kind.value, parsed.value)
        if key in seen:
            errors.append(
                RowError(number, "value", "fraud.list.duplicate_row", "the same subject again")
            )
            continue
        seen.add(key)
        valid.append(parsed)
    return valid, errors
