"""Customer consent (授权) to process personal financial information for one purpose (R-11.2).

JR/T 0171-2020 asks for *layered, purpose-specific, revocable* consent and no collection beyond
scope. A :class:`Consent` is one authorization the customer gave: one :class:`ConsentPurpose`,
the data sources it covers (``scope``), a validity window and the version of the authorization
text the customer read (R-11.3 forced reading). It names the customer by a keyed hash of the
resident ID number (:func:`customer_reference`), never by the number itself.

A data source that needs a purpose (``puhui.domain.risk.sources``) is queried only while a
consent :meth:`~Consent.is_valid_for` that purpose and source exists; otherwise
:func:`require_consent` raises :class:`ConsentMissing` (``consent.missing``, forbidden).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final

from puhui.domain.errors import Conflict, DomainError, ErrorKind, ValidationError

__all__ = [
    "Consent",
    "ConsentMissing",
    "ConsentPurpose",
    "customer_reference",
    "require_consent",
]


class ConsentPurpose(StrEnum):
    """What the customer allows the data to be used for; one consent per purpose (layered)."""

    CREDIT_REPORT = "credit_report"  # 征信查询授权
    TAX_DATA = "tax_data"  # 涉税信息查询授权
    BANK_FLOWS = "bank_flows"  # 银行流水
    PLATFORM_DATA = "platform_data"  # 平台经营数据
    SOCIAL_SECURITY = "social_security"  # 社保缴纳信息
    IDENTITY_VERIFICATION = "identity_verification"  # 身份核验
    MARKETING = "marketing"  # 营销, never needed for a credit decision


class ConsentMissing(DomainError):
    """No valid consent for the purpose: the data may not be collected or used (R-11.2)."""

    code = "consent.missing"
    kind = ErrorKind.FORBIDDEN


_INVALID: Final = "consent.invalid"
_ID: Final = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
_REF: Final = re.compile(r"[A-Za-z0-9_:-]{16,128}")
_LOOKS_LIKE_ID_NUMBER: Final = re.compile(r"[0-9]{17}[0-9Xx]")
_TEXT_VERSION: Final = re.compile(r"[A-Za-z0-9_.-]{1,32}")
_SOURCE_ID: Final = re.compile(r"[a-z][a-z0-9_]{1,39}")


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(message, code=_INVALID, details={"field": field})


def _utc(field: str, value: object) -> datetime:
    if not isinstance(value, datetime) or value.utcoffset() != timedelta(0):
        raise _invalid(field, f"'{field}' must be a timezone-aware UTC instant.")
    return value


def customer_reference(resident_id: str, *, key: bytes) -> str:
    """The customer's reference in consent records: ``cr-`` + HMAC-SHA256 (hex, 32 chars) of
    the normalized ID number, keyed with the platform's secret (at least 16 bytes).

    An unkeyed hash of an ID number is reversible by enumeration (region x birth date x 1000
    sequences), so a key is required.
    """
    if not isinstance(key, bytes) or len(key) < 16:
        raise ValidationError(
            "A customer reference needs a secret key of at least 16 bytes.",
            code="consent.key_required",
        )
    normalized = "".join(str(resident_id).split()).upper()
    digest = hmac.new(key, b"consent.customer\x00" + normalized.encode(), hashlib.sha256)
    return "cr-" + digest.hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Consent:
    """One authorization given by a customer (R-11.2).

    ``scope`` lists the data-source ids the customer allowed under ``purpose`` (no collection
    beyond scope); ``text_version`` is the version of the authorization text shown.
    Valid at ``at`` when ``granted_at <= at < expires_at`` and not revoked at or before ``at``.
    """

    consent_id: str
    customer_ref: str
    purpose: ConsentPurpose
    scope: frozenset[str]
    granted_at: datetime
    expires_at: datetime
    text_version: str
    revoked_at: datetime | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.consent_id, str) or not _ID.fullmatch(self.consent_id):
            raise _invalid("consent_id", "A consent id is 1-64 letters, digits or _.:-")
        ref = self.customer_ref
        if (
            not isinstance(ref, str)
            or not _REF.fullmatch(ref)
            or _LOOKS_LIKE_ID_NUMBER.fullmatch(ref)
        ):
            raise _invalid(
                "customer_ref",
                "The customer reference must be a hash of the ID number, not the number.",
            )
        try:
            object.__setattr__(self, "purpose", ConsentPurpose(self.purpose))
        except ValueError:
            raise _invalid("purpose", "Unknown consent purpose.") from None
        scope = frozenset(self.scope) if not isinstance(self.scope, str) else frozenset()
        if not scope or not all(isinstance(s, str) and _SOURCE_ID.fullmatch(s) for s in scope):
            raise _invalid("scope", "The scope lists at least one data-source id.")
        object.__setattr__(self, "scope", scope)
        granted = _utc("granted_at", self.granted_at)
        if _utc("expires_at", self.expires_at) <= granted:
            raise _invalid("expires_at", "A consent expires after it is granted.")
        if self.revoked_at is not None and _utc("revoked_at", self.revoked_at) < granted:
            raise _invalid("revoked_at", "A consent cannot be revoked before it is granted.")
        if not isinstance(self.text_version, str) or not _TEXT_VERSION.fullmatch(self.text_version):
            raise _invalid("text_version", "The authorization text version is 1-32 characters.")

    def is_valid_for(
        self, purpose: ConsentPurpose | str, at: datetime, *, source_id: str | None = None
    ) -> bool:
        """True while the consent allows ``purpose`` (and ``source_id``, when given) at ``at``."""
        at = _utc("at", at)
        if self.purpose != purpose or not self.granted_at <= at < self.expires_at:
            return False
        if self.revoked_at is not None and self.revoked_at <= at:
            return False
        return source_id is None or source_id in self.scope

    def revoke(self, at: datetime) -> Consent:
        """The consent withdrawn from ``at`` on (R-11.2); revoking twice is a conflict."""
        if self.revoked_at is not None:
            raise Conflict(
                "This consent is already revoked.",
                code="consent.already_revoked",
                details={"consent_id": self.consent_id},
            )
        return replace(self, revoked_at=_utc("at", at))


def require_consent(
    consents: Iterable[Consent],
    purpose: ConsentPurpose | str,
    at: datetime,
    *,
    source_id: str | None = None,
) -> Consent:
    """The first consent valid for ``purpose`` (and ``source_id``) at ``at``, else
    :class:`ConsentMissing`."""
    for consent in consents:
        if consent.is_valid_for(purpose, at, source_id=source_id):
            return consent
    raise ConsentMissing(
        "The customer has not given a valid consent for this purpose.",
        details={"purpose": str(purpose), "source_id": source_id},
    )
