"""Tables of the eval service (its own database; no other service reads them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.runtime.db import UTCDateTime, make_base

Base = make_base()


class InvitationRow(Base):
    """评价邀请: one per 办件, for its applicant (from ``case.concluded``/不予受理)."""

    __tablename__ = "invitations"
    __table_args__ = (Index("ix_invitations_applicant", "applicant_kind", "applicant_ref"),)

    case_no: Mapped[str] = mapped_column(String(43), primary_key=True)
    implementation_code: Mapped[str] = mapped_column(String(31))
    matter_name: Mapped[str | None] = mapped_column(String(200))
    org_uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    department: Mapped[str | None] = mapped_column(String(200))
    # natural: blind index of the 公民身份号码 (the token's id_ref); legal: the USCC.
    applicant_kind: Mapped[str] = mapped_column(String(10))
    applicant_ref: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(16))  # approved | denied | not_accepted
    ended_at: Mapped[datetime] = mapped_column(UTCDateTime)
    invited_at: Mapped[datetime] = mapped_column(UTCDateTime)
    default_due_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    window_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class EvaluationRow(Base):
    """评价: never edited by staff. The evaluator's identity stays here, out of staff views."""

    __tablename__ = "evaluations"
    __table_args__ = (
        UniqueConstraint("case_no", "channel", name="uq_evaluations_case_channel"),
        Index("ix_evaluations_evaluator", "evaluator_kind", "evaluator_ref"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_no: Mapped[str] = mapped_column(String(43), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)
    indicators: Mapped[dict[str, int]] = mapped_column(JSON)
    categories: Mapped[list[str]] = mapped_column(JSON)
    comment: Mapped[str | None] = mapped_column(Text)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    is_bad: Mapped[bool] = mapped_column(Boolean, default=False)
    named: Mapped[bool] = mapped_column(Boolean, default=False)  # 实名 (not anonymous)
    # Figures, kept with the rating so one table answers them.
    rectified: Mapped[bool] = mapped_column(Boolean, default=False)
    visited: Mapped[bool] = mapped_column(Boolean, default=False)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)  # 申诉成立
    implementation_code: Mapped[str] = mapped_column(String(31))
    matter_name: Mapped[str | None] = mapped_column(String(200))
    org_uscc: Mapped[str | None] = mapped_column(String(18))
    department: Mapped[str | None] = mapped_column(String(200))
    evaluator_kind: Mapped[str | None] = mapped_column(String(10))
    evaluator_ref: Mapped[str | None] = mapped_column(String(128))
    evaluator_sub: Mapped[str | None] = mapped_column(String(200))  # the agent when 代办
    contact_enc: Mapped[str | None] = mapped_column(Text)  # phone for the 回访, encrypted
    # The 12345 operator who entered the rating on the applicant's behalf (staff, not the
    # evaluator: shown to staff).
    entered_by: Mapped[str | None] = mapped_column(String(200))
    follow_up: Mapped[str | None] = mapped_column(Text)  # 追评
    follow_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    period: Mapped[str] = mapped_column(String(7), index=True)  # YYYY-MM, local time


class RectificationRow(Base):
    """差评整改: one per 差评."""

    __tablename__ = "rectifications"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    evaluation_id: Mapped[str] = mapped_column(String(32), unique=True)
    case_no: Mapped[str] = mapped_column(String(43))
    org_uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    state: Mapped[str] = mapped_column(String(16), index=True)
    verify_due: Mapped[date | None] = mapped_column(Date)
    rectify_due: Mapped[date | None] = mapped_column(Date)
    visit_due: Mapped[date | None] = mapped_column(Date)
    due_from: Mapped[date | None] = mapped_column(Date)  # the latest deadline counted from
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False, index=True)  # 暂定
    evidence: Mapped[list[str] | None] = mapped_column(JSON)  # 申诉 evidence
    evaluator_verdict: Mapped[int | None] = mapped_column(Integer)  # 对整改的评价
    evaluator_verdict_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class StepRow(Base):
    """One step of a rectification: actor, time and notes (append only)."""

    __tablename__ = "rectification_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rectification_id: Mapped[str] = mapped_column(String(32), index=True)
    action: Mapped[str] = mapped_column(String(20))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(200))
    actor_org: Mapped[str | None] = mapped_column(String(18))
    notes: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class WarningRow(Base):
    """预警: a step of a rectification past its deadline (电子监察), once per step."""

    __tablename__ = "eval_warnings"
    __table_args__ = (UniqueConstraint("rectification_id", "step", name="uq_eval_warnings_step"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rectification_id: Mapped[str] = mapped_column(String(32))
    org_uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    step: Mapped[str] = mapped_column(String(16))
    due: Mapped[date] = mapped_column(Date)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)


class IdentityAccessRow(Base):
    """Audit: every look at an evaluator's identity or contact (append only)."""

    __tablename__ = "identity_access"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    evaluation_id: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    actor_org: Mapped[str | None] = mapped_column(String(18))
    purpose: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class QrCodeRow(Base):
    """二维码评价: a signed one-time code for one 办件, printed on the window receipt."""

    __tablename__ = "qr_codes"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_no: Mapped[str] = mapped_column(String(43), index=True)
    issued_by: Mapped[str] = mapped_column(String(200))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    evaluation_id: Mapped[str | None] = mapped_column(String(32))


class CalendarYearRow(Base):
    """An official holiday schedule (放假安排) as the matters service published it."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holidays: Mapped[list[str]] = mapped_column(JSON)
    workdays: Mapped[list[str]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
