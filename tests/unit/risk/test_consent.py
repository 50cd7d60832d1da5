"""Consent: purpose-specific, time-bound, revocable, scoped, never holding the ID (R-11.2)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.errors import Conflict, ErrorKind, ValidationError
from puhui.domain.identifiers import make_resident_id
from puhui.domain.risk.consent import (
    Consent,
    ConsentMissing,
    ConsentPurpose,
    customer_reference,
    require_consent,
)

KEY = b"consent-test-key-0123456789"
RESIDENT_ID = make_resident_id("110105", date(1985, 6, 15), 123)
GRANTED = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def a_consent(**overrides: Any) -> Consent:
    fields: dict[str, Any] = {
        "consent_id": "CNS-1",
        "customer_ref": customer_reference(RESIDENT_ID, key=KEY),
        "purpose": ConsentPurpose.CREDIT_REPORT,
        "scope": frozenset({"credit_bureau"}),
        "granted_at": GRANTED,
        "expires_at": GRANTED + timedelta(days=365),
        "text_version": "credit-report-2026.1",
    }
    fields.update(overrides)
    return Consent(**fields)


def test_purposes_match_the_spec() -> None:
    assert {p.value for p in ConsentPurpose} == {
        "credit_report",
        "tax_data",
        "bank_flows",
        "platform_data",
        "social_security",
        "identity_verification",
        "marketing",
    }


def test_valid_inside_its_window_for_its_purpose_only() -> None:
    consent = a_consent()
    assert consent.is_valid_for("credit_report", GRANTED)
    assert consent.is_valid_for(ConsentPurpose.CREDIT_REPORT, GRANTED + timedelta(days=100))
    assert not consent.is_valid_for(ConsentPurpose.MARKETING, GRANTED + timedelta(days=1))
    assert not consent.is_valid_for("credit_report", GRANTED - timedelta(seconds=1))


def test_expired() -> None:
    consent = a_consent()
    assert not consent.is_valid_for("credit_report", consent.expires_at)
    assert consent.is_valid_for("credit_report", consent.expires_at - timedelta(seconds=1))


def test_revoked_from_the_revocation_on() -> None:
    revoked_at = GRANTED + timedelta(days=10)
    consent = a_consent().revoke(revoked_at)
    assert consent.revoked_at == revoked_at
    assert consent.is_valid_for("credit_report", revoked_at - timedelta(seconds=1))
    assert not consent.is_valid_for("credit_report", revoked_at)
    with pytest.raises(Conflict) as excinfo:
        consent.revoke(revoked_at + timedelta(days=1))
    assert excinfo.value.code == "consent.already_revoked"


def test_scope_limits_the_sources() -> None:
    consent = a_consent(scope={"credit_bureau"})
    assert consent.is_valid_for("credit_report", GRANTED, source_id="credit_bureau")
    assert not consent.is_valid_for("credit_report", GRANTED, source_id="bank_flows")


def test_customer_reference_is_a_keyed_hash_not_the_id() -> None:
    ref = customer_reference(RESIDENT_ID, key=KEY)
    assert RESIDENT_ID not in ref and ref.startswith("cr-") and len(ref) == 35
    assert ref == customer_reference(RESIDENT_ID.lower(), key=KEY)
    assert ref != customer_reference(RESIDENT_ID, key=b"another-key-0123456789")
    with pytest.raises(ValidationError) as excinfo:
        customer_reference(RESIDENT_ID, key=b"short")
    assert excinfo.value.code == "consent.key_required"


def test_the_id_itself_is_refused_as_reference() -> None:
    with pytest.raises(ValidationError) as excinfo:
        a_consent(customer_ref=RESIDENT_ID)
    assert excinfo.value.details["field"] == "customer_ref"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"granted_at": datetime(2026, 11, 1, 9, 0)}, "granted_at"),  # noqa: DTZ001 - naive on purpose
        ({"granted_at": GRANTED.astimezone(timezone(timedelta(hours=8)))}, "granted_at"),
        ({"expires_at": GRANTED}, "expires_at"),
        ({"revoked_at": GRANTED - timedelta(days=1)}, "revoked_at"),
        ({"purpose": "selling_data"}, "purpose"),
        ({"scope": frozenset()}, "scope"),
        ({"scope": "credit_bureau"}, "scope"),
        ({"consent_id": ""}, "consent_id"),
        ({"text_version": ""}, "text_version"),
    ],
)
def test_bad_consents_are_refused(overrides: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as excinfo:
        a_consent(**overrides)
    assert (excinfo.value.code, excinfo.value.details["field"]) == ("consent.invalid", field)


def test_naive_instant_is_refused_when_checking() -> None:
    with pytest.raises(ValidationError):
        a_consent().is_valid_for("credit_report", datetime(2026, 11, 2))  # noqa: DTZ001


def test_require_consent() -> None:
    consents = [a_consent(consent_id="A", purpose="tax_data", scope={"tax"}), a_consent()]
    assert require_consent(consents, "credit_report", GRANTED).consent_id == "CNS-1"
    with pytest.raises(ConsentMissing) as excinfo:
        require_consent(consents, ConsentPurpose.BANK_FLOWS, GRANTED, source_id="bank_flows")
    error = excinfo.value
    assert (error.code, error.kind) == ("consent.missing", ErrorKind.FORBIDDEN)
    assert error.details == {"purpose": "bank_flows", "source_id": "bank_flows"}


@given(
    offset=st.integers(-(10**7), 10**8),
    revoke_after=st.one_of(st.none(), st.integers(0, 10**8)),
)
def test_validity_is_the_window_minus_revocation(offset: int, revoke_after: int | None) -> None:
    consent = a_consent()
    if revoke_after is not None:
        consent = consent.revoke(GRANTED + timedelta(seconds=revoke_after))
    at = GRANTED + timedelta(seconds=offset)
    expected = GRANTED <= at < consent.expires_at and (
        consent.revoked_at is None or at < consent.revoked_at
    )
    assert consent.is_valid_for("credit_report", at) is expected


def test_new_consent_ids_never_look_like_a_phone_number() -> None:
    """The id goes into the evidence log's object_ref, which refuses mobile-like digit runs."""
    import re
    from unittest import mock

    from puhui.services import consents

    draws = iter(["13800138000abcde", "0123456789abcdef"])
    with mock.patch.object(consents.secrets, "token_hex", lambda n: next(draws)):
        assert consents.new_consent_id() == "cs-0123456789abcdef"
    for _ in range(2000):
        assert not re.search(r"[0-9]{11,}", consents.new_consent_id())
