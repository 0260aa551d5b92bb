"""Identifiers of the certs service: 证照类型代码, 证照标识 and the food licence 许可证编号.

The 证照标识 itself (GB/T 36904 as implemented, DOMAIN.md §1) is built and parsed by the shared
:mod:`services.runtime.identifiers` so that every service validates it the same way; this module
adds what only the certs service needs: the parts of a 证照类型代码, the identifier of the next
version (变更), and the 食品经营许可证编号.

Every error is :class:`~services.runtime.identifiers.InvalidIdentifier`, which carries ``kind`` and
a machine-readable ``reason`` (``length``, ``format``, ``checksum``, ``component``, ``area``,
``type``) for problem+json.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from stdnum.exceptions import ValidationError
from stdnum.iso7064 import mod_11_10

from services.runtime.identifiers import (
    CERTIFICATE_ID_ROOT,
    PROVINCE_CODES,
    CertificateId,
    InvalidIdentifier,
    make_certificate_id,
    parse_certificate_id,
    validate_uscc,
)

__all__ = [
    "CERTIFICATE_ID_ROOT",
    "FOOD_LICENCE_KIND",
    "TYPE_CODE_KIND",
    "BusinessForm",
    "CertificateId",
    "FoodLicenceNumber",
    "InvalidIdentifier",
    "TypeCode",
    "food_licence_check_digit",
    "make_certificate_id",
    "make_food_licence_no",
    "make_type_code",
    "next_version_id",
    "parse_certificate_id",
    "parse_food_licence_no",
    "parse_type_code",
]

TYPE_CODE_KIND = "certificate_type_code"
FOOD_LICENCE_KIND = "food_licence_no"

_USCC_LENGTH = 18
_MAX_VERSION = 999


def _normalise(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidIdentifier(kind, "type", f"{kind} must be a string")
    return unicodedata.normalize("NFKC", value).strip().upper()


# --- 证照类型代码 ---


@dataclass(frozen=True, slots=True)
class TypeCode:
    """A 证照类型代码: the USCC of the body that defines the type + a 3-digit sequence."""

    code: str
    definer_uscc: str
    sequence: int

    def __str__(self) -> str:
        return self.code


def parse_type_code(s: str) -> TypeCode:
    """Parse and validate a 21-character 证照类型代码 (the USCC part must carry a valid check)."""
    kind = TYPE_CODE_KIND
    value = _normalise(kind, s)
    if len(value) != _USCC_LENGTH + 3:
        raise InvalidIdentifier(
            kind, "length", f"{kind} must be 21 characters (USCC + 3 digits), got {len(value)}"
        )
    tail = value[_USCC_LENGTH:]
    if not (tail.isascii() and tail.isdigit()):
        raise InvalidIdentifier(kind, "format", "characters 19-21 (sequence) must be digits")
    try:
        definer = validate_uscc(value[:_USCC_LENGTH])
    except InvalidIdentifier as exc:
        raise InvalidIdentifier(
            kind, "component", "the first 18 characters are not a valid USCC (defining body)"
        ) from exc
    return TypeCode(code=value, definer_uscc=definer, sequence=int(tail))


def make_type_code(definer_uscc: str, sequence: int) -> str:
    """Build a 证照类型代码 from the defining body's USCC and a sequence 0-999."""
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence <= 999:
        raise InvalidIdentifier(TYPE_CODE_KIND, "format", "sequence must be an integer 0-999")
    return parse_type_code(f"{_normalise(TYPE_CODE_KIND, definer_uscc)}{sequence:03d}").code


# --- 证照标识 ---


def next_version_id(certificate_id: str) -> str:
    """The 证照标识 of the next version (变更): same type, issuer and serial, version + 1."""
    current = parse_certificate_id(certificate_id)
    if current.version >= _MAX_VERSION:
        raise InvalidIdentifier(
            "certificate_id", "format", f"version {_MAX_VERSION} is the last one a 证照标识 holds"
        )
    return make_certificate_id(
        current.type_code, current.issuer_uscc, current.serial, current.version + 1
    )


# --- 食品经营许可证编号 ---


class BusinessForm(StrEnum):
    """主体业态 of a food business (seed 000 Art. 6); the value is the code in the 许可证编号.

    The codes are the first digit of ``JY`` numbers in national practice: 1 食品销售经营者,
    2 餐饮服务经营者, 3 单位食堂.
    """

    FOOD_SALES = "1"  # 食品销售经营者
    CATERING = "2"  # 餐饮服务经营者
    CANTEEN = "3"  # 单位食堂

    @property
    def label(self) -> str:
        """The Chinese name printed on the licence."""
        return _FORM_LABELS[self]

    @classmethod
    def from_label(cls, text: str) -> BusinessForm:
        """The form of a 主体业态 text, with or without the bracketed specific form."""
        head = text.split("（", 1)[0].split("(", 1)[0].strip()
        for form, label in _FORM_LABELS.items():
            if head == label:
                return form
        raise ValueError(f"unknown 主体业态: {head!r}")


_FORM_LABELS: dict[BusinessForm, str] = {
    BusinessForm.FOOD_SALES: "食品销售经营者",
    BusinessForm.CATERING: "餐饮服务经营者",
    BusinessForm.CANTEEN: "单位食堂",
}


@dataclass(frozen=True, slots=True)
class FoodLicenceNumber:
    """A parsed 食品经营许可证编号 ``JY`` + 14 digits.

    Digits, left to right: 主体业态 (1), province (2), city (2), county (2), sequence (6),
    check digit (1) (食品经营许可管理办法, 原国家食品药品监督管理总局令第17号 第二十七条; kept in
    市场监管总局令第78号).
    """

    number: str
    business_form: BusinessForm
    division_code: str
    sequence: int
    check: str

    def __str__(self) -> str:
        return self.number


def food_licence_check_digit(body13: str) -> str:
    """The check digit of a 许可证编号 over its first 13 digits: ISO 7064 MOD 11,10.

    Neither seed 000 nor the 办法 spell the algorithm out ("1位校验码"). GB/T 17710 (= ISO 7064)
    is the national standard for check characters, and its hybrid MOD 11,10 is the system that
    yields one digit from digits. It reproduces the check digit of 4 of 7 licence numbers found
    in public web pages (e.g. JY11108071215650, JY13301080111719, JY11117051464030); the three
    others look like placeholders (one has the impossible division 110530, two come from one
    system's form template); Luhn, Verhoeff, Damm and MOD 11-2 match at most one of the seven.
    Numbers supplied by approval systems that use another rule are accepted with
    ``verify_check=False`` in :func:`parse_food_licence_no`.
    """
    if len(body13) != 13 or not (body13.isascii() and body13.isdigit()):
        raise InvalidIdentifier(FOOD_LICENCE_KIND, "format", "the body must be 13 digits")
    return mod_11_10.calc_check_digit(body13)


def parse_food_licence_no(s: str, *, verify_check: bool = True) -> FoodLicenceNumber:
    """Parse and validate a 食品经营许可证编号.

    Checks the ``JY`` prefix, 14 digits, a known 主体业态 code, a GB/T 2260 province, and (unless
    ``verify_check`` is False, for numbers taken over from an approval system) the check digit.
    """
    kind = FOOD_LICENCE_KIND
    value = _normalise(kind, s)
    if len(value) != 16:
        raise InvalidIdentifier(kind, "length", f"{kind} must be 16 characters, got {len(value)}")
    digits = value[2:]
    if not value.startswith("JY") or not (digits.isascii() and digits.isdigit()):
        raise InvalidIdentifier(kind, "format", f"{kind} must be JY followed by 14 digits")
    try:
        form = BusinessForm(digits[0])
    except ValueError as exc:
        raise InvalidIdentifier(kind, "component", "digit 1 (主体业态) must be 1, 2 or 3") from exc
    division = digits[1:7]
    if division[:2] not in PROVINCE_CODES:
        raise InvalidIdentifier(kind, "area", "digits 2-3 are not a GB/T 2260 province code")
    if verify_check:
        try:
            mod_11_10.validate(digits)
        except ValidationError as exc:
            raise InvalidIdentifier(kind, "checksum", "check digit (校验码) is wrong") from exc
    return FoodLicenceNumber(
        number=value,
        business_form=form,
        division_code=division,
        sequence=int(digits[7:13]),
        check=digits[13],
    )


def make_food_licence_no(form: BusinessForm | str, division_code: str, sequence: int) -> str:
    """Assign a 许可证编号 (the hub does when the approval system supplies none).

    ``division_code`` is the 6-digit county-level 行政区划代码 of the licensing authority;
    ``sequence`` the 6-digit 顺序码 (0-999999) the caller reserves for that county.
    """
    kind = FOOD_LICENCE_KIND
    try:
        code = BusinessForm(form)
    except ValueError as exc:
        raise InvalidIdentifier(kind, "component", "主体业态 code must be 1, 2 or 3") from exc
    division = _normalise(kind, division_code)
    if len(division) != 6 or not (division.isascii() and division.isdigit()):
        raise InvalidIdentifier(kind, "format", "division code must be 6 digits")
    if isinstance(sequence, bool) or not isinstance(sequence, int) or not 0 <= sequence <= 999999:
        raise InvalidIdentifier(kind, "format", "sequence must be an integer 0-999999")
    body = f"{code.value}{division}{sequence:06d}"
    return parse_food_licence_no(f"JY{body}{food_licence_check_digit(body)}").number
