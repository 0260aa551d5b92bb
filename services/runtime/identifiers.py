"""Validators for the identifiers of the 一网通办 domain (DOMAIN.md §1).

Every ``validate_*`` function is pure (no network, database or file access): it takes the raw
text, returns the normalised value, or raises :class:`InvalidIdentifier`. Normalisation is
NFKC (full-width ``４４０１…`` and ``Ｘ`` typed on Chinese keyboards become ASCII), surrounding
whitespace stripped, letters upper-cased.

Error messages never contain the submitted value: an identifier such as a 公民身份号码 is
personal data, and these messages end up in problem+json bodies and log lines.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from stdnum.cn import ric, uscc
from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.iso7064 import mod_37_36

__all__ = [
    "CERTIFICATE_ID_ROOT",
    "DEFAULT_BASE_CODE_PATTERN",
    "DEFAULT_HANDLING_ITEM_CODE_PATTERN",
    "PROVINCE_CODES",
    "VALIDATORS",
    "CaseNumber",
    "CertificateId",
    "IdentifierKind",
    "ImplementationCode",
    "InvalidIdentifier",
    "make_certificate_id",
    "parse_case_no",
    "parse_certificate_id",
    "parse_implementation_code",
    "validate_base_code",
    "validate_case_no",
    "validate_certificate_id",
    "validate_citizen_id",
    "validate_division_code",
    "validate_handling_item_code",
    "validate_identifier",
    "validate_implementation_code",
    "validate_uscc",
]


class IdentifierKind(StrEnum):
    """The identifier kinds of DOMAIN.md §1; values are stable API strings."""

    CITIZEN_ID = "citizen_id"  # 公民身份号码
    USCC = "uscc"  # 统一社会信用代码
    DIVISION_CODE = "division_code"  # 行政区划代码
    BASE_CODE = "base_code"  # 基本编码
    IMPLEMENTATION_CODE = "implementation_code"  # 实施编码
    HANDLING_ITEM_CODE = "handling_item_code"  # 业务办理项编码
    CASE_NO = "case_no"  # 办件编号
    CERTIFICATE_ID = "certificate_id"  # 证照标识


class InvalidIdentifier(ValueError):
    """An identifier failed validation.

    ``kind`` names the identifier (an :class:`IdentifierKind` value), ``reason`` is a short
    machine-readable cause (``length``, ``format``, ``checksum``, ``date``, ``area``,
    ``component``, ``type``) for problem+json, and the message is a human-readable sentence.
    """

    def __init__(self, kind: str, reason: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.reason = reason


# GB/T 2260 province-level codes (省级行政区划代码). 71 台湾, 81 香港, 82 澳门.
PROVINCE_CODES: frozenset[str] = frozenset(
    {
        *("11", "12", "13", "14", "15"),
        *("21", "22", "23"),
        *("31", "32", "33", "34", "35", "36", "37"),
        *("41", "42", "43", "44", "45", "46"),
        *("50", "51", "52", "53", "54"),
        *("61", "62", "63", "64", "65"),
        *("71", "81", "82"),
    }
)
# 港澳台居民居住证 numbers follow GB 11643 with area 810000 / 820000 / 830000, and the hub
# must accept them wherever a 公民身份号码 is asked for.
_CITIZEN_ID_AREA_PREFIXES: frozenset[str] = PROVINCE_CODES | {"83"}

_USCC_LENGTH = 18
_IMPLEMENTATION_CODE_LENGTH = 31
_CASE_NO_LENGTH = 43
_EARLIEST_BIRTH_YEAR = 1850  # anything older is a typo, not a living applicant

DEFAULT_BASE_CODE_PATTERN = r"^[0-9A-Z]{10,14}$"
DEFAULT_HANDLING_ITEM_CODE_PATTERN = r"^[0-9A-Z][0-9A-Z_-]{0,49}$"
CERTIFICATE_ID_ROOT = "1.2.156.3005.2"

_UPPER_ALNUM = re.compile(r"[0-9A-Z]+")
_DIGITS = re.compile(r"[0-9]+")
_SERIAL = re.compile(r"[0-9A-Z]{1,40}")


# --- helpers ---


def _normalise(kind: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidIdentifier(kind, "type", f"{kind} must be a string")
    return unicodedata.normalize("NFKC", value).strip().upper()


def _require_length(kind: str, value: str, expected: int) -> None:
    if len(value) != expected:
        raise InvalidIdentifier(
            kind, "length", f"{kind} must be {expected} characters long, got {len(value)}"
        )


def _require(kind: str, reason: str, ok: bool, message: str) -> None:
    if not ok:
        raise InvalidIdentifier(kind, reason, message)


def _check_uscc(kind: str, value: str, what: str) -> None:
    """Validate an 18-char USCC embedded in another identifier, naming the part in errors."""
    try:
        uscc.validate(value)
    except ValidationError as exc:
        raise InvalidIdentifier(kind, "component", f"{what} is not a valid USCC: {exc}") from exc


def _parse_yyyymmdd(kind: str, text: str, what: str) -> dt.date:
    _require(kind, "format", _DIGITS.fullmatch(text) is not None, f"{what} must be 8 digits")
    try:
        return dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError as exc:
        raise InvalidIdentifier(kind, "date", f"{what} is not a valid calendar date") from exc


# --- 公民身份号码 ---


def validate_citizen_id(s: str) -> str:
    """Validate a 公民身份号码 (GB 11643-1999) and return it with an upper-case ``X``.

    Checks length, characters, the ISO 7064 MOD 11-2 check character (``stdnum.cn.ric``), the
    birth date (a real date, not in the future) and that the area starts with a known province
    code. The county part is not looked up: stdnum's table rejects people born before their
    county code was created (e.g. 440106 天河区, 1985), which is wrong for real IDs.
    """
    kind = IdentifierKind.CITIZEN_ID
    value = _normalise(kind, s)
    _require_length(kind, value, 18)
    _require(
        kind,
        "format",
        value[:17].isdigit() and value[:17].isascii() and value[17] in "0123456789X",
        f"{kind} must be 17 digits followed by a digit or X",
    )
    _require(kind, "checksum", ric.calc_check_digit(value) == value[17], "check character is wrong")
    _check_birth_date(kind, value)
    _require(
        kind,
        "area",
        value[:2] in _CITIZEN_ID_AREA_PREFIXES,
        f"unknown area code: province part {value[:2]} is not a GB/T 2260 province",
    )
    return value


def _check_birth_date(kind: str, value: str) -> None:
    try:
        birth = ric.get_birth_date(value)
    except ValidationError as exc:
        raise InvalidIdentifier(kind, "date", "birth date is not a valid calendar date") from exc
    _require(kind, "date", birth <= dt.date.today(), "birth date is in the future")
    _require(
        kind,
        "date",
        birth.year >= _EARLIEST_BIRTH_YEAR,
        f"birth year is before {_EARLIEST_BIRTH_YEAR}",
    )


# --- 统一社会信用代码 ---


def validate_uscc(s: str) -> str:
    """Validate a 统一社会信用代码 (GB 32100-2015) via ``stdnum.cn.uscc``; return it upper-case."""
    kind = IdentifierKind.USCC
    value = _normalise(kind, s)
    _require_length(kind, value, _USCC_LENGTH)
    try:
        uscc.validate(value)
    except ValidationError as exc:
        # stdnum's exception class tells which rule failed; map it to our reasons.
        reason = "checksum" if isinstance(exc, InvalidChecksum) else "format"
        detail = (
            "check character is wrong"
            if reason == "checksum"
            else "characters 1-8 must be digits and the rest from 0-9A-Z without I, O, S, V, Z"
        )
        raise InvalidIdentifier(kind, reason, f"{kind}: {detail}") from exc
    return value


# --- 行政区划代码 ---


def validate_division_code(s: str) -> str:
    """Validate a 行政区划代码 (GB/T 2260) of 6 digits, or 12 with town (3) and village (3).

    The check is structural plus the province table: the province part must be a known
    province, a zero level may not be followed by a non-zero one (``110001`` is not a code).
    Looking up every city and county in a full GB/T 2260 table is out of scope: the table
    changes every year and belongs in reference data, not in a pure validator.
    """
    kind = IdentifierKind.DIVISION_CODE
    value = _normalise(kind, s)
    _require(
        kind,
        "length",
        len(value) in (6, 12),
        f"{kind} must be 6 or 12 digits long, got {len(value)}",
    )
    _require(kind, "format", _DIGITS.fullmatch(value) is not None, f"{kind} must be digits only")
    _require(
        kind,
        "area",
        value[:2] in PROVINCE_CODES,
        f"unknown province code {value[:2]} in {kind}",
    )
    levels = [value[2:4], value[4:6]] + ([value[6:9], value[9:12]] if len(value) == 12 else [])
    _check_levels(kind, levels)
    return value


def _check_levels(kind: str, levels: list[str]) -> None:
    """A level of all zeros means "this level is not specified", so every lower one must be too."""
    seen_zero = False
    for part in levels:
        is_zero = set(part) == {"0"}
        _require(
            kind,
            "format",
            not (seen_zero and not is_zero),
            f"{kind} has a non-zero lower level under an all-zero higher level",
        )
        seen_zero = seen_zero or is_zero


# --- 基本编码 / 业务办理项编码 ---


def validate_base_code(s: str, pattern: str = DEFAULT_BASE_CODE_PATTERN) -> str:
    """Validate a 基本编码 (GB/T 39554.1) against a configurable regular expression.

    The national catalog does not pin the shape down, so the pattern comes from settings;
    the default accepts 10-14 characters of ``0-9A-Z`` (about 12 in practice).
    """
    return _validate_pattern(IdentifierKind.BASE_CODE, s, pattern)


def validate_handling_item_code(s: str, pattern: str = DEFAULT_HANDLING_ITEM_CODE_PATTERN) -> str:
    """Validate a 业务办理项编码 (up to 50 chars) against a configurable regular expression."""
    return _validate_pattern(IdentifierKind.HANDLING_ITEM_CODE, s, pattern)


def _validate_pattern(kind: str, s: str, pattern: str) -> str:
    value = _normalise(kind, s)
    _require(
        kind, "format", re.fullmatch(pattern, value) is not None, f"{kind} must match {pattern}"
    )
    return value


# --- 实施编码 ---


@dataclass(frozen=True, slots=True)
class ImplementationCode:
    """A parsed 实施编码: USCC of the implementing body (18) + 13 chars from the 基本编码."""

    code: str
    uscc: str
    suffix: str

    def __str__(self) -> str:
        return self.code


def parse_implementation_code(s: str) -> ImplementationCode:
    """Parse and validate a 31-char 实施编码; the USCC part must carry a valid check char."""
    kind = IdentifierKind.IMPLEMENTATION_CODE
    value = _normalise(kind, s)
    _require_length(kind, value, _IMPLEMENTATION_CODE_LENGTH)
    return _split_implementation_code(kind, value)


def _split_implementation_code(kind: str, value: str) -> ImplementationCode:
    head, suffix = value[:_USCC_LENGTH], value[_USCC_LENGTH:_IMPLEMENTATION_CODE_LENGTH]
    _check_uscc(kind, head, "the first 18 characters (implementing body)")
    _require(
        kind,
        "format",
        _UPPER_ALNUM.fullmatch(suffix) is not None,
        "characters 19-31 must be from 0-9A-Z",
    )
    return ImplementationCode(code=value, uscc=head, suffix=suffix)


def validate_implementation_code(s: str) -> str:
    """Validate a 实施编码 and return it normalised (see :func:`parse_implementation_code`)."""
    return parse_implementation_code(s).code


# --- 办件编号 ---


@dataclass(frozen=True, slots=True)
class CaseNumber:
    """A parsed 办件编号: 实施编码 (31) + acceptance date yyyymmdd (8) + daily sequence (4)."""

    case_no: str
    implementation_code: ImplementationCode
    date: dt.date
    sequence: int

    def __str__(self) -> str:
        return self.case_no


def parse_case_no(s: str) -> CaseNumber:
    """Parse and validate a 43-char 办件编号.

    Only the shape is checked here; whether the 实施编码 prefix is a *known* one is a catalog
    lookup for the service that owns matters.
    """
    kind = IdentifierKind.CASE_NO
    value = _normalise(kind, s)
    _require_length(kind, value, _CASE_NO_LENGTH)
    impl = _split_implementation_code(kind, value[:_IMPLEMENTATION_CODE_LENGTH])
    day = _parse_yyyymmdd(kind, value[31:39], "characters 32-39 (acceptance date)")
    seq = value[39:43]
    _require(
        kind,
        "format",
        _DIGITS.fullmatch(seq) is not None,
        "characters 40-43 (daily sequence) must be digits",
    )
    return CaseNumber(case_no=value, implementation_code=impl, date=day, sequence=int(seq))


def validate_case_no(s: str) -> str:
    """Validate a 办件编号 and return it normalised (see :func:`parse_case_no`)."""
    return parse_case_no(s).case_no


# --- 证照标识 ---


@dataclass(frozen=True, slots=True)
class CertificateId:
    """A parsed 证照标识 (GB/T 36904 as implemented).

    ``1.2.156.3005.2.<证照类型代码>.<颁发机构代码>.<流水号>.<版本号>.<校验位>`` where the type
    code is the USCC of the defining body + a 3-digit sequence.
    """

    identifier: str
    type_code: str
    type_definer_uscc: str
    type_sequence: str
    issuer_uscc: str
    serial: str
    version: int
    check: str

    def __str__(self) -> str:
        return self.identifier


def _certificate_check_char(type_code: str, issuer_uscc: str, serial: str, version: str) -> str:
    """ISO 7064 MOD 37,36 check character over the non-root parts.

    Our exact choice: the four parts after the root (type code, issuer code, serial, 3-digit
    version) concatenated *without* dots, alphabet ``0-9A-Z`` (stdnum's default), e.g.
    ``11100000000013338W001`` + ``11440100MA59C2KX0T`` + ``0000123`` + ``001``.
    """
    return mod_37_36.calc_check_digit(type_code + issuer_uscc + serial + version)


def make_certificate_id(type_code: str, issuer_uscc: str, serial: str, version: int | str) -> str:
    """Build a 证照标识 with its check character; raises :class:`InvalidIdentifier` on bad parts."""
    kind = IdentifierKind.CERTIFICATE_ID
    tc = _normalise(kind, type_code)
    issuer = _normalise(kind, issuer_uscc)
    ser = _normalise(kind, serial)
    ver = _format_version(kind, version)
    _check_certificate_parts(kind, tc, issuer, ser)
    check = _certificate_check_char(tc, issuer, ser, ver)
    return ".".join((CERTIFICATE_ID_ROOT, tc, issuer, ser, ver, check))


def _format_version(kind: str, version: int | str) -> str:
    if isinstance(version, str):
        version = version.strip()
        ok = len(version) <= 3 and _DIGITS.fullmatch(version) is not None
        _require(kind, "format", ok, "version must be 0-999")
        version = int(version)
    ok = isinstance(version, int) and not isinstance(version, bool) and 0 <= version <= 999
    _require(kind, "format", ok, "version must be 0-999")
    return f"{version:03d}"


def _check_certificate_parts(kind: str, type_code: str, issuer: str, serial: str) -> None:
    _require(
        kind,
        "format",
        len(type_code) == _USCC_LENGTH + 3 and _DIGITS.fullmatch(type_code[-3:]) is not None,
        "type code (证照类型代码) must be an 18-char USCC followed by a 3-digit sequence",
    )
    _check_uscc(kind, type_code[:_USCC_LENGTH], "the type code's defining body")
    _check_uscc(kind, issuer, "the issuer code (颁发机构代码)")
    _require(
        kind,
        "format",
        _SERIAL.fullmatch(serial) is not None,
        "serial (流水号) must be 1-40 characters from 0-9A-Z",
    )


def parse_certificate_id(s: str) -> CertificateId:
    """Parse and validate a 证照标识, including its MOD 37,36 check character."""
    kind = IdentifierKind.CERTIFICATE_ID
    value = _normalise(kind, s)
    prefix = CERTIFICATE_ID_ROOT + "."
    _require(kind, "format", value.startswith(prefix), f"{kind} must start with {prefix}")
    parts = value[len(prefix) :].split(".")
    _require(
        kind,
        "format",
        len(parts) == 5,
        f"{kind} must have 5 dot-separated parts after the root, got {len(parts)}",
    )
    type_code, issuer, serial, version, check = parts
    _check_certificate_parts(kind, type_code, issuer, serial)
    _require(
        kind,
        "format",
        len(version) == 3 and _DIGITS.fullmatch(version) is not None,
        "version (版本号) must be 3 digits",
    )
    _require(
        kind,
        "checksum",
        check == _certificate_check_char(type_code, issuer, serial, version),
        "check character (校验位) is wrong",
    )
    return CertificateId(
        identifier=value,
        type_code=type_code,
        type_definer_uscc=type_code[:_USCC_LENGTH],
        type_sequence=type_code[_USCC_LENGTH:],
        issuer_uscc=issuer,
        serial=serial,
        version=int(version),
        check=check,
    )


def validate_certificate_id(s: str) -> CertificateId:
    """Validate a 证照标识 and return it parsed (same as :func:`parse_certificate_id`)."""
    return parse_certificate_id(s)


# --- generic access ---

VALIDATORS: dict[IdentifierKind, Callable[[str], str]] = {
    IdentifierKind.CITIZEN_ID: validate_citizen_id,
    IdentifierKind.USCC: validate_uscc,
    IdentifierKind.DIVISION_CODE: validate_division_code,
    IdentifierKind.BASE_CODE: validate_base_code,
    IdentifierKind.IMPLEMENTATION_CODE: validate_implementation_code,
    IdentifierKind.HANDLING_ITEM_CODE: validate_handling_item_code,
    IdentifierKind.CASE_NO: validate_case_no,
    # Uniform str -> str: generic callers want the normalised text, not the parsed parts.
    IdentifierKind.CERTIFICATE_ID: lambda s: parse_certificate_id(s).identifier,
}
"""Kind → validator returning the normalised identifier (configurable patterns at defaults)."""


def validate_identifier(kind: IdentifierKind | str, value: str) -> str:
    """Validate ``value`` as ``kind``; unknown kinds raise ``KeyError``."""
    return VALIDATORS[IdentifierKind(kind)](value)
