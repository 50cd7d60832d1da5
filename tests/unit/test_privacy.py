"""Personal-data classification, masking, disclosure, access log and pseudonyms
(R-11.2, R-M4.2, R-A6)."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from puhui.domain.errors import ValidationError
from puhui.domain.privacy import (
    AccessLogEntry,
    AccessOperation,
    AccessResult,
    Disclosure,
    InfoClass,
    MaskKind,
    MaskPolicy,
    PersonalField,
    SecurityLevel,
    default_level,
    deidentify,
    mask,
    present,
)

ID_NUMBER = PersonalField.classified(
    "customer.id_number", InfoClass.C2, MaskKind.ID_NUMBER, searchable=True
)
PHONE = PersonalField.classified("customer.phone", InfoClass.C2, MaskKind.PHONE, searchable=True)
NAME = PersonalField.classified("customer.name", InfoClass.C2, MaskKind.NAME)
CARD = PersonalField.classified("customer.bank_card", InfoClass.C2, MaskKind.BANK_CARD)
EMAIL = PersonalField.classified("customer.email", InfoClass.C2, MaskKind.EMAIL)
RISK = PersonalField.classified("customer.risk_band", InfoClass.C1, MaskKind.NONE)
SALT = b"unit-test-salt-0123456789abcdef"

# --- classification ------------------------------------------------------------------------


def test_default_levels() -> None:
    assert default_level(InfoClass.C3) is SecurityLevel.HIGHLY_SENSITIVE
    assert default_level(InfoClass.C2) is SecurityLevel.SENSITIVE
    assert default_level(InfoClass.C1) is SecurityLevel.INTERNAL
    assert [int(default_level(c)) for c in (InfoClass.C3, InfoClass.C2, InfoClass.C1)] == [4, 3, 2]
    assert [int(level) for level in SecurityLevel] == [1, 2, 3, 4, 5]
    assert InfoClass.C3 == "C3"


@pytest.mark.parametrize(
    ("level", "encrypted", "logged", "masked"),
    [
        (1, False, False, False),
        (2, False, True, False),
        (3, True, True, True),
        (4, True, True, True),
        (5, True, True, True),
    ],
)
def test_protection_follows_the_level(
    level: int, encrypted: bool, logged: bool, masked: bool
) -> None:
    kind = MaskKind.FULL if level >= 3 else MaskKind.NONE
    field = PersonalField("x.y", InfoClass.C2, SecurityLevel(level), kind)
    assert (field.encrypted_at_rest, field.access_logged, field.masked_on_display) == (
        encrypted,
        logged,
        masked,
    )


def test_sensitive_field_needs_a_mask() -> None:
    with pytest.raises(ValidationError) as caught:
        PersonalField("customer.phone", InfoClass.C2, SecurityLevel.SENSITIVE, MaskKind.NONE)
    assert caught.value.code == "privacy.mask_required"


def test_classified_uses_default_level() -> None:
    secret = PersonalField.classified("customer.pin_hash", InfoClass.C3, MaskKind.FULL)
    assert secret.level is SecurityLevel.HIGHLY_SENSITIVE
    assert ID_NUMBER.searchable and not NAME.searchable


# --- masking examples ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (MaskKind.ID_NUMBER, "11010519900101002X", "110105********002X"),
        (MaskKind.PHONE, "13812345678", "138****5678"),
        (MaskKind.BANK_CARD, "6222021234567890123", "622202*********0123"),
        (MaskKind.BANK_CARD, "6222 0212 3456 7890", "622202******7890"),
        (MaskKind.NAME, "张三", "张*"),
        (MaskKind.NAME, "欧阳娜娜", "欧***"),
        (MaskKind.NAME, "John Smith", "J*** S****"),
        (MaskKind.NAME, "阿依古丽·买买提", "阿***·买**"),
        (MaskKind.NAME, "李", "*"),
        (MaskKind.ADDRESS, "北京市朝阳区建国路88号", "北京市朝阳区****"),
        (MaskKind.EMAIL, "alice@example.com", "a***@example.com"),
        (MaskKind.EMAIL, "a@example.com", "***@example.com"),
        (MaskKind.EMAIL, "not-an-email", "******"),
        (MaskKind.FULL, "anything at all", "******"),
        (MaskKind.NONE, "visible", "visible"),
        (MaskKind.PHONE, " 13812345678 ", "138****5678"),
    ],
)
def test_mask_examples(kind: MaskKind, value: str, expected: str) -> None:
    assert mask(value, kind) == expected


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (MaskKind.ID_NUMBER, "12345", "*****"),
        (MaskKind.PHONE, "10086", "*****"),
        (MaskKind.PHONE, "1381234567", "**********"),  # 3 hidden would be too few
        (MaskKind.BANK_CARD, "622202", "******"),
        (MaskKind.ADDRESS, "北京", "******"),
        (MaskKind.EMAIL, "@", "******"),
    ],
)
def test_short_values_are_fully_masked(kind: MaskKind, value: str, expected: str) -> None:
    assert mask(value, kind) == expected


@pytest.mark.parametrize("kind", list(MaskKind))
def test_none_and_empty(kind: MaskKind) -> None:
    assert mask(None, kind) is None
    assert mask("", kind) == ""


def test_mask_policy_is_configurable() -> None:
    policy = MaskPolicy(mask_char="●", phone_head=3, phone_tail=2)
    assert mask("13812345678", MaskKind.PHONE, policy=policy) == "138●●●●●●78"


@settings(max_examples=300)
@given(value=st.text(max_size=40), kind=st.sampled_from(list(MaskKind)))
def test_mask_never_crashes(value: str, kind: MaskKind) -> None:
    out = mask(value, kind)
    assert isinstance(out, str)
    if kind is MaskKind.NONE:
        assert out == value.strip()


_HIDDEN = string.ascii_letters  # disjoint from the kept digits, so leaks are visible


@settings(max_examples=200)
@given(
    spec=st.sampled_from(
        [(MaskKind.ID_NUMBER, 6, 4), (MaskKind.PHONE, 3, 4), (MaskKind.BANK_CARD, 6, 4)]
    ),
    data=st.data(),
)
def test_masked_output_never_contains_the_hidden_middle(
    spec: tuple[MaskKind, int, int], data: st.DataObject
) -> None:
    kind, head_len, tail_len = spec
    head = data.draw(st.text(alphabet=string.digits, min_size=head_len, max_size=head_len))
    tail = data.draw(st.text(alphabet=string.digits, min_size=tail_len, max_size=tail_len))
    middle = data.draw(st.text(alphabet=_HIDDEN, min_size=1, max_size=12))
    other = data.draw(st.text(alphabet=_HIDDEN, min_size=len(middle), max_size=len(middle)))
    out = mask(head + middle + tail, kind)
    assert out is not None
    assert not set(out) & set(_HIDDEN)  # no hidden character leaks
    assert middle not in out
    assert out == mask(head + other + tail, kind)  # output does not depend on the middle
    if len(middle) >= 4:
        assert out == head + "*" * len(middle) + tail


@settings(max_examples=150)
@given(
    words=st.lists(
        st.text(alphabet="张王李欧阳娜abcdefXYZ", min_size=1, max_size=6), min_size=1, max_size=3
    ),
    data=st.data(),
)
def test_name_shows_only_initials(words: list[str], data: st.DataObject) -> None:
    name = " ".join(words)
    others = [
        w[0] + data.draw(st.text(alphabet="QRST", min_size=len(w) - 1, max_size=len(w) - 1))
        for w in words
    ]
    out = mask(name, MaskKind.NAME)
    assert out == mask(" ".join(others), MaskKind.NAME)
    if len(name) > 1:
        assert out == " ".join(w[0] + "*" * (len(w) - 1) for w in words)


@given(rest=st.text(alphabet="QRSTUV号路", min_size=1, max_size=30))
def test_address_hides_everything_after_the_district(rest: str) -> None:
    out = mask("广东省深圳市" + rest, MaskKind.ADDRESS)
    assert out == "广东省深圳市****"


@given(local=st.text(alphabet=string.ascii_lowercase, min_size=2, max_size=20))
def test_email_hides_the_local_part(local: str) -> None:
    assert mask(f"{local}@bank.cn", MaskKind.EMAIL) == f"{local[0]}***@bank.cn"


# --- disclosure ------------------------------------------------------------------------------


def test_present_masks_sensitive_fields_unless_unmask_allowed() -> None:
    assert present("13812345678", PHONE, may_unmask=False) == "138****5678"
    assert present("13812345678", PHONE, may_unmask=True) == "13812345678"
    assert present("B", RISK, may_unmask=False) == "B"  # level 2: clear (but logged)
    assert present(None, PHONE, may_unmask=False) is None


def test_disclosure_with_custom_policy() -> None:
    disclosure = Disclosure(MaskPolicy(mask_char="#"))
    assert disclosure.present("13812345678", PHONE, may_unmask=False) == "138####5678"


# --- access log ------------------------------------------------------------------------------


def _access(**changes: object) -> AccessLogEntry:
    values: dict[str, object] = {
        "subject": "staff:alice",
        "object": "customer:12",
        "fields": ["customer.phone", "customer.id_number"],
        "operation": "read",
        "purpose": "loan review",
        "result": "masked",
        "occurred_at": datetime(2024, 5, 1, tzinfo=UTC),
        "request_id": "req-1",
    }
    values.update(changes)
    return AccessLogEntry(**values)  # type: ignore[arg-type]


def test_access_log_entry_normalises() -> None:
    entry = _access(occurred_at=datetime(2024, 5, 1, 8, tzinfo=timezone(timedelta(hours=8))))
    assert entry.fields == ("customer.phone", "customer.id_number")
    assert entry.operation is AccessOperation.READ
    assert entry.result is AccessResult.MASKED
    assert entry.occurred_at == datetime(2024, 5, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"occurred_at": datetime(2024, 5, 1)}, "privacy.naive_timestamp"),  # noqa: DTZ001
        ({"purpose": "  "}, "privacy.purpose_required"),
        ({"fields": []}, "privacy.fields_required"),
        ({"subject": ""}, "privacy.access_party_required"),
    ],
)
def test_access_log_entry_rules(changes: dict[str, object], code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _access(**changes)
    assert caught.value.code == code


def test_access_log_entry_refuses_unknown_operation() -> None:
    with pytest.raises(ValueError):
        _access(operation="delete")


# --- de-identification -----------------------------------------------------------------------


def test_deidentify_formats() -> None:
    assert re.fullmatch(r"1\d{10}", deidentify("13812345678", PHONE, salt=SALT))
    assert re.fullmatch(r"ID-[0-9a-f]{16}", deidentify("11010519900101002X", ID_NUMBER, salt=SALT))
    assert re.fullmatch(r"客户[0-9a-f]{6}", deidentify("张三", NAME, salt=SALT))
    assert re.fullmatch(r"[0-9a-f]{12}@example\.invalid", deidentify("a@b.cn", EMAIL, salt=SALT))
    assert re.fullmatch(r"bank_card-[0-9a-f]{16}", deidentify("6222021234567890", CARD, salt=SALT))


def test_deidentify_is_deterministic_per_salt_and_normalised() -> None:
    a = deidentify("11010519900101002X", ID_NUMBER, salt=SALT)
    assert a == deidentify(" 11010519900101002x ", ID_NUMBER, salt=SALT)
    assert a != deidentify("11010519900101002X", ID_NUMBER, salt=SALT + b"!")
    assert deidentify("6222 0212 3456 7890", CARD, salt=SALT) == deidentify(
        "6222021234567890", CARD, salt=SALT
    )


def test_deidentify_needs_a_real_salt() -> None:
    with pytest.raises(ValidationError) as caught:
        deidentify("13812345678", PHONE, salt=b"short")
    assert caught.value.code == "privacy.salt_required"


@given(a=st.text(min_size=1, max_size=30), b=st.text(min_size=1, max_size=30))
def test_deidentify_phone_shape_and_joins(a: str, b: str) -> None:
    pa, pb = deidentify(a, PHONE, salt=SALT), deidentify(b, PHONE, salt=SALT)
    assert re.fullmatch(r"1\d{10}", pa)
    if a.strip() == b.strip():
        assert pa == pb
