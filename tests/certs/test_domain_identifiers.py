"""证照类型代码, 证照标识 (next version) and 食品经营许可证编号."""

from __future__ import annotations

import pytest
from stdnum.iso7064 import mod_37_36

from services.certs.domain.identifiers import (
    BusinessForm,
    InvalidIdentifier,
    food_licence_check_digit,
    make_certificate_id,
    make_food_licence_no,
    make_type_code,
    next_version_id,
    parse_certificate_id,
    parse_food_licence_no,
    parse_type_code,
)

DEFINER = "11440200MB2C12345W"
ISSUER = "11440200MB2C12353P"


def test_type_code_round_trip_and_parts() -> None:
    code = make_type_code(DEFINER, 7)
    assert code == DEFINER + "007"
    parsed = parse_type_code(" " + code.lower() + " ")
    assert (parsed.code, parsed.definer_uscc, parsed.sequence) == (code, DEFINER, 7)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (DEFINER + "01", "length"),
        (DEFINER + "0A1", "format"),
        (DEFINER[:-1] + "0" + "001", "component"),  # USCC check char wrong
        (12345, "type"),
    ],
)
def test_bad_type_codes_carry_a_reason(value: object, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as err:
        parse_type_code(value)  # type: ignore[arg-type]
    assert err.value.reason == reason
    assert err.value.kind == "certificate_type_code"


@pytest.mark.parametrize("sequence", [-1, 1000, True])
def test_type_code_sequence_range(sequence: int) -> None:
    with pytest.raises(InvalidIdentifier):
        make_type_code(DEFINER, sequence)


def test_certificate_id_check_char_is_mod_37_36_over_the_parts_without_dots() -> None:
    type_code = make_type_code(DEFINER, 1)
    cid = make_certificate_id(type_code, ISSUER, "2026000123", 1)
    body = f"{type_code}{ISSUER}2026000123001"
    assert (
        cid
        == f"1.2.156.3005.2.{type_code}.{ISSUER}.2026000123.001.{mod_37_36.calc_check_digit(body)}"
    )
    assert mod_37_36.is_valid(body + cid[-1])


def test_next_version_keeps_everything_but_version_and_check() -> None:
    cid = make_certificate_id(make_type_code(DEFINER, 1), ISSUER, "77", 1)
    nxt = parse_certificate_id(next_version_id(cid))
    cur = parse_certificate_id(cid)
    assert (nxt.type_code, nxt.issuer_uscc, nxt.serial) == (cur.type_code, cur.issuer_uscc, "77")
    assert nxt.version == 2
    last = make_certificate_id(make_type_code(DEFINER, 1), ISSUER, "77", 999)
    with pytest.raises(InvalidIdentifier):
        next_version_id(last)


@pytest.mark.parametrize(
    "published",
    # Published licence numbers found in public web pages: the check digit rule reproduces them.
    ["JY11108071215650", "JY11105050876919", "JY13301080111719", "JY11117051464030"],
)
def test_food_licence_check_digit_reproduces_published_numbers(published: str) -> None:
    assert food_licence_check_digit(published[2:15]) == published[15]
    parsed = parse_food_licence_no(published)
    assert parsed.business_form is BusinessForm.FOOD_SALES


def test_food_licence_build_and_parse() -> None:
    number = make_food_licence_no(BusinessForm.CATERING, "440203", 1234)
    assert number.startswith("JY2440203001234") and len(number) == 16
    parsed = parse_food_licence_no(number.lower())
    assert parsed.business_form is BusinessForm.CATERING
    assert parsed.division_code == "440203"
    assert parsed.sequence == 1234
    assert BusinessForm.CATERING.label == "餐饮服务经营者"


def test_every_single_digit_error_is_caught() -> None:
    number = make_food_licence_no("3", "440203", 42)
    for position in range(2, 16):
        for digit in "0123456789":
            if digit == number[position]:
                continue
            wrong = number[:position] + digit + number[position + 1 :]
            with pytest.raises(InvalidIdentifier):
                parse_food_licence_no(wrong)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("JY244020300123", "length"),
        ("SC24402030012345", "format"),
        ("JY2440203001234A", "format"),
        ("JY44402030012345", "component"),  # 主体业态 4 does not exist
        ("JY29902030012345", "area"),  # province 99
    ],
)
def test_bad_food_licence_numbers(value: str, reason: str) -> None:
    with pytest.raises(InvalidIdentifier) as err:
        parse_food_licence_no(value)
    assert err.value.reason == reason


def test_wrong_check_digit_accepted_only_when_told() -> None:
    number = make_food_licence_no("1", "440203", 5)
    wrong = number[:-1] + str((int(number[-1]) + 1) % 10)
    with pytest.raises(InvalidIdentifier) as err:
        parse_food_licence_no(wrong)
    assert err.value.reason == "checksum"
    assert parse_food_licence_no(wrong, verify_check=False).check == wrong[-1]


@pytest.mark.parametrize(
    ("form", "division", "sequence"),
    [("4", "440203", 1), ("1", "44020", 1), ("1", "440203", 1_000_000), ("1", "990203", 1)],
)
def test_make_food_licence_rejects_bad_parts(form: str, division: str, sequence: int) -> None:
    with pytest.raises(InvalidIdentifier):
        make_food_licence_no(form, division, sequence)


def test_business_form_from_printed_label() -> None:
    assert BusinessForm.from_label("食品销售经营者（网络食品销售商）") is BusinessForm.FOOD_SALES
    assert BusinessForm.from_label("单位食堂") is BusinessForm.CANTEEN
    with pytest.raises(ValueError):
        BusinessForm.from_label("食品生产者")
