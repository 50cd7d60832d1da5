"""Customers (借款人) and their personal fields, with JR/T 0171 classes and JR/T 0197 levels.

The customer record is the first holder of personal financial information in the platform, so the
declarations below drive encryption at rest, blind indexes, display masking and access logging
(R-11.2, R-M4.2, R-A6). A new personal field is declared here once; the adapters read the
declaration, never their own lists.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from puhui.domain.identifiers import MobileNumber, ResidentIdNumber
from puhui.domain.privacy import InfoClass, MaskKind, PersonalField, SecurityLevel

CUSTOMER_PHONE = PersonalField(
    name="customer.phone",
    info_class=InfoClass.C2,
    level=SecurityLevel.SENSITIVE,
    mask=MaskKind.PHONE,
    searchable=True,
)
CUSTOMER_NAME = PersonalField(
    name="customer.name",
    info_class=InfoClass.C2,
    level=SecurityLevel.SENSITIVE,
    mask=MaskKind.NAME,
    searchable=False,
)
CUSTOMER_ID_NUMBER = PersonalField(
    name="customer.id_number",
    info_class=InfoClass.C2,
    level=SecurityLevel.SENSITIVE,
    mask=MaskKind.ID_NUMBER,
    searchable=True,
)
CUSTOMER_FIELDS: dict[str, PersonalField] = {
    "phone": CUSTOMER_PHONE,
    "name": CUSTOMER_NAME,
    "id_number": CUSTOMER_ID_NUMBER,
}


@dataclass(frozen=True)
class Customer:
    """A natural person who borrows, or owns a borrowing business. ``name`` and ``id_number``
    are filled at real-name verification; until then the customer is known by phone only."""

    id: int | None
    phone: MobileNumber
    name: str | None = None
    id_number: ResidentIdNumber | None = None
    created_on: date | None = None
    created_at: datetime | None = None

    @property
    def verified(self) -> bool:
        return self.id_number is not None and self.name is not None

    def with_identity(self, name: str, id_number: ResidentIdNumber) -> Customer:
        return replace(self, name=validate_person_name(name), id_number=id_number)


def validate_person_name(name: str) -> str:
    from puhui.domain.errors import ValidationError

    cleaned = " ".join(name.split())
    if not 2 <= len(cleaned) <= 40 or any(c.isdigit() for c in cleaned):
        raise ValidationError(
            "a person's name must be 2-40 characters and contain no digits",
            code="customer.invalid_name",
        )
    return cleaned
