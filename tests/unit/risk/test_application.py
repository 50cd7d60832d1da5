"""Credit application: JSON form, checks, round trip and snapshot hash (R-9.2, R-9.6, R-11.2)."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.errors import ValidationError
from puhui.domain.identifiers import make_resident_id, make_uscc
from puhui.domain.risk.application import BorrowerType, CreditApplication

APPLICANT_ID = make_resident_id("110105", date(1985, 6, 15), 123)
SPOUSE_ID = make_resident_id("110105", date(1987, 2, 1), 124)
USCC = make_uscc("91110105MA0000001")


def a_mapping(**overrides: Any) -> dict[str, Any]:
    """A valid micro-enterprise application in its JSON form."""
    data: dict[str, Any] = {
        "application_id": "APP-2026-0001",
        "product_code": "MICRO-BIZ",
        "borrower_type": "micro_enterprise",
        "applicant_name": "张三",
        "applicant_resident_id": APPLICANT_ID,
        "applicant_mobile": "13812345678",
        "enterprise_uscc": USCC,
        "enterprise_name": "北京测试商贸有限公司",
        "requested_amount": "500000.00",
        "requested_term_months": 12,
        "purpose": "working_capital",
        "declared_monthly_income": None,
        "declared_annual_revenue": "3600000",
        "region_code": "110105",
        "industry_code": "F",
        "guarantee_type": "credit",
        "channel": "portal",
        "applied_on": "2026-11-20",
        "owner_spouse_resident_id": SPOUSE_ID,
    }
    data.update(overrides)
    return data


def a_consumer(**overrides: Any) -> dict[str, Any]:
    consumer: dict[str, Any] = {
        "product_code": "CONSUMER",
        "borrower_type": "consumer",
        "enterprise_uscc": None,
        "enterprise_name": None,
        "declared_annual_revenue": None,
        "declared_monthly_income": "12000",
        "purpose": "consumption",
        "requested_amount": "50000",
    }
    return a_mapping(**{**consumer, **overrides})


def refused(data: dict[str, Any], code: str, field: str, reason: str | None = None) -> None:
    with pytest.raises(ValidationError) as excinfo:
        CreditApplication.from_mapping(data)
    error = excinfo.value
    assert (error.code, error.details["field"]) == (code, field), error.details
    if reason is not None:
        assert error.details["reason"] == reason
    for personal in (APPLICANT_ID, SPOUSE_ID, "13812345678"):  # never echoed
        assert personal not in error.message and personal not in repr(error.details)


def test_reads_the_json_form() -> None:
    app = CreditApplication.from_mapping(a_mapping())
    assert app.borrower_type is BorrowerType.MICRO_ENTERPRISE
    assert app.requested_amount == Decimal("500000.00")
    assert app.declared_annual_revenue == Decimal("3600000.00")
    assert app.applied_on == date(2026, 11, 20)
    assert app.applicant_birth_date == date(1985, 6, 15)
    assert app.applicant_sequence_code == "123"
    assert app.is_business


def test_optional_fields_default() -> None:
    data = a_consumer()
    for name in ("channel", "owner_spouse_resident_id", "declared_annual_revenue"):
        del data[name]
    app = CreditApplication.from_mapping(data)
    assert app.channel == "portal" and app.owner_spouse_resident_id is None
    assert not app.is_business


def test_identifiers_are_normalized() -> None:
    app = CreditApplication.from_mapping(
        a_mapping(applicant_mobile="+86 138-1234-5678", enterprise_uscc=USCC.lower())
    )
    assert app.applicant_mobile == "13812345678"
    assert app.enterprise_uscc == USCC


def test_repr_hides_personal_data() -> None:
    text = repr(CreditApplication.from_mapping(a_mapping()))
    assert APPLICANT_ID not in text and "13812345678" not in text and "张三" not in text


def test_round_trip_and_snapshot_hash() -> None:
    app = CreditApplication.from_mapping(a_mapping())
    mapping = app.to_mapping()
    assert json.loads(json.dumps(mapping)) == mapping  # JSON-able
    assert mapping["requested_amount"] == "500000.00"
    again = CreditApplication.from_mapping(mapping)
    assert again == app
    assert again.snapshot_hash() == app.snapshot_hash()
    assert len(app.snapshot_hash()) == 64
    canonical = app.canonical_json().decode()
    assert canonical == json.dumps(
        mapping, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    other = CreditApplication.from_mapping(a_mapping(requested_amount="500000.01"))
    assert other.snapshot_hash() != app.snapshot_hash()


def test_equal_amounts_hash_alike() -> None:
    """ "100" and "100.00" are one amount: the snapshot must not depend on how it was typed."""
    one = CreditApplication.from_mapping(a_mapping(requested_amount="100"))
    two = CreditApplication.from_mapping(a_mapping(requested_amount="100.00"))
    assert one.snapshot_hash() == two.snapshot_hash()


@given(
    amount=st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999999.99"), places=2),
    term=st.integers(1, 360),
    kind=st.sampled_from(["micro", "consumer"]),
)
def test_round_trip_property(amount: Decimal, term: int, kind: str) -> None:
    builder = a_mapping if kind == "micro" else a_consumer
    data = builder(requested_term_months=term)
    data["requested_amount"] = str(amount)
    app = CreditApplication.from_mapping(data)
    assert CreditApplication.from_mapping(app.to_mapping()) == app
    assert CreditApplication.from_mapping(app.to_mapping()).snapshot_hash() == app.snapshot_hash()


# --- bad input -------------------------------------------------------------------------------

INVALID = "risk.application.invalid"
INCONSISTENT = "risk.application.inconsistent"


def test_unknown_field() -> None:
    refused(a_mapping(credit_score=700), INVALID, "credit_score", "unknown_field")


def test_missing_field() -> None:
    data = a_mapping()
    del data["requested_term_months"]
    refused(data, INVALID, "requested_term_months", "missing")


def test_not_an_object() -> None:
    with pytest.raises(ValidationError) as excinfo:
        CreditApplication.from_mapping(["not", "a", "mapping"])  # type: ignore[arg-type]
    assert excinfo.value.code == INVALID


def test_bad_resident_id_checksum() -> None:
    bad = APPLICANT_ID[:-1] + ("0" if APPLICANT_ID[-1] != "0" else "1")
    refused(
        a_mapping(applicant_resident_id=bad),
        INVALID,
        "applicant_resident_id",
        "identifier.id_number.check_digit",
    )


def test_bad_uscc_check_character() -> None:
    bad = USCC[:-1] + ("0" if USCC[-1] != "0" else "1")
    refused(
        a_mapping(enterprise_uscc=bad), INVALID, "enterprise_uscc", "identifier.uscc.check_char"
    )


def test_bad_spouse_id_and_mobile() -> None:
    refused(a_mapping(owner_spouse_resident_id="123"), INVALID, "owner_spouse_resident_id")
    refused(a_mapping(applicant_mobile="12345"), INVALID, "applicant_mobile")


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("requested_amount", "0", "not_positive"),
        ("requested_amount", "0.00", "not_positive"),
        ("requested_amount", "-5", "not_positive"),
        ("requested_amount", "10.001", "format"),
        ("requested_amount", 1000.5, "not_a_decimal_string"),
        ("requested_amount", True, "not_a_decimal_string"),
        ("declared_monthly_income", "-1", "negative"),
        ("requested_term_months", 0, "out_of_range"),
        ("requested_term_months", 361, "out_of_range"),
        ("requested_term_months", "12", "not_an_integer"),
        ("requested_term_months", True, "not_an_integer"),
        ("borrower_type", "company", "not_allowed"),
        ("purpose", "gambling", "not_allowed"),
        ("guarantee_type", "hope", "not_allowed"),
        ("application_id", "", "format"),
        ("application_id", "x" * 65, "format"),
        ("application_id", "a b", "format"),
        ("product_code", "micro biz", "format"),
        ("region_code", "11010", "format"),
        ("region_code", "990101", "unknown_province"),
        ("industry_code", "Z", "format"),
        ("industry_code", "f", "format"),
        ("applied_on", "20/11/2026", "not_an_iso_date"),
        ("applied_on", "2026-02-30", "not_an_iso_date"),
        ("applicant_name", "张", "format"),
        ("applicant_name", "张3", "format"),
        ("channel", "", "format"),
    ],
)
def test_bad_values(field: str, value: object, reason: str) -> None:
    refused(a_mapping(**{field: value}), INVALID, field, reason)


def test_enterprise_product_without_uscc() -> None:
    refused(
        a_mapping(enterprise_uscc=None, enterprise_name=None),
        INCONSISTENT,
        "enterprise_uscc",
        "required_for_enterprise",
    )


def test_consumer_with_an_enterprise() -> None:
    refused(a_consumer(enterprise_uscc=USCC), INCONSISTENT, "enterprise_uscc")
    refused(a_consumer(enterprise_name="某公司"), INCONSISTENT, "enterprise_uscc")


def test_known_product_for_another_borrower_type() -> None:
    refused(
        a_mapping(product_code="CONSUMER"), INCONSISTENT, "borrower_type", "product_borrower_type"
    )
    refused(a_consumer(product_code="INDIV-BIZ"), INCONSISTENT, "borrower_type")


def test_unknown_product_code_is_checked_later() -> None:
    app = CreditApplication.from_mapping(a_mapping(product_code="MICRO-BIZ-2"))
    assert app.product_code == "MICRO-BIZ-2"


def test_individual_business_may_have_no_uscc() -> None:
    data = a_mapping(
        product_code="INDIV-BIZ",
        borrower_type="individual_business",
        enterprise_uscc=None,
        enterprise_name=None,
    )
    assert CreditApplication.from_mapping(data).enterprise_uscc is None


def test_name_without_code() -> None:
    data = a_mapping(product_code="INDIV-BIZ", borrower_type="individual_business")
    data["enterprise_uscc"] = None
    refused(data, INCONSISTENT, "enterprise_name", "name_without_code")


def test_birth_after_application() -> None:
    born_later = make_resident_id("110105", date(2026, 12, 1), 123)
    refused(
        a_mapping(applicant_resident_id=born_later, owner_spouse_resident_id=None),
        INCONSISTENT,
        "applicant_resident_id",
        "born_after_application",
    )


def test_spouse_is_not_the_applicant() -> None:
    refused(
        a_mapping(owner_spouse_resident_id=APPLICANT_ID), INCONSISTENT, "owner_spouse_resident_id"
    )


def test_direct_construction_is_checked_too() -> None:
    app = CreditApplication.from_mapping(a_mapping())
    with pytest.raises(ValidationError):
        CreditApplication(**{**app.to_mapping(), "requested_term_months": 0})
