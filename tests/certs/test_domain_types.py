"""证照目录 entries: the seed catalogue, validity rules and 照面 validation."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json

import pytest

from services.certs.domain.identifiers import make_food_licence_no
from services.certs.domain.types import (
    BUSINESS_LICENCE,
    DISABILITY_CERTIFICATE,
    FOOD_BUSINESS_FORMS,
    FOOD_LICENCE,
    MEDICAL_INSTITUTION_LICENCE,
    SEED_CATALOGUE,
    SHAOGUAN_MARKET_USCC,
    TEACHER_QUALIFICATION,
    CertificateType,
    HolderKind,
    InvalidCertificateType,
    ValidityRule,
)
from tests.certs.support import CITIZEN_ID, OPERATOR_USCC, food_face


def test_seed_catalogue_types_are_consistent() -> None:
    assert len(SEED_CATALOGUE) == 5
    assert [t.name for t in SEED_CATALOGUE.values() if t.annual_inspection] == [
        "医疗机构执业许可证"
    ]
    assert {t.holder_kind for t in SEED_CATALOGUE.values()} == set(HolderKind)
    # The matters demo catalogue names this code for the food licence matter.
    assert FOOD_LICENCE.type_code == "11440200MB2C12345W001"
    assert FOOD_LICENCE.is_result_of("000117008000")
    assert FOOD_LICENCE.is_result_of(SHAOGUAN_MARKET_USCC + "0001170080000")
    assert not FOOD_LICENCE.is_result_of("000117007000")
    assert FOOD_LICENCE.may_issue(SHAOGUAN_MARKET_USCC)
    assert not FOOD_LICENCE.may_issue(OPERATOR_USCC)  # deny by default


def test_food_licence_face_has_the_fields_of_the_licence() -> None:
    titles = {p["title"] for p in FOOD_LICENCE.face_schema["properties"].values()}
    assert titles == {
        "经营者名称",
        "社会信用代码",
        "法定代表人（负责人）",
        "住所",
        "经营场所",
        "主体业态",
        "经营项目",
        "许可证编号",
        "日常监督管理机构",
        "有效期至",
    }


def test_valid_food_face_has_no_errors() -> None:
    assert FOOD_LICENCE.validate_face(food_face()) == []


def test_all_errors_are_reported_with_paths() -> None:
    face = food_face(business_items=["热食类食品制售", "卖烟花"], valid_until="2031-02-30")
    del face["residence"]
    face["colour"] = "red"
    errors = FOOD_LICENCE.validate_face(face)
    by_path = {(e.path, e.keyword) for e in errors}
    assert ("", "required") in by_path
    assert ("", "additionalProperties") in by_path
    assert ("/business_items/1", "pattern") in by_path
    assert ("/valid_until", "format") in by_path
    assert [e.path for e in errors] == sorted(e.path for e in errors)


def test_business_form_bracket_of_article_6() -> None:
    assert "餐饮服务经营者（小餐饮）" in FOOD_BUSINESS_FORMS
    assert "食品销售经营者（网络食品销售商）" in FOOD_BUSINESS_FORMS
    # Art. 6: a catering business must name its specific form in brackets.
    assert "餐饮服务经营者" not in FOOD_BUSINESS_FORMS
    errors = FOOD_LICENCE.validate_face(food_face(business_form="餐饮服务经营者"))
    assert [(e.path, e.keyword) for e in errors] == [("/business_form", "enum")]


def test_licence_number_must_match_business_form_and_check_digit() -> None:
    sales_no = make_food_licence_no("1", "440203", 1234)
    errors = FOOD_LICENCE.validate_face(food_face(licence_no=sales_no))
    assert [(e.path, e.keyword) for e in errors] == [("/licence_no", "business_form")]
    good = make_food_licence_no("2", "440203", 1234)
    bad = good[:-1] + str((int(good[-1]) + 1) % 10)
    errors = FOOD_LICENCE.validate_face(food_face(licence_no=bad))
    assert [(e.path, e.keyword) for e in errors] == [("/licence_no", "checksum")]


def test_uscc_check_char_is_verified_beyond_the_pattern() -> None:
    wrong = OPERATOR_USCC[:-1] + ("0" if OPERATOR_USCC[-1] != "0" else "1")
    errors = FOOD_LICENCE.validate_face(food_face(uscc=wrong))
    assert [(e.path, e.keyword) for e in errors] == [("/uscc", "checksum")]


def test_non_object_face() -> None:
    errors = FOOD_LICENCE.validate_face(["not", "an", "object"])
    assert [(e.path, e.keyword) for e in errors] == [("", "type")]


def test_business_licence_term_is_a_date_or_long_term() -> None:
    face = {
        "name": "韶关市好味道餐饮有限公司",
        "uscc": OPERATOR_USCC,
        "entity_type": "有限责任公司（自然人投资或控股）",
        "legal_representative": "李四",
        "business_scope": "餐饮服务；食品销售",
        "established_on": "2020-05-06",
        "business_term_until": "长期",
        "residence": "广东省韶关市武江区新华南路1号",
        "registration_authority": "韶关市武江区市场监督管理局",
    }
    assert BUSINESS_LICENCE.validate_face(face) == []
    assert BUSINESS_LICENCE.validate_face({**face, "business_term_until": "2040-05-05"}) == []
    errors = BUSINESS_LICENCE.validate_face({**face, "business_term_until": "永久"})
    assert [e.path for e in errors] == ["/business_term_until"]
    assert BUSINESS_LICENCE.valid_until(dt.date(2026, 1, 1)) is None


def test_disability_certificate_number_is_id_plus_category_and_grade() -> None:
    face = {
        "holder_name": "王五",
        "gender": "男",
        "birth_date": "1990-01-01",
        "citizen_id": CITIZEN_ID,
        "certificate_no": CITIZEN_ID + "42",
        "disability_category": "肢体",
        "disability_grade": "二级",
        "residence": "广东省韶关市武江区",
    }
    assert DISABILITY_CERTIFICATE.validate_face(face) == []
    errors = DISABILITY_CERTIFICATE.validate_face({**face, "disability_grade": "三级"})
    assert [(e.path, e.keyword) for e in errors] == [("/certificate_no", "consistency")]
    bad_id = CITIZEN_ID[:-1] + "2"
    errors = DISABILITY_CERTIFICATE.validate_face(
        {**face, "citizen_id": bad_id, "certificate_no": bad_id + "42"}
    )
    assert [(e.path, e.keyword) for e in errors] == [("/citizen_id", "checksum")]


def test_teacher_qualification_for_natural_persons() -> None:
    assert TEACHER_QUALIFICATION.holder_kind is HolderKind.NATURAL
    face = {
        "holder_name": "赵六",
        "gender": "女",
        "birth_date": "1995-07-01",
        "citizen_id": CITIZEN_ID,
        "certificate_no": "20264402031000123",
        "qualification": "小学教师资格",
        "subject": "语文",
        "certifying_authority": "韶关市武江区教育局",
        "certified_on": "2026-06-30",
    }
    assert TEACHER_QUALIFICATION.validate_face(face) == []
    errors = TEACHER_QUALIFICATION.validate_face({**face, "qualification": "博士生导师"})
    assert [e.path for e in errors] == ["/qualification"]


@pytest.mark.parametrize(
    ("issued", "rule", "until"),
    [
        (dt.date(2026, 3, 15), ValidityRule(years=5), dt.date(2031, 3, 14)),
        (dt.date(2024, 2, 29), ValidityRule(years=1), dt.date(2025, 2, 27)),
        (dt.date(2026, 1, 31), ValidityRule(months=1), dt.date(2026, 2, 27)),
        (dt.date(2026, 11, 30), ValidityRule(years=1, months=3), dt.date(2028, 2, 28)),
        (dt.date(2026, 1, 1), ValidityRule(), None),
    ],
)
def test_validity_rule(issued: dt.date, rule: ValidityRule, until: dt.date | None) -> None:
    assert rule.valid_until(issued) == until


def test_food_licence_is_valid_five_years() -> None:
    assert FOOD_LICENCE.valid_until(dt.date(2026, 3, 15)) == dt.date(2031, 3, 14)


def test_inconsistent_types_are_refused() -> None:
    with pytest.raises(InvalidCertificateType):
        dataclasses.replace(FOOD_LICENCE, type_code="11440200MB2C12345W00")
    with pytest.raises(InvalidCertificateType):
        dataclasses.replace(FOOD_LICENCE, issuing_orgs=frozenset({"not-a-uscc"}))
    with pytest.raises(InvalidCertificateType):
        dataclasses.replace(FOOD_LICENCE, face_schema={"type": "no-such-type"})
    with pytest.raises(InvalidCertificateType):
        dataclasses.replace(FOOD_LICENCE, number_field="missing")
    with pytest.raises(InvalidCertificateType):
        dataclasses.replace(FOOD_LICENCE, version=0)
    with pytest.raises(InvalidCertificateType):
        ValidityRule(years=-1)


def test_a_new_version_is_a_new_immutable_value() -> None:
    v2 = dataclasses.replace(FOOD_LICENCE, version=2, template="food_licence_2026")
    assert isinstance(v2, CertificateType)
    assert (v2.type_code, v2.version) == (FOOD_LICENCE.type_code, 2)
    assert FOOD_LICENCE.version == 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        FOOD_LICENCE.version = 3  # type: ignore[misc]


def test_medical_institution_licence_needs_annual_inspection() -> None:
    face = {
        "institution_name": "韶关市武江区仁心诊所",
        "uscc": OPERATOR_USCC,
        "address": "广东省韶关市武江区工业西路2号",
        "legal_representative": "钱七",
        "principal": "钱七",
        "ownership": "私有制",
        "departments": ["内科", "外科"],
        "beds": 0,
        "registration_no": "PDY00001844020311D2152",
        "issuing_authority": "韶关市武江区卫生健康局",
    }
    assert MEDICAL_INSTITUTION_LICENCE.validate_face(face) == []
    errors = MEDICAL_INSTITUTION_LICENCE.validate_face({**face, "beds": -1, "departments": []})
    assert [(e.path, e.keyword) for e in errors] == [
        ("/beds", "minimum"),
        ("/departments", "minItems"),
    ]
    assert MEDICAL_INSTITUTION_LICENCE.annual_inspection


def test_public_description_is_plain_json() -> None:
    described = json.loads(json.dumps(FOOD_LICENCE.to_json(), ensure_ascii=False))
    assert described["type_code"] == FOOD_LICENCE.type_code
    assert described["validity"] == {"years": 5, "months": 0}
    assert described["face_schema"]["properties"]["licence_no"]["title"] == "许可证编号"
    assert described["issuing_orgs"] == sorted(FOOD_LICENCE.issuing_orgs)
    assert BUSINESS_LICENCE.to_json()["validity"] is None
