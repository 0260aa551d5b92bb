"""Request and response models of the eval API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CaseNo = Field(pattern=r"^[0-9A-Z]{43}$", description="办件编号 (43)")
# Free text: no control characters but line breaks and tabs (PostgreSQL refuses NUL).
TEXT = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"
Text = Annotated[str, Field(pattern=TEXT)]
ChannelIn = Literal["pc", "app", "h5", "sms", "qr", "window", "kiosk", "hotline_12345"]


class EvaluationIn(BaseModel):
    """一事一评 by the 办件's applicant."""

    model_config = ConfigDict(extra="forbid")

    case_no: str = CaseNo
    channel: ChannelIn
    level: int = Field(ge=1, le=5, description="5 非常满意 … 1 非常不满意")
    indicators: dict[str, int] = Field(
        default_factory=dict, max_length=8, description="GB/T 39734 content indicators, 1 … 5"
    )
    categories: list[str] = Field(
        default_factory=list, max_length=7, description="差评 categories (levels 1–2)"
    )
    comment: str | None = Field(default=None, max_length=1000, pattern=TEXT)
    anonymous: bool = Field(default=False, description="匿名: no return visit, no contact kept")
    contact_phone: str | None = Field(
        default=None, pattern=r"^1[3-9][0-9]{9}$", description="for the 回访 of a 实名差评"
    )


class FollowUpIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(min_length=1, max_length=1000, pattern=TEXT)


class RectificationRatingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    level: int = Field(ge=1, le=5)


class StepIn(BaseModel):
    """One step of the 差评 handling."""

    model_config = ConfigDict(extra="forbid")
    action: Literal["verify", "rectify", "return_visit", "appeal", "uphold", "reject"]
    notes: str | None = Field(default=None, max_length=2000, pattern=TEXT)
    evidence: list[Annotated[Text, Field(max_length=2000)]] | None = Field(
        default=None, max_length=20, description="申诉 evidence (references, texts)"
    )


class Invitation(BaseModel):
    case_no: str
    implementation_code: str
    matter_name: str | None
    org_uscc: str | None
    department: str | None
    outcome: str
    ended_at: dt.datetime
    rate_until: dt.datetime
    open: bool
    rated_channels: list[str]


class InvitationList(BaseModel):
    items: list[Invitation]


class Evaluation(BaseModel):
    """A rating with no evaluator identity."""

    id: str
    case_no: str
    implementation_code: str
    matter_name: str | None
    org_uscc: str | None
    department: str | None
    channel: str
    level: int
    indicators: dict[str, int]
    categories: list[str]
    comment: str | None
    follow_up: str | None
    is_default: bool
    is_bad: bool
    excluded: bool
    entered_by: str | None = Field(description="the 12345 operator who entered it, if one did")
    submitted_at: dt.datetime


class MyEvaluation(Evaluation):
    named: bool
    rectification_state: str | None
    rectification_rating: int | None


class MyEvaluationList(BaseModel):
    items: list[MyEvaluation]


class StaffEvaluation(Evaluation):
    named: bool = Field(description="实名 (a contact was left for the 回访), not who")


class Step(BaseModel):
    action: str
    from_state: str | None
    to_state: str
    actor: str
    actor_org: str | None
    notes: str | None
    at: dt.datetime


class Rectification(BaseModel):
    id: str
    evaluation_id: str
    case_no: str
    org_uscc: str | None
    state: str
    verify_due: dt.date | None
    rectify_due: dt.date | None
    visit_due: dt.date | None
    due_provisional: bool = Field(
        description="暂定: the latest deadline was counted over days no official holiday "
        "schedule covers yet; recounted when it is loaded"
    )
    evidence: list[str] | None
    rectification_rating: int | None
    created_at: dt.datetime
    updated_at: dt.datetime


class RectificationDetail(Rectification):
    evaluation: StaffEvaluation
    steps: list[Step]


class RectificationList(BaseModel):
    items: list[Rectification]


class Contact(BaseModel):
    rectification_id: str
    phone: str


class WarningOut(BaseModel):
    id: int
    rectification_id: str
    org_uscc: str | None
    step: str
    due: dt.date
    raised_at: dt.datetime


class WarningList(BaseModel):
    items: list[WarningOut]


class FigureCounts(BaseModel):
    total: int
    satisfied: int
    bad: int
    bad_rectified: int
    named_bad: int
    named_bad_visited: int
    proactive: int


class FigureGroup(BaseModel):
    key: str | None
    counts: FigureCounts
    satisfaction_rate: float | None = Field(description="满意率: levels 3–5 / all")
    bad_rate: float | None = Field(description="差评率: levels 1–2 / all")
    rectification_rate: float | None = Field(description="差评整改率")
    return_visit_rate: float | None = Field(description="实名差评回访率")
    proactive_rate: float | None = Field(description="主动评价率: not default / all")


class Figures(BaseModel):
    group_by: str
    period_from: str | None
    period_to: str | None
    groups: list[FigureGroup]


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problem+json answers a route may give."""
    return {
        s: {
            "description": "Problem details (RFC 9457)",
            "content": {"application/problem+json": {}},
        }
        for s in statuses
    }


class QrCode(BaseModel):
    case_no: str
    code: str = Field(description="signed one-time code, printed as a QR code on the receipt")
    valid_until: dt.datetime


class QrEvaluationIn(BaseModel):
    """二维码评价: no login; the code names the 办件 and works once."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=10, max_length=200)
    level: int = Field(ge=1, le=5, description="5 非常满意 … 1 非常不满意")
    indicators: dict[str, int] = Field(default_factory=dict, max_length=8)
    categories: list[str] = Field(default_factory=list, max_length=7)
    comment: str | None = Field(default=None, max_length=1000, pattern=TEXT)


class HotlineEvaluationIn(BaseModel):
    """A rating the 12345 operator enters on the applicant's behalf (recorded as such)."""

    model_config = ConfigDict(extra="forbid")

    case_no: str = CaseNo
    applicant_type: Literal["natural", "legal"]
    applicant_id: str = Field(
        pattern=r"^[0-9A-Z]{18}$", description="公民身份号码 or USCC the caller gave; not stored"
    )
    level: int = Field(ge=1, le=5, description="5 非常满意 … 1 非常不满意")
    indicators: dict[str, int] = Field(default_factory=dict, max_length=8)
    categories: list[str] = Field(default_factory=list, max_length=7)
    comment: str | None = Field(default=None, max_length=1000, pattern=TEXT)
    anonymous: bool = False
    contact_phone: str | None = Field(default=None, pattern=r"^1[3-9][0-9]{9}$")
