"""Identifier validators: real check digits, each rejection reason, parse round trips."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from stdnum.cn import ric, uscc
from stdnum.iso7064 import mod_37_36

from services.runtime.identifiers import (
    CERTIFICATE_ID_ROOT,
    VALIDATORS,
    IdentifierKind,
    InvalidIdentifier,
    make_certificate_id,
    parse_case_no,
    parse_certificate_id,
    parse_implementation_code,
    validate_base_code,
    validate_case_no,
    validate_certificate_id,
    validate_citizen_id,
    validate_division_code,
    validate_identifier,
    validate_implementation_code,
    validate_uscc,
)


def with_ric_check(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")


def with_uscc_check(first17: str) -> str:
    return first17 + uscc.calc_check_digit(first17 + "0")


def flip_last(value: str, alphabet: str = "0123456789") -> str:
    """Replace the last char with another one from ``alphabet`` (so the checksum breaks)."""
    return value[:-1] + next(c for c in alphabet if c != value[-1])


# The worked example of GB 11643-1999 (check char X).
GB_EXAMPLE_ID = "11010519491231002X"
CITIZEN_ID = with_ric_check("44010619900101123")
ORG_USCC = with_uscc_check("91440101MA59C2KX0")
DEFINER_USCC = with_uscc_check("11100000000013338")
IMPL_SUFFIX = "000123456700A"
IMPL_CODE = ORG_USCC + IMPL_SUFFIX
CASE_NO = IMPL_CODE + "20240229" + "0042"


def reason_of(exc_info: pytest.ExceptionInfo[InvalidIdentifier]) -> str:
    return exc_info.value.reason


# --- 公民身份号码 ---


def test_citizen_id_known_example_and_generated_are_valid() -> None:
    assert validate_citizen_id(GB_EXAMPLE_ID) == GB_EXAMPLE_ID
    assert validate_citizen_id(CITIZEN_ID) == CITIZEN_ID


def test_citizen_id_lowercase_x_and_fullwidth_are_normalised() -> None:
    assert validate_citizen_id(" 11010519491231002x ") == GB_EXAMPLE_ID
    assert validate_citizen_id("１１０１０５１９４９１２３１００２Ｘ") == GB_EXAMPLE_ID


def test_citizen_id_wrong_check_char() -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_citizen_id(flip_last(CITIZEN_ID))
    assert exc.value.kind == "citizen_id"
    assert reason_of(exc) == "checksum"
    assert "check character" in str(exc.value)


@pytest.mark.parametrize("value", ["", "1101051949123100", CITIZEN_ID + "1"])
def test_citizen_id_wrong_length(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_citizen_id(value)
    assert reason_of(exc) == "length"
    assert "18 characters" in str(exc.value)


@pytest.mark.parametrize("value", ["1101051949123100A", "11010519491231002Y", "X10105194912310021"])
def test_citizen_id_bad_characters(value: str) -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_citizen_id(value.ljust(18, "0"))
    assert reason_of(exc) == "format"


def test_citizen_id_impossible_birth_date_with_valid_check_char() -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_citizen_id(with_ric_check("44010619900230123"))  # 30 February
    assert reason_of(exc) == "date"


def test_citizen_id_future_birth_date() -> None:
    future = dt.date.today().year + 1
    with pytest.raises(InvalidIdentifier) as exc:
        validate_citizen_id(with_ric_check(f"440106{future}0101123"))
    assert reason_of(exc) == "date"
    assert "future" in str(exc.value)


def test_citizen_id_unknown_province() -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_citizen_id(with_ric_check("99010619900101123"))
    assert reason_of(exc) == "area"


def test_citizen_id_born_before_county_code_existed_is_accepted() -> None:
    # 440106 天河区 dates from 1985; stdnum's ric.validate would wrongly reject this person.
    value = with_ric_check("44010619800101001")
    assert validate_citizen_id(value) == value


def test_citizen_id_hk_macao_taiwan_residence_permit_accepted() -> None:
    value = with_ric_check("83000019900101001")
    assert validate_citizen_id(value) == value


def test_error_message_does_not_echo_the_id() -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_citizen_id(flip_last(CITIZEN_ID))
    assert CITIZEN_ID[:17] not in str(exc.value)


def test_non_string_rejected() -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_citizen_id(110105194912310020)  # type: ignore[arg-type]
    assert reason_of(exc) == "type"


# --- 统一社会信用代码 ---


def test_uscc_valid_and_lowercase_normalised() -> None:
    assert validate_uscc(ORG_USCC) == ORG_USCC
    assert validate_uscc(ORG_USCC.lower()) == ORG_USCC
    assert validate_uscc("12100000400000624D") == "12100000400000624D"


def test_uscc_wrong_check_char() -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_uscc(flip_last(ORG_USCC))
    assert exc.value.kind == "uscc"
    assert reason_of(exc) == "checksum"


def test_uscc_forbidden_letter_and_length() -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_uscc("91440101MA59C2KI0" + "1")  # I is not in the USCC alphabet
    assert reason_of(exc) == "format"
    with pytest.raises(InvalidIdentifier) as exc:
        validate_uscc(ORG_USCC[:-1])
    assert reason_of(exc) == "length"


# --- 行政区划代码 ---


@pytest.mark.parametrize("code", ["110000", "110100", "440106", "810000", "440106001002"])
def test_division_code_valid(code: str) -> None:
    assert validate_division_code(code) == code


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("99", "length"),
        ("4401061", "length"),
        ("44010A", "format"),
        ("990100", "area"),
        ("100000", "area"),
        ("110001", "format"),  # county under an unspecified city
        ("440106000001", "format"),  # village under an unspecified town
    ],
)
def test_division_code_invalid(code: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_division_code(code)
    assert exc.value.kind == "division_code"
    assert reason_of(exc) == reason


# --- 基本编码 ---


def test_base_code_default_and_custom_pattern() -> None:
    assert validate_base_code("11440100ab12") == "11440100AB12"
    with pytest.raises(InvalidIdentifier) as exc:
        validate_base_code("SHORT")
    assert exc.value.kind == "base_code"
    assert validate_base_code("ab-1", pattern=r"^[A-Z]{2}-\d$") == "AB-1"
    with pytest.raises(InvalidIdentifier):
        validate_base_code("11440100AB12", pattern=r"^\d{12}$")


# --- 实施编码 ---


def test_implementation_code_parse() -> None:
    parsed = parse_implementation_code(IMPL_CODE.lower())
    assert parsed.code == IMPL_CODE
    assert parsed.uscc == ORG_USCC
    assert parsed.suffix == IMPL_SUFFIX
    assert str(parsed) == IMPL_CODE
    assert validate_implementation_code(IMPL_CODE) == IMPL_CODE


def test_implementation_code_bad_uscc_part() -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_implementation_code(flip_last(ORG_USCC) + IMPL_SUFFIX)
    assert exc.value.kind == "implementation_code"
    assert "USCC" in str(exc.value)


def test_implementation_code_wrong_length_and_suffix() -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_implementation_code(IMPL_CODE[:-1])
    assert reason_of(exc) == "length"
    with pytest.raises(InvalidIdentifier) as exc:
        validate_implementation_code(ORG_USCC + "000123456700_")
    assert reason_of(exc) == "format"


# --- 办件编号 ---


def test_case_no_parse() -> None:
    parsed = parse_case_no(CASE_NO)
    assert parsed.case_no == CASE_NO
    assert parsed.implementation_code.code == IMPL_CODE
    assert parsed.date == dt.date(2024, 2, 29)
    assert parsed.sequence == 42
    assert validate_case_no(CASE_NO) == CASE_NO


@pytest.mark.parametrize("day", ["20230229", "20241301", "20240000", "2024O101"])
def test_case_no_bad_date(day: str) -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_case_no(IMPL_CODE + day + "0001")
    assert exc.value.kind == "case_no"
    assert reason_of(exc) in {"date", "format"}
    assert "date" in str(exc.value)


def test_case_no_bad_sequence_length_and_prefix() -> None:
    with pytest.raises(InvalidIdentifier) as exc:
        validate_case_no(IMPL_CODE + "20240101" + "00A1")
    assert "sequence" in str(exc.value)
    with pytest.raises(InvalidIdentifier) as exc:
        validate_case_no(CASE_NO + "1")
    assert reason_of(exc) == "length"
    with pytest.raises(InvalidIdentifier) as exc:
        validate_case_no(flip_last(ORG_USCC) + IMPL_SUFFIX + "20240101" + "0001")
    assert "USCC" in str(exc.value)


# --- 证照标识 ---


TYPE_CODE = DEFINER_USCC + "001"


def test_certificate_id_round_trip() -> None:
    cert_id = make_certificate_id(TYPE_CODE, ORG_USCC, "4401002024000001", 1)
    assert cert_id.startswith(CERTIFICATE_ID_ROOT + "." + TYPE_CODE + "." + ORG_USCC)
    parsed = validate_certificate_id(cert_id)
    assert parsed.identifier == cert_id
    assert parsed.type_code == TYPE_CODE
    assert parsed.type_definer_uscc == DEFINER_USCC
    assert parsed.type_sequence == "001"
    assert parsed.issuer_uscc == ORG_USCC
    assert parsed.serial == "4401002024000001"
    assert parsed.version == 1
    assert parse_certificate_id(cert_id.lower()) == parsed


def test_certificate_check_char_is_mod_37_36_over_dotless_non_root_parts() -> None:
    cert_id = make_certificate_id(TYPE_CODE, ORG_USCC, "7", "012")
    payload = TYPE_CODE + ORG_USCC + "7" + "012"
    assert cert_id.endswith(".012." + mod_37_36.calc_check_digit(payload))
    assert mod_37_36.is_valid(payload + cert_id[-1])


def test_certificate_id_tampering_detected() -> None:
    cert_id = make_certificate_id(TYPE_CODE, ORG_USCC, "4401002024000001", 3)
    tampered_serial = cert_id.replace("4401002024000001", "4401002024000002")
    with pytest.raises(InvalidIdentifier) as exc:
        validate_certificate_id(tampered_serial)
    assert reason_of(exc) == "checksum"
    tampered_version = cert_id.replace(".003.", ".004.")
    with pytest.raises(InvalidIdentifier) as exc:
        validate_certificate_id(tampered_version)
    assert reason_of(exc) == "checksum"
    alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    with pytest.raises(InvalidIdentifier) as exc:
        validate_certificate_id(flip_last(cert_id, alphabet))
    assert reason_of(exc) == "checksum"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda c: c.replace(CERTIFICATE_ID_ROOT, "1.2.156.3005.9"),
        lambda c: c.rsplit(".", 1)[0],  # missing check char
        lambda c: c.replace(".001.", ".01."),  # version not 3 digits
        lambda c: c.replace(TYPE_CODE, DEFINER_USCC + "01"),  # type code too short
    ],
)
def test_certificate_id_structure_errors(mutate: Callable[[str], str]) -> None:
    cert_id = make_certificate_id(TYPE_CODE, ORG_USCC, "ABC123", 1)
    with pytest.raises(InvalidIdentifier) as exc:
        validate_certificate_id(mutate(cert_id))
    assert exc.value.kind == "certificate_id"


def test_make_certificate_id_rejects_bad_parts() -> None:
    with pytest.raises(InvalidIdentifier, match="issuer"):
        make_certificate_id(TYPE_CODE, flip_last(ORG_USCC), "1", 1)
    with pytest.raises(InvalidIdentifier, match="defining body"):
        make_certificate_id(flip_last(DEFINER_USCC) + "001", ORG_USCC, "1", 1)
    with pytest.raises(InvalidIdentifier, match="serial"):
        make_certificate_id(TYPE_CODE, ORG_USCC, "12.3", 1)
    with pytest.raises(InvalidIdentifier, match="version"):
        make_certificate_id(TYPE_CODE, ORG_USCC, "1", 1000)


# --- generic access ---


def test_validators_cover_every_kind_and_return_normalised_strings() -> None:
    assert set(VALIDATORS) == set(IdentifierKind)
    cert_id = make_certificate_id(TYPE_CODE, ORG_USCC, "1", 1)
    samples = {
        IdentifierKind.CITIZEN_ID: "11010519491231002x",
        IdentifierKind.USCC: ORG_USCC.lower(),
        IdentifierKind.DIVISION_CODE: "440106",
        IdentifierKind.BASE_CODE: "11440100ab12",
        IdentifierKind.IMPLEMENTATION_CODE: IMPL_CODE.lower(),
        IdentifierKind.HANDLING_ITEM_CODE: "11440100ab12-01",
        IdentifierKind.CASE_NO: CASE_NO.lower(),
        IdentifierKind.CERTIFICATE_ID: cert_id.lower(),
    }
    for kind, sample in samples.items():
        assert VALIDATORS[kind](sample) == sample.upper()
    assert validate_identifier("uscc", ORG_USCC) == ORG_USCC
    assert isinstance(InvalidIdentifier("x", "y", "z"), ValueError)
