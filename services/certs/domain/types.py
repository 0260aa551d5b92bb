"""Certificate types (证照目录 entries) and the validation of 照面 data against them.

A certificate type must be in the catalogue before any certificate of it is issued (DOMAIN.md
§6). It names the defining body (inside its 证照类型代码), the holder kind, the 照面 fields as a
JSON Schema, the validity rule, the orgs allowed to issue it, whether 年检 applies, the rendering
template and the matters whose 办理结果 it is.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError

from services.certs.domain.identifiers import (
    BusinessForm,
    InvalidIdentifier,
    parse_food_licence_no,
    parse_type_code,
)
from services.runtime.identifiers import validate_citizen_id, validate_uscc

__all__ = [
    "BUSINESS_LICENCE",
    "DISABILITY_CERTIFICATE",
    "FOOD_BUSINESS_FORMS",
    "FOOD_LICENCE",
    "MEDICAL_INSTITUTION_LICENCE",
    "SEED_CATALOGUE",
    "SHAOGUAN_MARKET_USCC",
    "TEACHER_QUALIFICATION",
    "CertificateType",
    "FaceError",
    "HolderKind",
    "InvalidCertificateType",
    "ValidityRule",
]


class HolderKind(StrEnum):
    """持证主体 kind: natural person (自然人, by 公民身份号码) or legal person (法人, by USCC)."""

    NATURAL = "natural"
    LEGAL = "legal"


class InvalidCertificateType(ValueError):
    """A 证照目录 entry is inconsistent (bad type code, schema, or rule)."""


@dataclass(frozen=True, slots=True)
class FaceError:
    """One 照面 validation error: JSON Pointer of the field (``""`` = the whole object)."""

    path: str
    message: str
    keyword: str


@dataclass(frozen=True, slots=True)
class ValidityRule:
    """有效期 rule: ``years``/``months`` from the issue date, or ``None`` for 长期 (no expiry).

    The last valid day is the day before the anniversary (a licence issued 2026-03-01 for
    5 years is valid until 2031-02-28), as printed on licences ("有效期至").
    """

    years: int = 0
    months: int = 0

    def __post_init__(self) -> None:
        if self.years < 0 or self.months < 0:
            raise InvalidCertificateType("validity years and months must be non-negative")

    @property
    def unlimited(self) -> bool:
        """True for 长期: no end date."""
        return self.years == 0 and self.months == 0

    def valid_until(self, issued_on: dt.date) -> dt.date | None:
        """The last valid day for a certificate issued on ``issued_on`` (None = 长期)."""
        if self.unlimited:
            return None
        total = issued_on.month - 1 + self.months + 12 * self.years
        year, month = issued_on.year + total // 12, total % 12 + 1
        day = min(issued_on.day, calendar.monthrange(year, month)[1])
        return dt.date(year, month, day) - dt.timedelta(days=1)


CrossCheck = Callable[[Mapping[str, Any]], list[FaceError]]
"""A rule across 照面 fields that JSON Schema cannot state (e.g. check digits)."""


@dataclass(frozen=True, slots=True)
class CertificateType:
    """One 证照目录 entry, immutable; a change is a new ``version`` of the same ``type_code``.

    ``issuing_orgs`` is deny-by-default: only the listed USCCs may issue. ``result_of`` holds
    基本编码 or 实施编码 prefixes of the matters whose 办理结果 this certificate is.
    ``number_field`` names the 照面 field that carries the 证照编号.
    """

    type_code: str
    name: str
    holder_kind: HolderKind
    face_schema: Mapping[str, Any]
    validity: ValidityRule
    issuing_orgs: frozenset[str]
    annual_inspection: bool
    template: str
    result_of: tuple[str, ...]
    number_field: str
    holder_name_field: str
    holder_id_field: str
    version: int = 1
    cross_checks: tuple[CrossCheck, ...] = field(default=(), compare=False, repr=False)
    _validator: Draft202012Validator = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        try:
            parse_type_code(self.type_code)
            for org in self.issuing_orgs:
                validate_uscc(org)
        except InvalidIdentifier as exc:
            raise InvalidCertificateType(f"{self.name}: {exc}") from exc
        if self.version < 1:
            raise InvalidCertificateType(f"{self.name}: version must be ≥ 1")
        try:
            Draft202012Validator.check_schema(self.face_schema)
        except SchemaError as exc:
            raise InvalidCertificateType(f"{self.name}: bad 照面 schema: {exc.message}") from exc
        properties = self.face_schema.get("properties", {})
        for name in (self.number_field, self.holder_name_field, self.holder_id_field):
            if name not in properties:
                raise InvalidCertificateType(f"{self.name}: 照面 has no field {name!r}")
        validator = Draft202012Validator(self.face_schema, format_checker=FormatChecker())
        object.__setattr__(self, "_validator", validator)

    def may_issue(self, org_uscc: str) -> bool:
        """Whether the org may issue this type (deny by default)."""
        return org_uscc in self.issuing_orgs

    def is_result_of(self, matter_code: str) -> bool:
        """Whether a matter (基本编码 or 实施编码) yields this type as its 办理结果."""
        return any(matter_code.startswith(prefix) for prefix in self.result_of)

    def validate_face(self, face: object) -> list[FaceError]:
        """All errors of ``face`` against the 照面 schema and cross-checks, sorted by path."""
        errors = [
            FaceError(path=_pointer(err.absolute_path), message=err.message, keyword=err.validator)
            for err in self._validator.iter_errors(face)
        ]
        if not errors and isinstance(face, Mapping):
            for check in self.cross_checks:
                errors.extend(check(face))
        return sorted(errors, key=lambda e: (e.path, e.keyword, e.message))

    def valid_until(self, issued_on: dt.date) -> dt.date | None:
        """有效期至 for a certificate of this type issued on ``issued_on``."""
        return self.validity.valid_until(issued_on)

    def to_json(self) -> dict[str, Any]:
        """The public description (``GET /v1/types/{type_code}``); cross-checks are code and
        are described by the schema's ``title``s and the docs, not serialised."""
        return {
            "type_code": self.type_code,
            "name": self.name,
            "holder_kind": str(self.holder_kind),
            "face_schema": self.face_schema,
            "validity": None
            if self.validity.unlimited
            else {"years": self.validity.years, "months": self.validity.months},
            "issuing_orgs": sorted(self.issuing_orgs),
            "annual_inspection": self.annual_inspection,
            "template": self.template,
            "result_of": list(self.result_of),
            "number_field": self.number_field,
            "version": self.version,
        }


def _pointer(parts: Iterable[str | int]) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


# --- the seed catalogue ---

# Check-digit-valid USCCs of the defining and issuing bodies. The 韶关 departments and the type
# codes they define are those of the matters demo catalogue (services/matters/demo_catalog.py),
# so a 办件 of its food-licence matter names a type found here.
SHAOGUAN_MARKET_USCC = "11440200MB2C12345W"  # 韶关市市场监督管理局
SHAOGUAN_EDUCATION_USCC = "11440200MB2C12353P"  # 韶关市教育局
SHAOGUAN_HEALTH_USCC = "11440200MB2C12352L"  # 韶关市卫生健康局
GUANGDONG_MARKET_USCC = "11440000MB2C00001T"  # 广东省市场监督管理局 (fictional code)
CDPF_USCC = "12100000MB1A000041"  # 中国残疾人联合会 (fictional code)
SHAOGUAN_CDPF_USCC = "11440200MB2D00011Q"  # 韶关市残疾人联合会 (fictional code)

_USCC_PATTERN = "^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"
_CITIZEN_ID_PATTERN = "^[0-9]{17}[0-9X]$"


def _text(title: str, max_length: int = 200) -> dict[str, Any]:
    return {"type": "string", "title": title, "minLength": 1, "maxLength": max_length}


def _date(title: str) -> dict[str, Any]:
    return {"type": "string", "title": title, "format": "date"}


def _object(properties: dict[str, Any], optional: Iterable[str] = ()) -> dict[str, Any]:
    skip = set(optional)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in skip],
        "additionalProperties": False,
    }


# 主体业态 as printed: specific forms in brackets where seed 000 Art. 6 requires them
# (食品贸易商 etc. for sales, every specific form for catering); a canteen may name its kind.
FOOD_BUSINESS_FORMS: tuple[str, ...] = (
    "食品销售经营者",
    *(
        f"食品销售经营者（{form}）"
        for form in ("食品贸易商", "食品自动售货销售商", "网络食品销售商", "食品销售连锁企业总部")
    ),
    *(
        f"餐饮服务经营者（{form}）"
        for form in (
            "大型餐馆",
            "中型餐馆",
            "小型餐馆",
            "中央厨房",
            "集体用餐配送单位",
            "饮品店",
            "糕点店",
            "小餐饮",
            "餐饮服务连锁企业总部",
            "餐饮管理企业",
        )
    ),
    "单位食堂",
    *(
        f"单位食堂（{form}）"
        for form in ("学校食堂", "托幼机构食堂", "职工食堂", "养老机构食堂", "工地食堂")
    ),
)

# 食品经营项目 of seed 000 Art. 7, each optionally qualified in brackets (含/不含 …).
_FOOD_ITEM_PATTERN = (
    "^(预包装食品销售|散装食品销售|特殊食品销售|其他类食品销售|热食类食品制售|冷食类食品制售"
    "|生食类食品制售|糕点类食品制售|自制饮品制售|其他类食品制售|食品经营管理)(（[^（）]{1,60}）)?$"
)


def _food_licence_checks(face: Mapping[str, Any]) -> list[FaceError]:
    """许可证编号 check digit; its first digit must be the code of the printed 主体业态."""
    errors: list[FaceError] = []
    try:
        number = parse_food_licence_no(face["licence_no"])
    except InvalidIdentifier as exc:
        return [FaceError("/licence_no", str(exc), exc.reason)]
    form = BusinessForm.from_label(face["business_form"])
    if number.business_form is not form:
        errors.append(
            FaceError(
                "/licence_no",
                f"digit 1 is {number.business_form.value}, 主体业态 {form.label} is {form.value}",
                "business_form",
            )
        )
    return errors + _uscc_check("/uscc", face["uscc"])


def _uscc_check(path: str, value: str) -> list[FaceError]:
    try:
        validate_uscc(value)
    except InvalidIdentifier as exc:
        return [FaceError(path, str(exc), exc.reason)]
    return []


def _citizen_id_check(face: Mapping[str, Any]) -> list[FaceError]:
    try:
        validate_citizen_id(face["citizen_id"])
    except InvalidIdentifier as exc:
        return [FaceError("/citizen_id", str(exc), exc.reason)]
    return []


FOOD_LICENCE = CertificateType(
    type_code=f"{SHAOGUAN_MARKET_USCC}001",
    name="食品经营许可证",
    holder_kind=HolderKind.LEGAL,
    face_schema=_object(
        {
            "operator_name": _text("经营者名称"),
            "uscc": {"type": "string", "title": "社会信用代码", "pattern": _USCC_PATTERN},
            "legal_representative": _text("法定代表人（负责人）", 50),
            "residence": _text("住所"),
            "business_premises": _text("经营场所"),
            "business_form": {"title": "主体业态", "enum": list(FOOD_BUSINESS_FORMS)},
            "business_items": {
                "type": "array",
                "title": "经营项目",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "pattern": _FOOD_ITEM_PATTERN},
            },
            "licence_no": {
                "type": "string",
                "title": "许可证编号",
                "pattern": "^JY[1-3][0-9]{13}$",
            },
            "supervisory_authority": _text("日常监督管理机构"),
            "valid_until": _date("有效期至"),
        }
    ),
    # 食品经营许可证有效期为5年 (食品经营许可管理办法 第二十五条).
    validity=ValidityRule(years=5),
    issuing_orgs=frozenset({SHAOGUAN_MARKET_USCC, GUANGDONG_MARKET_USCC}),
    annual_inspection=False,
    template="food_licence",
    # 基本编码 of 食品经营许可 and the 实施编码 prefix of the 韶关 matter (demo catalogue).
    result_of=("000117008000", f"{SHAOGUAN_MARKET_USCC}000117008000"),
    number_field="licence_no",
    holder_name_field="operator_name",
    holder_id_field="uscc",
    cross_checks=(_food_licence_checks,),
)

BUSINESS_LICENCE = CertificateType(
    type_code=f"{SHAOGUAN_MARKET_USCC}002",
    name="营业执照",
    holder_kind=HolderKind.LEGAL,
    face_schema=_object(
        {
            "name": _text("名称"),
            "uscc": {"type": "string", "title": "统一社会信用代码", "pattern": _USCC_PATTERN},
            "entity_type": _text("类型", 100),
            "legal_representative": _text("法定代表人", 50),
            "business_scope": _text("经营范围", 4000),
            "registered_capital": _text("注册资本", 100),
            "established_on": _date("成立日期"),
            "business_term_until": {
                "title": "营业期限至",
                "anyOf": [
                    {"type": "string", "format": "date"},
                    {"const": "长期"},
                ],
            },
            "residence": _text("住所"),
            "registration_authority": _text("登记机关"),
        },
        optional=("registered_capital",),  # 个体工商户 have none
    ),
    validity=ValidityRule(),  # the licence itself has no end date; 营业期限 is a 照面 field
    issuing_orgs=frozenset({SHAOGUAN_MARKET_USCC, GUANGDONG_MARKET_USCC}),
    annual_inspection=False,  # replaced by 年度报告 since 2014
    template="business_licence",
    result_of=("000117002000", f"{SHAOGUAN_MARKET_USCC}000117002000"),
    number_field="uscc",
    holder_name_field="name",
    holder_id_field="uscc",
    cross_checks=(lambda face: _uscc_check("/uscc", face["uscc"]),),
)

_CATEGORIES = {
    "视力": "1",
    "听力": "2",
    "言语": "3",
    "肢体": "4",
    "智力": "5",
    "精神": "6",
    "多重": "7",
}
_GRADES = {"一级": "1", "二级": "2", "三级": "3", "四级": "4"}


def _disability_number_check(face: Mapping[str, Any]) -> list[FaceError]:
    """残疾人证号 = 身份证号 + category digit + grade digit, consistent with the printed ones."""
    expected = (
        face["citizen_id"]
        + _CATEGORIES[face["disability_category"]]
        + _GRADES[face["disability_grade"]]
    )
    if face["certificate_no"] != expected:
        return [
            FaceError(
                "/certificate_no",
                "must be the 身份证号 followed by the category and grade digits",
                "consistency",
            )
        ]
    return []


DISABILITY_CERTIFICATE = CertificateType(
    type_code=f"{CDPF_USCC}001",
    name="中华人民共和国残疾人证",
    holder_kind=HolderKind.NATURAL,
    face_schema=_object(
        {
            "holder_name": _text("姓名", 50),
            "gender": {"title": "性别", "enum": ["男", "女"]},
            "birth_date": _date("出生日期"),
            "citizen_id": {"type": "string", "title": "身份证号", "pattern": _CITIZEN_ID_PATTERN},
            # 残疾人证号 = 身份证号 + 残疾类别 (1) + 残疾等级 (1), e.g. …123X12
            "certificate_no": {
                "type": "string",
                "title": "残疾人证号",
                "pattern": "^[0-9]{17}[0-9X][1-7][1-4]$",
            },
            "disability_category": {
                "title": "残疾类别",
                "enum": ["视力", "听力", "言语", "肢体", "智力", "精神", "多重"],
            },
            "disability_grade": {"title": "残疾等级", "enum": ["一级", "二级", "三级", "四级"]},
            "residence": _text("户籍地址"),
            "guardian": _text("监护人", 50),
        },
        optional=("guardian",),
    ),
    validity=ValidityRule(years=10),  # 第三代残疾人证: 10 years
    issuing_orgs=frozenset({SHAOGUAN_CDPF_USCC}),
    annual_inspection=False,
    template="disability_certificate",
    result_of=("000231004000",),
    number_field="certificate_no",
    holder_name_field="holder_name",
    holder_id_field="citizen_id",
    cross_checks=(_citizen_id_check, _disability_number_check),
)

TEACHER_QUALIFICATION = CertificateType(
    type_code=f"{SHAOGUAN_EDUCATION_USCC}002",
    name="教师资格证书",
    holder_kind=HolderKind.NATURAL,
    face_schema=_object(
        {
            "holder_name": _text("姓名", 50),
            "gender": {"title": "性别", "enum": ["男", "女"]},
            "birth_date": _date("出生日期"),
            "citizen_id": {
                "type": "string",
                "title": "身份证件号码",
                "pattern": _CITIZEN_ID_PATTERN,
            },
            # 证书号码: year (4) + province (2) + county-level code (4? varies) + sequence; the
            # national shape is 17 digits, e.g. 20214400141000123.
            "certificate_no": {"type": "string", "title": "证书号码", "pattern": "^[0-9]{17}$"},
            "qualification": {
                "title": "资格种类",
                "enum": [
                    "幼儿园教师资格",
                    "小学教师资格",
                    "初级中学教师资格",
                    "高级中学教师资格",
                    "中等职业学校教师资格",
                    "中等职业学校实习指导教师资格",
                    "高等学校教师资格",
                ],
            },
            "subject": _text("任教学科", 50),
            "certifying_authority": _text("认定机构"),
            "certified_on": _date("批准日期"),
        }
    ),
    validity=ValidityRule(),  # 教师资格 does not expire (定期注册 is a separate matter)
    issuing_orgs=frozenset({SHAOGUAN_EDUCATION_USCC}),
    annual_inspection=False,
    template="teacher_qualification",
    result_of=("000112002000", f"{SHAOGUAN_EDUCATION_USCC}000112002000"),
    number_field="certificate_no",
    holder_name_field="holder_name",
    holder_id_field="citizen_id",
    cross_checks=(_citizen_id_check,),
)

MEDICAL_INSTITUTION_LICENCE = CertificateType(
    type_code=f"{SHAOGUAN_HEALTH_USCC}001",
    name="医疗机构执业许可证",
    holder_kind=HolderKind.LEGAL,
    face_schema=_object(
        {
            "institution_name": _text("机构名称"),
            "uscc": {"type": "string", "title": "统一社会信用代码", "pattern": _USCC_PATTERN},
            "address": _text("地址"),
            "legal_representative": _text("法定代表人", 50),
            "principal": _text("主要负责人", 50),
            "ownership": {
                "title": "所有制形式",
                "enum": ["全民所有制", "集体所有制", "私有制", "股份制", "中外合资合作", "其他"],
            },
            "departments": {
                "type": "array",
                "title": "诊疗科目",
                "minItems": 1,
                "uniqueItems": True,
                "items": {"type": "string", "minLength": 1, "maxLength": 50},
            },
            "beds": {"type": "integer", "title": "床位", "minimum": 0, "maximum": 20000},
            "registration_no": {
                "type": "string",
                "title": "登记号",
                "pattern": "^[0-9A-Z]{6,40}$",
            },
            "issuing_authority": _text("发证机关"),
        },
    ),
    validity=ValidityRule(years=5),
    issuing_orgs=frozenset({SHAOGUAN_HEALTH_USCC}),
    # 校验: yearly for institutions under 100 beds (医疗机构管理条例实施细则), the common case;
    # a per-certificate 3-year interval for larger ones is left to the service.
    annual_inspection=True,
    template="medical_institution_licence",
    result_of=("000124001000", f"{SHAOGUAN_HEALTH_USCC}000124001000"),
    number_field="registration_no",
    holder_name_field="institution_name",
    holder_id_field="uscc",
    cross_checks=(lambda face: _uscc_check("/uscc", face["uscc"]),),
)

SEED_CATALOGUE: Mapping[str, CertificateType] = {
    t.type_code: t
    for t in (
        FOOD_LICENCE,
        BUSINESS_LICENCE,
        TEACHER_QUALIFICATION,
        MEDICAL_INSTITUTION_LICENCE,
        DISABILITY_CERTIFICATE,
    )
}
"""The seed 证照目录, by 证照类型代码."""


def type_definition(cert_type: CertificateType) -> dict[str, Any]:
    """The stored definition of a type version: the public JSON plus the holder fields."""
    return cert_type.to_json() | {
        "holder_name_field": cert_type.holder_name_field,
        "holder_id_field": cert_type.holder_id_field,
    }


def type_from_definition(data: Mapping[str, Any]) -> CertificateType:
    """Inverse of :func:`type_definition`; raises :class:`InvalidCertificateType`.

    Cross-checks are code: a seed type's checks stay with its later versions only while the
    照面 schema is unchanged (they read fields by name)."""
    try:
        validity = data.get("validity") or {}
        seed = SEED_CATALOGUE.get(str(data["type_code"]))
        schema = data["face_schema"]
        checks = seed.cross_checks if seed is not None and seed.face_schema == schema else ()
        return CertificateType(
            type_code=str(data["type_code"]),
            name=str(data["name"]),
            holder_kind=HolderKind(data["holder_kind"]),
            face_schema=schema,
            validity=ValidityRule(int(validity.get("years", 0)), int(validity.get("months", 0))),
            issuing_orgs=frozenset(str(o) for o in data["issuing_orgs"]),
            annual_inspection=bool(data.get("annual_inspection", False)),
            template=str(data.get("template", "")),
            result_of=tuple(str(p) for p in data.get("result_of", ())),
            number_field=str(data["number_field"]),
            holder_name_field=str(data["holder_name_field"]),
            holder_id_field=str(data["holder_id_field"]),
            version=int(data.get("version", 1)),
            cross_checks=checks,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, InvalidCertificateType):
            raise
        raise InvalidCertificateType(f"bad type definition: {exc}") from exc
