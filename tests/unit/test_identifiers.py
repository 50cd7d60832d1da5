"""Chinese identifiers: normalization, check characters, decoding, personal-data-safe errors.

R-6.4 (one normalized form), R-9.6 (information check), R-11.2 / R-A6 (errors never echo the
value).
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from puhui.domain.errors import ValidationError
from puhui.domain.identifiers import (
    PROVINCES,
    BankCardNumber,
    MobileNumber,
    ResidentIdNumber,
    Sex,
    UnifiedSocialCreditCode,
    luhn_complete,
    make_resident_id,
    make_uscc,
)

VALID_ID = "11010519491231002X"
VALID_USCC = "91350100M000100Y43"
VALID_CARD = "4111111111111111"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def id_check(body17: str) -> str:
    """Independent oracle: ISO 7064 MOD 11-2, r = (12 - Σ aᵢ·2^(17-i) mod 11) mod 11."""
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(body17))
    r = (12 - total % 11) % 11
    return "X" if r == 10 else str(r)


def raises_code(code: str, kind: str, value: object, call: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        call(value)  # type: ignore[operator]
    error = excinfo.value
    assert error.code == code
    assert error.details["value_kind"] == kind
    if isinstance(value, str) and len(value.strip()) >= 8:
        # personal data: the value is never echoed in the message or the details
        assert value.strip() not in error.message
        assert value.strip() not in repr(error.details)


# --- 居民身份证号码 ---------------------------------------------------------------------------


def test_id_number_known_answer() -> None:
    number = ResidentIdNumber.parse(VALID_ID)
    assert str(number) == VALID_ID
    assert number.region_code == "110105"
    assert number.province == "北京市"
    assert number.birth_date == date(1949, 12, 31)
    assert number.sequence_code == "002"
    assert number.sex is Sex.FEMALE
    assert number.check_digit == "X"
    assert id_check(VALID_ID[:17]) == "X"


def test_id_number_sex_from_the_17th_digit() -> None:
    male = make_resident_id("440305", date(1990, 5, 17), 13)
    assert ResidentIdNumber.parse(male).sex is Sex.MALE
    assert ResidentIdNumber.parse(male).province == "广东省"


@pytest.mark.parametrize(
    "text",
    [
        " 11010519491231002x ",
        "110105 19491231 002X",
        "110105-19491231-002x",
        "１１０１０５１９４９１２３１００２Ｘ",  # full-width input from a Chinese keyboard
    ],
)
def test_id_number_is_normalized(text: str) -> None:
    assert str(ResidentIdNumber.parse(text)) == VALID_ID


def test_provinces_table() -> None:
    assert len(PROVINCES) == 34
    assert PROVINCES["71"] == "台湾省"
    assert PROVINCES["81"] == "香港特别行政区"
    assert PROVINCES["82"] == "澳门特别行政区"
    assert min(PROVINCES) == "11" and max(PROVINCES) == "82"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1101051949123100",
        "110105194912310021X",
        "11010519491231002Y",
        "110105491231002",  # first-generation 15-digit number
        "X10105194912310021",
        "1" * 65,
        123,
        None,
    ],
)
def test_id_number_format(bad: object) -> None:
    raises_code("identifier.id_number.format", "resident_id_number", bad, ResidentIdNumber.parse)


@pytest.mark.parametrize("prefix", ["00", "10", "16", "20", "39", "70", "83", "91", "99"])
def test_id_number_region(prefix: str) -> None:
    body = prefix + "010519800101123"
    raises_code(
        "identifier.id_number.region", "resident_id_number", body + id_check(body),
        ResidentIdNumber.parse,
    )  # fmt: skip


@pytest.mark.parametrize("birth", ["19801301", "19810229", "19800230", "18991231", "00000000"])
def test_id_number_birth_date(birth: str) -> None:
    body = "110105" + birth + "123"
    raises_code(
        "identifier.id_number.birth_date", "resident_id_number", body + id_check(body),
        ResidentIdNumber.parse,
    )  # fmt: skip


def test_id_number_born_1900_is_accepted() -> None:
    number = make_resident_id("110105", date(1900, 1, 1), 1)
    assert ResidentIdNumber.parse(number).birth_date == date(1900, 1, 1)


def test_id_number_birth_after_as_of_is_refused() -> None:
    number = make_resident_id("310101", date(2030, 1, 1), 7)
    assert ResidentIdNumber.parse(number).birth_date == date(2030, 1, 1)  # no as_of: accepted
    assert ResidentIdNumber.parse(number, as_of=date(2030, 1, 1)).birth_date == date(2030, 1, 1)
    with pytest.raises(ValidationError) as excinfo:
        ResidentIdNumber.parse(number, as_of=date(2029, 12, 31))
    assert excinfo.value.code == "identifier.id_number.birth_date"
    assert excinfo.value.details["reason"] == "after_as_of"


@pytest.mark.parametrize("last", ["0", "1", "2", "9"])
def test_id_number_check_digit(last: str) -> None:
    raises_code(
        "identifier.id_number.check_digit", "resident_id_number", VALID_ID[:17] + last,
        ResidentIdNumber.parse,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("on", "age"),
    [
        (date(1949, 12, 31), 0),
        (date(1967, 12, 30), 17),
        (date(1967, 12, 31), 18),
        (date(2024, 12, 31), 75),
    ],
)
def test_age_on(on: date, age: int) -> None:
    assert ResidentIdNumber.parse(VALID_ID).age_on(on) == age


def test_age_of_a_29_february_birthday() -> None:
    number = ResidentIdNumber.parse(make_resident_id("110105", date(2004, 2, 29), 11))
    assert number.age_on(date(2022, 2, 28)) == 17
    assert number.age_on(date(2022, 3, 1)) == 18
    assert number.age_on(date(2024, 2, 29)) == 20


def test_age_before_birth_is_refused() -> None:
    with pytest.raises(ValidationError) as excinfo:
        ResidentIdNumber.parse(VALID_ID).age_on(date(1949, 12, 30))
    assert excinfo.value.code == "identifier.id_number.birth_date"
    assert excinfo.value.details["reason"] == "before_birth"


def test_id_number_value_object() -> None:
    a, b = ResidentIdNumber.parse(VALID_ID), ResidentIdNumber("11010519491231002x")
    assert a == b and hash(a) == hash(b)
    assert repr(a) == "ResidentIdNumber('…002X')"  # never the whole number in logs
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.value = "x"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        dataclasses.replace(a, value=VALID_ID[:17] + "1")  # a copy is checked again


@pytest.mark.parametrize(
    ("region", "born", "sequence"),
    [
        ("11010", date(1990, 1, 1), 1),
        ("1101051", date(1990, 1, 1), 1),
        ("11010A", date(1990, 1, 1), 1),
        ("110105", date(1990, 1, 1), 1000),
        ("110105", date(1990, 1, 1), -1),
        ("110105", date(1990, 1, 1), True),
    ],
)
def test_make_resident_id_refuses_bad_parts(region: str, born: date, sequence: int) -> None:
    with pytest.raises(ValidationError) as excinfo:
        make_resident_id(region, born, sequence)
    assert excinfo.value.code == "identifier.id_number.format"


def test_make_resident_id_refuses_unknown_region_and_early_birth() -> None:
    with pytest.raises(ValidationError) as excinfo:
        make_resident_id("990000", date(1990, 1, 1), 1)
    assert excinfo.value.code == "identifier.id_number.region"
    with pytest.raises(ValidationError) as excinfo:
        make_resident_id("110105", date(1899, 12, 31), 1)
    assert excinfo.value.code == "identifier.id_number.birth_date"
    with pytest.raises(ValidationError) as excinfo:
        make_resident_id("110105", date(999, 1, 1), 1)
    assert excinfo.value.code == "identifier.id_number.birth_date"


def test_make_resident_id_known_answer() -> None:
    assert make_resident_id("110105", date(1949, 12, 31), 2) == VALID_ID


id_parts = st.tuples(
    st.builds(
        lambda p, rest: p + f"{rest:04d}", st.sampled_from(sorted(PROVINCES)), st.integers(0, 9999)
    ),
    st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
    st.integers(0, 999),
)


@given(id_parts)
def test_generated_id_numbers_parse_and_round_trip(parts: tuple[str, date, int]) -> None:
    region, born, sequence = parts
    text = make_resident_id(region, born, sequence)
    number = ResidentIdNumber.parse(text)
    assert str(number) == text
    assert number == ResidentIdNumber.parse(text.lower())
    assert (number.region_code, number.birth_date) == (region, born)
    assert number.sex is (Sex.MALE if sequence % 2 else Sex.FEMALE)
    assert number.check_digit == id_check(text[:17])


@given(id_parts, st.integers(0, 17), st.data())
def test_any_single_character_change_to_an_id_number_is_detected(
    parts: tuple[str, date, int], position: int, data: st.DataObject
) -> None:
    text = make_resident_id(*parts)
    choices = "0123456789X" if position == 17 else "0123456789"
    replacement = data.draw(st.sampled_from([c for c in choices if c != text[position]]))
    with pytest.raises(ValidationError) as excinfo:
        ResidentIdNumber.parse(text[:position] + replacement + text[position + 1 :])
    assert excinfo.value.code.startswith("identifier.id_number.")


# --- 统一社会信用代码 ---------------------------------------------------------------------------


def test_uscc_known_answer() -> None:
    code = UnifiedSocialCreditCode.parse(VALID_USCC)
    assert str(code) == VALID_USCC
    assert code.registration_authority == "9"
    assert code.registration_authority_name == "工商"
    assert code.org_type == "1"
    assert code.region_code == "350100"
    assert code.organization_code == "M000100Y4"
    assert code.check_char == "3"
    assert repr(code) == "UnifiedSocialCreditCode('…0Y43')"


@pytest.mark.parametrize(
    ("authority", "name"),
    [("1", "机构编制"), ("5", "民政"), ("9", "工商"), ("Y", "其他"), ("2", None)],
)
def test_uscc_registration_authority_names(authority: str, name: str | None) -> None:
    code = UnifiedSocialCreditCode.parse(make_uscc(authority + VALID_USCC[1:17]))
    assert code.registration_authority_name == name


@pytest.mark.parametrize(
    "text",
    [" 91350100m000100y43", "9135 0100 M000 100Y 43", "９１３５０１００Ｍ０００１００Ｙ４３"],
)
def test_uscc_is_normalized(text: str) -> None:
    assert str(UnifiedSocialCreditCode.parse(text)) == VALID_USCC


@pytest.mark.parametrize(
    "bad",
    [
        "",
        VALID_USCC[:17],
        VALID_USCC + "0",
        "91350100I000100Y43",  # I is not in the alphabet
        "91350100O000100Y43",
        "91350100S000100Y43",
        "91350100V000100Y43",
        "91350100Z000100Y43",
        "9135010AM000100Y43",  # region code must be digits
        "91350100M000100Y4Z",
        None,
    ],
)
def test_uscc_format(bad: object) -> None:
    raises_code(
        "identifier.uscc.format", "unified_social_credit_code", bad, UnifiedSocialCreditCode.parse
    )


@pytest.mark.parametrize("last", ["0", "4", "A", "Y"])
def test_uscc_check_char(last: str) -> None:
    raises_code(
        "identifier.uscc.check_char", "unified_social_credit_code", VALID_USCC[:17] + last,
        UnifiedSocialCreditCode.parse,
    )  # fmt: skip


def test_make_uscc() -> None:
    assert make_uscc("91350100M000100Y4") == VALID_USCC
    for bad in ("91350100M000100Y", "91350100M000100YI", "913501X0M000100Y4"):
        with pytest.raises(ValidationError) as excinfo:
            make_uscc(bad)
        assert excinfo.value.code == "identifier.uscc.format"


uscc_bodies = st.builds(
    lambda head, region, org: head + region + org,
    st.text(USCC_ALPHABET, min_size=2, max_size=2),
    st.text("0123456789", min_size=6, max_size=6),
    st.text(USCC_ALPHABET, min_size=9, max_size=9),
)


@given(uscc_bodies)
def test_generated_uscc_parse_and_round_trip(body: str) -> None:
    text = make_uscc(body)
    code = UnifiedSocialCreditCode.parse(text)
    assert str(code) == text and text[:17] == body
    assert code.region_code + code.organization_code == body[2:]


@given(uscc_bodies, st.integers(0, 17), st.data())
def test_any_single_character_change_to_a_uscc_is_detected(
    body: str, position: int, data: st.DataObject
) -> None:
    text = make_uscc(body)
    replacement = data.draw(st.sampled_from([c for c in USCC_ALPHABET if c != text[position]]))
    with pytest.raises(ValidationError) as excinfo:
        UnifiedSocialCreditCode.parse(text[:position] + replacement + text[position + 1 :])
    assert excinfo.value.code in {"identifier.uscc.format", "identifier.uscc.check_char"}


# --- 手机号码 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "13812345678",
        " 138 1234 5678 ",
        "138-1234-5678",
        "+86 138 1234 5678",
        "+8613812345678",
        "86-138-1234-5678",
        "8613812345678",
        "0086 138 1234 5678",
        "(+86) 138 1234 5678",
        "＋８６　１３８１２３４５６７８",  # full-width, with an ideographic space
    ],
)
def test_mobile_number_is_normalized(text: str) -> None:
    number = MobileNumber.parse(text)
    assert str(number) == "13812345678"
    assert number.e164 == "+8613812345678"
    assert repr(number) == "MobileNumber('…5678')"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "1381234567",
        "138123456789",
        "12812345678",  # no mainland mobile segment starts with 12
        "23812345678",
        "+1 138 1234 5678",
        "+85 13812345678",
        "+86 0138 1234 5678",
        "138 1234 567a",
        13812345678,
        None,
    ],
)
def test_mobile_number_format(bad: object) -> None:
    raises_code("identifier.mobile.format", "mobile_number", bad, MobileNumber.parse)


@given(st.integers(3, 9), st.integers(0, 999_999_999))
def test_mobile_numbers_round_trip(second: int, rest: int) -> None:
    text = f"1{second}{rest:09d}"
    assert str(MobileNumber.parse(text)) == text
    assert MobileNumber.parse(f"+86 {text[:3]} {text[3:7]} {text[7:]}") == MobileNumber(text)


# --- 银行卡号 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [VALID_CARD, "4111 1111 1111 1111", "4111-1111-1111-1111", "４１１１１１１１１１１１１１１１"],
)
def test_bank_card_known_answer(text: str) -> None:
    card = BankCardNumber.parse(text)
    assert str(card) == VALID_CARD
    assert card.bin == "411111"
    assert card.last4 == "1111"
    assert repr(card) == "BankCardNumber('…1111')"


def test_luhn_complete_known_answers() -> None:
    assert luhn_complete("411111111111111") == VALID_CARD
    assert luhn_complete("7992739871") == "79927398713"  # the classic Luhn example
    assert luhn_complete("0") == "00"


@pytest.mark.parametrize("bad", ["", "41111111111", "4" * 20, "4111 1111 1111 111a", None])
def test_bank_card_format(bad: object) -> None:
    raises_code("identifier.bank_card.format", "bank_card_number", bad, BankCardNumber.parse)


@pytest.mark.parametrize("bad", ["4111111111111112", "4111111111111121", "4111111111111110"])
def test_bank_card_checksum(bad: str) -> None:
    raises_code("identifier.bank_card.checksum", "bank_card_number", bad, BankCardNumber.parse)


@pytest.mark.parametrize("bad", ["", "12a", "1" * 19, None])
def test_luhn_complete_refuses_bad_input(bad: object) -> None:
    with pytest.raises(ValidationError) as excinfo:
        luhn_complete(bad)  # type: ignore[arg-type]
    assert excinfo.value.code == "identifier.bank_card.format"


card_prefixes = st.text("0123456789", min_size=11, max_size=18)


@given(card_prefixes)
def test_completed_card_numbers_parse_and_round_trip(partial: str) -> None:
    text = luhn_complete(partial)
    card = BankCardNumber.parse(text)
    assert str(card) == text and card.bin == text[:6] and card.last4 == text[-4:]


@given(card_prefixes, st.data())
def test_any_single_digit_change_to_a_card_is_detected(partial: str, data: st.DataObject) -> None:
    text = luhn_complete(partial)
    position = data.draw(st.integers(0, len(text) - 1))
    replacement = data.draw(st.sampled_from([c for c in "0123456789" if c != text[position]]))
    with pytest.raises(ValidationError) as excinfo:
        BankCardNumber.parse(text[:position] + replacement + text[position + 1 :])
    assert excinfo.value.code == "identifier.bank_card.checksum"
