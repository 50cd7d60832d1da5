"""Chinese identifiers, checked and decoded: ID number, USCC, mobile number, bank card number.

Input is normalized first (full-width characters, spaces and hyphens, lower-case ``x``), the
standard form and check character are then verified, so that the same person or enterprise is
always stored in one form (R-6.4) and a mistyped number is caught before any data source is
queried (R-9.6 information check).

These values are personal data (C2, R-11.2, R-A6): an error never repeats the value, only a
stable code and ``details={"value_kind": ...}``; ``repr`` shows at most the last four characters.
Display masking is done by :func:`puhui.domain.privacy.mask`, not here.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from types import MappingProxyType
from typing import Any, Final, Self

from puhui.domain.errors import ValidationError

__all__ = [
    "PROVINCES",
    "REGISTRATION_AUTHORITIES",
    "BankCardNumber",
    "MobileNumber",
    "ResidentIdNumber",
    "Sex",
    "UnifiedSocialCreditCode",
    "luhn_complete",
    "make_resident_id",
    "make_uscc",
]

_MAX_INPUT = 64  # longer input is refused before any normalization work
_SEPARATORS: Final = re.compile(r"[\s\-]+")


def _invalid(code: str, message: str, kind: str, **details: Any) -> ValidationError:
    return ValidationError(message, code=code, details={"value_kind": kind, **details})


def _normalize(text: object, code: str, kind: str) -> str:
    """Full-width to ASCII (NFKC), drop spaces and hyphens, upper-case letters."""
    if not isinstance(text, str) or len(text) > _MAX_INPUT:
        raise _invalid(code, f"The {kind.replace('_', ' ')} is not in the expected form.", kind)
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text)).upper()


def _tail(value: str) -> str:
    return "…" + value[-4:]


# --- 居民身份证号码 (GB 11643-1999) ------------------------------------------------------------

PROVINCES: Final = MappingProxyType(
    {
        "11": "北京市",
        "12": "天津市",
        "13": "河北省",
        "14": "山西省",
        "15": "内蒙古自治区",
        "21": "辽宁省",
        "22": "吉林省",
        "23": "黑龙江省",
        "31": "上海市",
        "32": "江苏省",
        "33": "浙江省",
        "34": "安徽省",
        "35": "福建省",
        "36": "江西省",
        "37": "山东省",
        "41": "河南省",
        "42": "湖北省",
        "43": "湖南省",
        "44": "广东省",
        "45": "广西壮族自治区",
        "46": "海南省",
        "50": "重庆市",
        "51": "四川省",
        "52": "贵州省",
        "53": "云南省",
        "54": "西藏自治区",
        "61": "陕西省",
        "62": "甘肃省",
        "63": "青海省",
        "64": "宁夏回族自治区",
        "65": "新疆维吾尔自治区",
        "71": "台湾省",
        "81": "香港特别行政区",
        "82": "澳门特别行政区",
    }
)
"""Province-level division codes of GB/T 2260 (first two digits of a region code)."""

_ID_KIND = "resident_id_number"
_ID_PATTERN: Final = re.compile(r"[0-9]{17}[0-9X]")
_ID_WEIGHTS: Final = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS: Final = "10X98765432"
_EARLIEST_BIRTH: Final = date(1900, 1, 1)


class Sex(StrEnum):
    """Sex as encoded in the ID number: odd 17th digit male, even female."""

    MALE = "male"
    FEMALE = "female"


def _id_check_digit(body17: str) -> str:
    """ISO 7064 MOD 11-2 check character of the first 17 digits."""
    total = sum(int(c) * w for c, w in zip(body17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


@dataclass(frozen=True, slots=True, repr=False)
class ResidentIdNumber:
    """A mainland resident identity card number (居民身份证号码, 18 characters).

    Built only from a valid number: ``ResidentIdNumber("...")`` normalizes and checks like
    :meth:`parse`. The decoded parts are read from the number, never given.
    """

    value: str
    region_code: str = field(init=False, compare=False)
    province: str = field(init=False, compare=False)
    birth_date: date = field(init=False, compare=False)
    sequence_code: str = field(init=False, compare=False)
    sex: Sex = field(init=False, compare=False)
    check_digit: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        value = _normalize(self.value, "identifier.id_number.format", _ID_KIND)
        if not _ID_PATTERN.fullmatch(value):
            raise _invalid(
                "identifier.id_number.format",
                "An ID number is 17 digits followed by a digit or X.",
                _ID_KIND,
            )
        province = PROVINCES.get(value[:2])
        if province is None:
            raise _invalid(
                "identifier.id_number.region",
                "The ID number does not start with a known province code.",
                _ID_KIND,
            )
        try:
            born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
        except ValueError:
            raise _invalid(
                "identifier.id_number.birth_date",
                "The ID number does not contain a valid date of birth.",
                _ID_KIND,
                reason="not_a_date",
            ) from None
        if born < _EARLIEST_BIRTH:
            raise _invalid(
                "identifier.id_number.birth_date",
                "The date of birth in the ID number is before 1900.",
                _ID_KIND,
                reason="before_1900",
            )
        if _id_check_digit(value[:17]) != value[17]:
            raise _invalid(
                "identifier.id_number.check_digit",
                "The ID number's check digit does not match: it was probably mistyped.",
                _ID_KIND,
            )
        for name, part in (
            ("value", value),
            ("region_code", value[:6]),
            ("province", province),
            ("birth_date", born),
            ("sequence_code", value[14:17]),
            ("sex", Sex.MALE if int(value[16]) % 2 else Sex.FEMALE),
            ("check_digit", value[17]),
        ):
            object.__setattr__(self, name, part)

    @classmethod
    def parse(cls, text: str, *, as_of: date | None = None) -> Self:
        """Normalize and check ``text``; with ``as_of``, a birth date after it is refused."""
        parsed = cls(text)
        if as_of is not None and parsed.birth_date > as_of:
            raise _invalid(
                "identifier.id_number.birth_date",
                "The date of birth in the ID number is in the future.",
                _ID_KIND,
                reason="after_as_of",
            )
        return parsed

    def age_on(self, on: date) -> int:
        """Age in full years on ``on`` (a 29 February birthday counts from 1 March)."""
        if on < self.birth_date:
            raise _invalid(
                "identifier.id_number.birth_date",
                "The date is before the date of birth.",
                _ID_KIND,
                reason="before_birth",
            )
        before_birthday = (on.month, on.day) < (self.birth_date.month, self.birth_date.day)
        return on.year - self.birth_date.year - int(before_birthday)

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"ResidentIdNumber('{_tail(self.value)}')"


def make_resident_id(region_code: str, birth_date: date, sequence: int) -> str:
    """A valid ID number for test and sandbox data: the check digit is computed.

    ``sequence`` (0-999) is the order code; its parity gives the sex (odd: male).
    """
    if (
        isinstance(sequence, bool)
        or not isinstance(sequence, int)
        or not 0 <= sequence <= 999
        or not isinstance(region_code, str)
        or not re.fullmatch(r"[0-9]{6}", region_code)
        or not isinstance(birth_date, date)
    ):
        raise _invalid(
            "identifier.id_number.format",
            "An ID number needs a 6-digit region code, a date of birth and a sequence 0-999.",
            _ID_KIND,
        )
    born = f"{birth_date.year:04d}{birth_date.month:02d}{birth_date.day:02d}"
    body = f"{region_code}{born}{sequence:03d}"
    return str(ResidentIdNumber(body + _id_check_digit(body)))


# --- 统一社会信用代码 (GB 32100-2015) ----------------------------------------------------------

_USCC_KIND = "unified_social_credit_code"
_USCC_ALPHABET: Final = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # no I, O, S, V, Z
_USCC_VALUES: Final = MappingProxyType({c: i for i, c in enumerate(_USCC_ALPHABET)})
_USCC_WEIGHTS: Final = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_BODY: Final = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{9}")

REGISTRATION_AUTHORITIES: Final = MappingProxyType(
    {"1": "机构编制", "5": "民政", "9": "工商", "Y": "其他"}
)
"""Registration authority names of GB 32100-2015 (first character of the code)."""


def _uscc_check_char(body17: str) -> str:
    total = sum(_USCC_VALUES[c] * w for c, w in zip(body17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def _uscc_format_error() -> ValidationError:
    return _invalid(
        "identifier.uscc.format",
        "A unified social credit code is 18 characters: digits and capital letters "
        "except I, O, S, V and Z, with a 6-digit region code in places 3 to 8.",
        _USCC_KIND,
    )


@dataclass(frozen=True, slots=True, repr=False)
class UnifiedSocialCreditCode:
    """An organization's unified social credit code (统一社会信用代码, 18 characters)."""

    value: str
    registration_authority: str = field(init=False, compare=False)
    org_type: str = field(init=False, compare=False)
    region_code: str = field(init=False, compare=False)
    organization_code: str = field(init=False, compare=False)
    check_char: str = field(init=False, compare=False)

    def __post_init__(self) -> None:
        value = _normalize(self.value, "identifier.uscc.format", _USCC_KIND)
        if len(value) != 18 or not _USCC_BODY.fullmatch(value[:17]):
            raise _uscc_format_error()
        if value[17] not in _USCC_VALUES:
            raise _uscc_format_error()
        if _uscc_check_char(value[:17]) != value[17]:
            raise _invalid(
                "identifier.uscc.check_char",
                "The code's check character does not match: it was probably mistyped.",
                _USCC_KIND,
            )
        for name, part in (
            ("value", value),
            ("registration_authority", value[0]),
            ("org_type", value[1]),
            ("region_code", value[2:8]),
            ("organization_code", value[8:17]),
            ("check_char", value[17]),
        ):
            object.__setattr__(self, name, part)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Normalize and check ``text``."""
        return cls(text)

    @property
    def registration_authority_name(self) -> str | None:
        """``"工商"`` for codes starting with 9 ...; ``None`` when not in the table."""
        return REGISTRATION_AUTHORITIES.get(self.registration_authority)

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"UnifiedSocialCreditCode('{_tail(self.value)}')"


def make_uscc(body17: str) -> str:
    """A valid code for test and sandbox data: ``body17`` plus its check character."""
    body = _normalize(body17, "identifier.uscc.format", _USCC_KIND)
    if not _USCC_BODY.fullmatch(body):
        raise _uscc_format_error()
    return str(UnifiedSocialCreditCode(body + _uscc_check_char(body)))


# --- 手机号码 (mainland China) ----------------------------------------------------------------

_MOBILE_KIND = "mobile_number"
_MOBILE_PATTERN: Final = re.compile(r"1[3-9][0-9]{9}")


@dataclass(frozen=True, slots=True, repr=False)
class MobileNumber:
    """A mainland China mobile number, kept as its 11 digits (``13812345678``)."""

    value: str

    def __post_init__(self) -> None:
        value = _normalize(self.value, "identifier.mobile.format", _MOBILE_KIND)
        value = value.replace("(", "").replace(")", "")
        for prefix in ("+86", "0086"):
            if value.startswith(prefix):
                value = value[len(prefix) :]
                break
        else:
            if len(value) == 13 and value.startswith("86"):
                value = value[2:]
        if not _MOBILE_PATTERN.fullmatch(value):
            raise _invalid(
                "identifier.mobile.format",
                "A mainland mobile number is 11 digits starting with 13 to 19.",
                _MOBILE_KIND,
            )
        object.__setattr__(self, "value", value)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Normalize ``+86 138 1234 5678``, ``86-138...`` or ``13812345678``, and check it."""
        return cls(text)

    @property
    def e164(self) -> str:
        """International form: ``+8613812345678``."""
        return "+86" + self.value

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"MobileNumber('{_tail(self.value)}')"


# --- 银行卡号 --------------------------------------------------------------------------------

_CARD_KIND = "bank_card_number"
_CARD_PATTERN: Final = re.compile(r"[0-9]{12,19}")


def _luhn_sum(digits: str, *, double_rightmost: bool) -> int:
    total = 0
    for position, char in enumerate(reversed(digits)):
        digit = int(char)
        if (position % 2 == 0) == double_rightmost:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total


@dataclass(frozen=True, slots=True, repr=False)
class BankCardNumber:
    """A bank card number (12-19 digits) with a valid Luhn check digit."""

    value: str

    def __post_init__(self) -> None:
        value = _normalize(self.value, "identifier.bank_card.format", _CARD_KIND)
        if not _CARD_PATTERN.fullmatch(value):
            raise _invalid(
                "identifier.bank_card.format", "A bank card number is 12 to 19 digits.", _CARD_KIND
            )
        if _luhn_sum(value, double_rightmost=False) % 10:
            raise _invalid(
                "identifier.bank_card.checksum",
                "The card number's check digit does not match: it was probably mistyped.",
                _CARD_KIND,
            )
        object.__setattr__(self, "value", value)

    @classmethod
    def parse(cls, text: str) -> Self:
        """Normalize and check ``text``."""
        return cls(text)

    @property
    def bin(self) -> str:
        """The issuer identification number (first 6 digits)."""
        return self.value[:6]

    @property
    def last4(self) -> str:
        """The last four digits, as shown to the customer."""
        return self.value[-4:]

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"BankCardNumber('{_tail(self.value)}')"


def luhn_complete(partial: str) -> str:
    """``partial`` digits followed by their Luhn check digit (``411111111111111`` → ``...1``)."""
    digits = _normalize(partial, "identifier.bank_card.format", _CARD_KIND)
    if not re.fullmatch(r"[0-9]{1,18}", digits):
        raise _invalid(
            "identifier.bank_card.format", "Give 1 to 18 digits to complete.", _CARD_KIND
        )
    return digits + str(-_luhn_sum(digits, double_rightmost=True) % 10)
