"""The elements of an implementation item (实施清单要素) under the 十统一 rules (DOMAIN §2).

One ``MatterContent`` is the whole content of one matter version: every channel reads
the same published content (同源发布). Drafts may be incomplete, so every element is
optional here; ``gate.missing_elements`` decides whether a version may be published.
Pure: no I/O.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal, get_args

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .guide import validate_guide_definition

MatterType = Literal[
    "行政许可",
    "行政处罚",
    "行政强制",
    "行政征收",
    "行政给付",
    "行政检查",
    "行政确认",
    "行政奖励",
    "行政裁决",
    "其他行政权力",
    "公共服务",
    "行政备案",
]
Level = Literal["国家级", "省级", "市级", "县级", "镇级", "村级"]
ServiceObject = Literal["自然人", "法人", "其他组织"]
HandlingKind = Literal["新设", "变更", "延续", "注销"]
TongbanScope = Literal["无", "全市通办", "全省通办", "跨省通办"]
ResultKind = Literal["证照", "批文", "其他"]

# The same vocabularies as tuples, for filters, Excel validation and messages.
MATTER_TYPES: tuple[str, ...] = get_args(MatterType)
LEVELS: tuple[str, ...] = get_args(Level)
SERVICE_OBJECTS: tuple[str, ...] = get_args(ServiceObject)
HANDLING_KINDS: tuple[str, ...] = get_args(HandlingKind)
TONGBAN_SCOPES: tuple[str, ...] = get_args(TongbanScope)
RESULT_KINDS: tuple[str, ...] = get_args(ResultKind)

Text = Field(min_length=1, max_length=2000)
ShortText = Field(min_length=1, max_length=200)


class _Element(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MainItem(_Element):
    """主项: the matter of the base catalog this item is a 子项 of."""

    name: str = ShortText
    base_code: str | None = Field(default=None, max_length=20)


class SubItem(_Element):
    """子项拆分: how the 主项 is split (by level, object, scale …) and this 子项's name."""

    name: str = ShortText
    split_basis: str = ShortText


class HandlingItem(_Element):
    """业务办理项: the smallest unit (新设/变更/延续/注销 of a 子项)."""

    code: str = Field(min_length=1, max_length=50)
    kind: HandlingKind
    name: str = ShortText


class LegalBasis(_Element):
    """设定依据: a law or regulation and the article that sets the matter up."""

    law: str = ShortText
    article: str | None = Field(default=None, max_length=200)
    text: str | None = Field(default=None, max_length=4000)


class Body(_Element):
    """实施主体 and its 统一社会信用代码."""

    name: str = ShortText
    uscc: str = Field(min_length=18, max_length=18)


class FlowStep(_Element):
    """办理流程 step (受理, 审查, 决定 …) with its own limit in working days."""

    name: str = ShortText
    limit_days: int | None = Field(default=None, ge=0, le=3650)
    description: str | None = Field(default=None, max_length=2000)


class SpecialProcedure(_Element):
    """特别程序 (inspection, testing, expert review …): its time is not counted."""

    name: str = ShortText
    limit_days: int | None = Field(default=None, ge=0, le=3650)
    basis: str | None = Field(default=None, max_length=500)


class Material(_Element):
    """提交材料: paper and/or electronic, copies, source, replacing e-certificate type."""

    name: str = ShortText
    required: bool = True
    paper: bool = True
    paper_copies: int = Field(default=1, ge=0, le=100)
    original: bool = False
    electronic: bool = True
    source: str = Field(default="申请人自备", min_length=1, max_length=100)
    certificate_type: str | None = Field(
        default=None,
        max_length=40,
        description="证照类型代码 whose e-certificate replaces this material (免提交)",
    )
    note: str | None = Field(default=None, max_length=1000)


class FormSpec(_Element):
    """表单内容: one form as a JSON Schema."""

    name: str = ShortText
    json_schema: dict[str, Any] = Field(alias="schema")

    model_config = ConfigDict(extra="forbid", populate_by_name=True, serialize_by_alias=True)

    @field_validator("json_schema")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        try:
            Draft202012Validator.check_schema(value)
        except SchemaError as exc:
            raise ValueError(f"not a valid JSON Schema: {exc.message}") from exc
        return value


class IntermediaryService(_Element):
    """中介服务 the applicant needs (empty list = none needed)."""

    name: str = ShortText
    basis: str | None = Field(default=None, max_length=500)


class Result(_Element):
    """办理结果 and, when it is a certificate, its 证照类型代码."""

    name: str = ShortText
    kind: ResultKind = "其他"
    certificate_type: str | None = Field(default=None, max_length=40)


class FeeItem(_Element):
    name: str = ShortText
    basis: str | None = Field(default=None, max_length=500)
    amount: str = Field(min_length=1, max_length=200)


class Fees(_Element):
    """收费: whether it is charged, and the items with basis and amount."""

    charged: bool
    items: list[FeeItem] = Field(default_factory=list, max_length=50)


class MatterContent(_Element):
    """The content of one version of an implementation item (实施清单事项)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    base_code: str | None = Field(default=None, max_length=20)
    matter_type: MatterType | None = None
    level: Level | None = None
    main_item: MainItem | None = None
    sub_item: SubItem | None = None
    handling_items: list[HandlingItem] = Field(default_factory=list, max_length=20)
    legal_basis: list[LegalBasis] | None = Field(default=None, max_length=50)
    implementing_body: Body | None = None
    division_code: str | None = Field(default=None, max_length=12)
    service_objects: list[ServiceObject] = Field(default_factory=list, max_length=3)
    flow: list[FlowStep] | None = Field(default=None, max_length=30)
    statutory_limit_days: int | None = Field(default=None, ge=0, le=3650)
    promised_limit_days: int | None = Field(default=None, ge=0, le=3650)
    special_procedures: list[SpecialProcedure] = Field(default_factory=list, max_length=20)
    materials: list[Material] | None = Field(default=None, max_length=200)
    forms: list[FormSpec] | None = Field(default=None, max_length=20)
    acceptance_conditions: str | None = Field(default=None, min_length=1, max_length=4000)
    intermediary_services: list[IntermediaryService] | None = Field(default=None, max_length=20)
    result: Result | None = None
    fees: Fees | None = None
    place: str | None = Field(default=None, max_length=500)
    hours: str | None = Field(default=None, max_length=500)
    consult_phone: str | None = Field(default=None, max_length=100)
    complaint_phone: str | None = Field(default=None, max_length=100)
    online_available: bool | None = None
    online_url: str | None = Field(default=None, max_length=500)
    visits: int | None = Field(default=None, ge=0, le=10)
    tongban_scope: TongbanScope | None = None
    effective_from: dt.date | None = None
    keywords: list[str] = Field(default_factory=list, max_length=30)
    guide: dict[str, Any] | None = None

    @field_validator("service_objects", "keywords")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("entries must not repeat")
        return value

    @field_validator("guide")
    @classmethod
    def _valid_guide(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            errors = validate_guide_definition(value)
            if errors:
                raise ValueError("情形引导 definition is invalid: " + "; ".join(errors[:5]))
        return value

    @model_validator(mode="after")
    def _limits(self) -> MatterContent:
        statutory, promised = self.statutory_limit_days, self.promised_limit_days
        if statutory is not None and promised is not None and promised > statutory:
            raise ValueError("承诺时限 (promised_limit_days) may not exceed 法定时限")
        codes = [h.code for h in self.handling_items]
        if len(set(codes)) != len(codes):
            raise ValueError("业务办理项 codes must be unique within the item")
        return self

    def dump(self) -> dict[str, Any]:
        """The canonical JSON form stored with the version (all keys present)."""
        return self.model_dump(mode="json", by_alias=True)


FIELDS: tuple[str, ...] = tuple(
    (info.alias or name) for name, info in MatterContent.model_fields.items()
)


class ContentError(ValueError):
    """Content does not fit the element model; ``errors`` lists field and message."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


def parse_content(raw: Any) -> MatterContent:
    """Validate raw JSON into ``MatterContent``; raise ``ContentError`` listing fields."""
    if not isinstance(raw, dict):
        raise ContentError([{"field": "content", "message": "must be a JSON object"}])
    try:
        return MatterContent.model_validate(raw)
    except ValidationError as exc:
        raise ContentError(
            [
                {
                    "field": ".".join(str(p) for p in err["loc"]) or "content",
                    "message": err["msg"],
                }
                for err in exc.errors()
            ]
        ) from exc
