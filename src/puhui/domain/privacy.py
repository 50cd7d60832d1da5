"""Personal-data classification, display masking and access logging (R-11.2, R-M4.2, R-A6).

Each personal field the platform stores is declared once as a :class:`PersonalField`: its
class under JR/T 0171-2020 (C1/C2/C3), its security level under JR/T 0197-2020 (1..5), how it
is masked on screen and whether it must be searchable. The level decides the protection:

* level 2 and above: every read is written to the access log (:class:`AccessLogEntry`, R-M4.2);
* level 3 and above: encrypted at rest (``puhui.adapters.crypto``) and masked on display unless
  the viewer holds the unmask permission (R-11.2, R-6.6).

:func:`mask` is the ONE place where display masking happens; templates, exports and API
serializers must all go through it (or :func:`present`). The default patterns below are common
practice in Chinese financial apps, not a normative rule; they are configurable through
:class:`MaskPolicy`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum, StrEnum

from puhui.domain.errors import ValidationError

__all__ = [
    "DEFAULT_MASK_POLICY",
    "AccessLogEntry",
    "AccessOperation",
    "AccessResult",
    "Disclosure",
    "InfoClass",
    "MaskKind",
    "MaskPolicy",
    "PersonalField",
    "SecurityLevel",
    "default_level",
    "deidentify",
    "mask",
    "present",
]


class InfoClass(StrEnum):
    """Personal financial information classes of JR/T 0171-2020.

    C3: authentication data (passwords, PINs, biometric templates, card CVV, OTP secrets);
    leaking it lets someone act as the customer.
    C2: data that identifies the customer or describes their finances (ID number, phone,
    bank card, address, income, loan records).
    C1: internal data of the institution about the customer that does not identify them by
    itself (internal ids, risk scores, process states).
    """

    C1 = "C1"
    C2 = "C2"
    C3 = "C3"


class SecurityLevel(IntEnum):
    """Data security levels of JR/T 0197-2020, 1 (lowest) to 5 (highest)."""

    PUBLIC = 1
    INTERNAL = 2
    SENSITIVE = 3
    HIGHLY_SENSITIVE = 4
    CORE = 5


_DEFAULT_LEVELS = {
    InfoClass.C3: SecurityLevel.HIGHLY_SENSITIVE,
    InfoClass.C2: SecurityLevel.SENSITIVE,
    InfoClass.C1: SecurityLevel.INTERNAL,
}


def default_level(info_class: InfoClass) -> SecurityLevel:
    """Default level of a class: C3 → 4, C2 → 3, C1 → 2 (R-11.2)."""
    return _DEFAULT_LEVELS[info_class]


class MaskKind(StrEnum):
    """Which display pattern a field uses (see :class:`MaskPolicy`)."""

    ID_NUMBER = "id_number"
    PHONE = "phone"
    BANK_CARD = "bank_card"
    NAME = "name"
    ADDRESS = "address"
    EMAIL = "email"
    FULL = "full"  # everything hidden
    NONE = "none"  # shown as is (only for fields below level 3)


@dataclass(frozen=True, slots=True)
class PersonalField:
    """Declaration of one personal field, e.g. ``customer.id_number`` (R-11.2, R-A6).

    ``searchable`` means the field needs a blind index so it can be looked up without
    decrypting. A field of level 3 or more must have a masking rule other than ``NONE``.
    """

    name: str
    info_class: InfoClass
    level: SecurityLevel
    mask: MaskKind
    searchable: bool = False

    def __post_init__(self) -> None:
        if not self.name:
            raise ValidationError("A personal field needs a name", code="privacy.field_name")
        object.__setattr__(self, "level", SecurityLevel(self.level))
        if self.masked_on_display and self.mask is MaskKind.NONE:
            raise ValidationError(
                f"Field {self.name} is level {int(self.level)} and must be masked on display",
                code="privacy.mask_required",
                details={"field": self.name},
            )

    @classmethod
    def classified(
        cls, name: str, info_class: InfoClass, mask: MaskKind, *, searchable: bool = False
    ) -> PersonalField:
        """A field at the default level of its class."""
        return cls(name, info_class, default_level(info_class), mask, searchable)

    @property
    def encrypted_at_rest(self) -> bool:
        """Level 3+ is stored encrypted (R-11.2, R-6.6)."""
        return self.level >= SecurityLevel.SENSITIVE

    @property
    def access_logged(self) -> bool:
        """Every read of level 2+ is logged (R-M4.2)."""
        return self.level >= SecurityLevel.INTERNAL

    @property
    def masked_on_display(self) -> bool:
        """Level 3+ is masked unless the viewer may unmask (R-11.2)."""
        return self.level >= SecurityLevel.SENSITIVE


@dataclass(frozen=True, slots=True)
class MaskPolicy:
    """Display patterns (common practice, configurable, not normative).

    ID number keeps 6 + 4 (``110105********002X``), phone 3 + 4 (``138****5678``), bank card
    6 + 4; each hidden character becomes ``mask_char``. A value that would show too much
    (fewer than ``min_hidden`` characters hidden) is masked completely. Names keep the first
    character of each word (``张*``, ``J*** S****``); addresses keep the first
    ``address_keep`` characters (about the district) then ``address_suffix``; e-mail keeps the
    first character of the local part (``a***@example.com``).
    """

    mask_char: str = "*"
    full_mask: str = "******"
    id_head: int = 6
    id_tail: int = 4
    phone_head: int = 3
    phone_tail: int = 4
    card_head: int = 6
    card_tail: int = 4
    min_hidden: int = 4
    address_keep: int = 6
    address_suffix: str = "****"
    email_hidden: str = "***"


DEFAULT_MASK_POLICY = MaskPolicy()

_NAME_SEPARATORS = re.compile(r"(\s+|[·•・.\-])")
_CARD_FILLERS = re.compile(r"[\s\-]")


def _keep_ends(value: str, head: int, tail: int, policy: MaskPolicy) -> str:
    hidden = len(value) - head - tail
    if hidden < policy.min_hidden:
        return policy.mask_char * len(value)
    return value[:head] + policy.mask_char * hidden + value[len(value) - tail :]


def _mask_name(value: str, policy: MaskPolicy) -> str:
    if len(value) == 1:
        return policy.mask_char
    parts = _NAME_SEPARATORS.split(value)
    out = []
    for index, part in enumerate(parts):
        is_separator = index % 2 == 1
        out.append(part if is_separator else part[:1] + policy.mask_char * (len(part) - 1))
    return "".join(out)


def _mask_email(value: str, policy: MaskPolicy) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local or not domain:
        return policy.full_mask
    head = local[:1] if len(local) > 1 else ""
    return f"{head}{policy.email_hidden}@{domain}"


def mask(
    value: str | None, kind: MaskKind, *, policy: MaskPolicy = DEFAULT_MASK_POLICY
) -> str | None:
    """Mask ``value`` for display (R-11.2); ``None`` stays ``None``.

    Surrounding spaces are dropped first. Never fails, whatever the length: values too short
    to keep anything are masked completely.
    """
    if value is None:
        return None
    text = value.strip()
    if not text or kind is MaskKind.NONE:
        return text
    if kind is MaskKind.ID_NUMBER:
        return _keep_ends(text, policy.id_head, policy.id_tail, policy)
    if kind is MaskKind.PHONE:
        return _keep_ends(text, policy.phone_head, policy.phone_tail, policy)
    if kind is MaskKind.BANK_CARD:
        digits = _CARD_FILLERS.sub("", text)
        return _keep_ends(digits, policy.card_head, policy.card_tail, policy)
    if kind is MaskKind.NAME:
        return _mask_name(text, policy)
    if kind is MaskKind.ADDRESS:
        if len(text) <= policy.address_keep:
            return policy.full_mask
        return text[: policy.address_keep] + policy.address_suffix
    if kind is MaskKind.EMAIL:
        return _mask_email(text, policy)
    return policy.full_mask


@dataclass(frozen=True, slots=True)
class Disclosure:
    """Decides what a viewer sees of a personal field (R-11.2, R-A6)."""

    policy: MaskPolicy = DEFAULT_MASK_POLICY

    def present(self, value: str | None, field: PersonalField, *, may_unmask: bool) -> str | None:
        """Clear text if the viewer may unmask or the field is below level 3, else masked."""
        if may_unmask or not field.masked_on_display:
            return value
        return mask(value, field.mask, policy=self.policy)


_DEFAULT_DISCLOSURE = Disclosure()


def present(value: str | None, field: PersonalField, *, may_unmask: bool) -> str | None:
    """:meth:`Disclosure.present` with the default masking policy."""
    return _DEFAULT_DISCLOSURE.present(value, field, may_unmask=may_unmask)


class AccessOperation(StrEnum):
    READ = "read"
    LIST = "list"  # a page of records, always masked
    EXPORT = "export"
    UPDATE = "update"


class AccessResult(StrEnum):
    OK = "ok"  # shown in clear
    DENIED = "denied"
    MASKED = "masked"  # shown, but masked


@dataclass(frozen=True, slots=True)
class AccessLogEntry:
    """One access to level-2+ personal data: who, whose, which fields, why (R-M4.2).

    ``subject`` is the reader (``"staff:alice"``), ``object`` the data owner
    (``"customer:12"``), ``fields`` the field names touched (never their values).
    """

    subject: str
    object: str
    fields: tuple[str, ...]
    operation: AccessOperation
    purpose: str
    result: AccessResult
    occurred_at: datetime
    request_id: str | None = None

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValidationError(
                "Access log timestamps must be timezone-aware (UTC)",
                code="privacy.naive_timestamp",
            )
        object.__setattr__(self, "occurred_at", self.occurred_at.astimezone(UTC))
        object.__setattr__(self, "fields", tuple(self.fields))
        object.__setattr__(self, "operation", AccessOperation(self.operation))
        object.__setattr__(self, "result", AccessResult(self.result))
        if not self.subject or not self.object:
            raise ValidationError(
                "An access log entry names who read and whose data",
                code="privacy.access_party_required",
            )
        if not self.fields:
            raise ValidationError(
                "An access log entry lists the fields accessed", code="privacy.fields_required"
            )
        if not self.purpose.strip():
            raise ValidationError(
                "Every access to personal data states its purpose",
                code="privacy.purpose_required",
            )


_HEX_PHONE_DIGITS = 10


def _normalise(value: str, kind: MaskKind) -> str:
    text = value.strip()
    if kind is MaskKind.BANK_CARD:
        return _CARD_FILLERS.sub("", text)
    if kind in (MaskKind.ID_NUMBER, MaskKind.EMAIL):
        return text.upper()
    return text


def deidentify(value: str, field: PersonalField, *, salt: bytes) -> str:
    """Deterministic pseudonym of ``value`` for development and test exports (R-11.2).

    HMAC-SHA256 keyed with ``salt`` over the mask kind and the normalised value: the same
    value gives the same pseudonym in every table (joins still work) for one salt, and
    nothing for another. Format hints: phone → ``1`` + 10 digits, ID number →
    ``ID-<16 hex>``, name → ``客户<6 hex>``, e-mail → ``<12 hex>@example.invalid``, anything
    else → ``<kind>-<16 hex>``. Pseudonyms are not valid real identifiers.
    """
    if len(salt) < 16:
        raise ValidationError(
            "De-identification needs a secret salt of at least 16 bytes",
            code="privacy.salt_required",
        )
    kind = field.mask
    message = f"{kind.value}\x00{_normalise(value, kind)}".encode()
    hexdigest = hmac.new(salt, message, hashlib.sha256).hexdigest()
    if kind is MaskKind.PHONE:
        number = int(hexdigest, 16) % 10**_HEX_PHONE_DIGITS
        return f"1{number:0{_HEX_PHONE_DIGITS}d}"
    if kind is MaskKind.ID_NUMBER:
        return f"ID-{hexdigest[:16]}"
    if kind is MaskKind.NAME:
        return f"客户{hexdigest[:6]}"
    if kind is MaskKind.EMAIL:
        return f"{hexdigest[:12]}@example.invalid"
    return f"{kind.value}-{hexdigest[:16]}"
