"""Tables of the cases service (its own database; no other service reads them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Date, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.runtime.db import UTCDateTime, make_base

Base = make_base()


class CaseRow(Base):
    """办件: the canonical record, derived from its history (``case_events``)."""

    __tablename__ = "cases"

    case_no: Mapped[str] = mapped_column(String(43), primary_key=True)
    implementation_code: Mapped[str] = mapped_column(String(31), index=True)
    matter_name: Mapped[str | None] = mapped_column(String(300))
    matter_version: Mapped[int | None] = mapped_column(Integer)
    case_type: Mapped[str | None] = mapped_column(String(1))
    stage: Mapped[str | None] = mapped_column(String(32))
    accepted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Applicant: natural persons by blind index of the ID number, legal persons by USCC.
    applicant_type: Mapped[str | None] = mapped_column(String(10))
    applicant_id_type: Mapped[str | None] = mapped_column(String(40))
    applicant_id_enc: Mapped[str | None] = mapped_column(Text)
    applicant_id_ref: Mapped[str | None] = mapped_column(String(128), index=True)
    applicant_name_enc: Mapped[str | None] = mapped_column(Text)
    applicant_name_masked: Mapped[str | None] = mapped_column(String(200))
    handler_org_uscc: Mapped[str | None] = mapped_column(String(18), index=True)
    handler_department: Mapped[str | None] = mapped_column(String(200))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    concluded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    stage_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_event_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promised_limit_days: Mapped[int | None] = mapped_column(Integer)
    statutory_limit_days: Mapped[int | None] = mapped_column(Integer)
    # 特别程序 time limit of the matter (working days; None: the configured default).
    special_procedure_limit_days: Mapped[int | None] = mapped_column(Integer)
    limit_days: Mapped[int | None] = mapped_column(Integer)
    due_date: Mapped[date | None] = mapped_column(Date)
    statutory_due_date: Mapped[date | None] = mapped_column(Date)
    yellow_on: Mapped[date | None] = mapped_column(Date)
    red_on: Mapped[date | None] = mapped_column(Date)
    step_due_date: Mapped[date | None] = mapped_column(Date)
    paused: Mapped[bool] = mapped_column(Boolean, default=False)
    paused_working_days: Mapped[int] = mapped_column(Integer, default=0)
    # 暂定: the dates above were counted over days without an official holiday schedule;
    # recomputed when the schedule is loaded (hub.calendar.year_loaded).
    due_date_provisional: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    decision: Mapped[str | None] = mapped_column(String(20))
    certificate_type: Mapped[str | None] = mapped_column(String(100))
    certificate_data_enc: Mapped[str | None] = mapped_column(Text)
    anomaly_count: Mapped[int] = mapped_column(Integer, default=0)
    # Facts already published, so each is told once whatever the arrival order.
    published: Mapped[list[str]] = mapped_column(JSON, default=list)
    supervision_due: Mapped[date | None] = mapped_column(Date, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CaseEventRow(Base):
    """全程留痕: one reported step, as received (without the applicant in clear)."""

    __tablename__ = "case_events"
    __table_args__ = (
        UniqueConstraint("case_no", "source_system", "event_id", name="uq_case_events_source"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(43), index=True)
    source_system: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(64))
    cloud_event_id: Mapped[str | None] = mapped_column(String(100))
    stage: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    seq: Mapped[int | None] = mapped_column(Integer)
    channel: Mapped[str | None] = mapped_column(String(32))
    case_type: Mapped[str | None] = mapped_column(String(1))
    handler_org_uscc: Mapped[str | None] = mapped_column(String(18))
    handler_department: Mapped[str | None] = mapped_column(String(200))
    handler_staff_no: Mapped[str | None] = mapped_column(String(64))
    decision: Mapped[str | None] = mapped_column(String(20))
    certificate_type: Mapped[str | None] = mapped_column(String(100))
    certificate_data_enc: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    applicant_type: Mapped[str | None] = mapped_column(String(10))
    applicant_id_type: Mapped[str | None] = mapped_column(String(40))
    applicant_id_enc: Mapped[str | None] = mapped_column(Text)
    applicant_id_ref: Mapped[str | None] = mapped_column(String(128))
    applicant_name_enc: Mapped[str | None] = mapped_column(Text)
    applicant_name_masked: Mapped[str | None] = mapped_column(String(200))
    applied: Mapped[bool] = mapped_column(Boolean, default=True)
    anomaly: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WarningRow(Base):
    """电子监察预警: raised once per (case, kind, scope); closed when the case closes."""

    __tablename__ = "case_warnings"
    __table_args__ = (
        UniqueConstraint("case_no", "kind", "scope", name="uq_case_warnings_once"),
        Index("ix_case_warnings_org_level", "org_uscc", "level", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_no: Mapped[str] = mapped_column(String(43), index=True)
    org_uscc: Mapped[str | None] = mapped_column(String(18))
    kind: Mapped[str] = mapped_column(String(40))
    scope: Mapped[str] = mapped_column(String(200))
    level: Mapped[str] = mapped_column(String(10))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class MatterReplica(Base):
    """The published 事项 this service needs (fed by ``hub.matter.*``)."""

    __tablename__ = "matter_replicas"

    implementation_code: Mapped[str] = mapped_column(String(31), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20))
    department_name: Mapped[str | None] = mapped_column(String(200))
    department_uscc: Mapped[str | None] = mapped_column(String(18))
    division_code: Mapped[str | None] = mapped_column(String(12))
    statutory_limit_days: Mapped[int | None] = mapped_column(Integer)
    promised_limit_days: Mapped[int | None] = mapped_column(Integer)
    special_procedure_limit_days: Mapped[int | None] = mapped_column(Integer)
    certificate_type: Mapped[str | None] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ParkedEvent(Base):
    """An event for a matter not (yet) published here: kept until the matter arrives."""

    __tablename__ = "parked_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    implementation_code: Mapped[str] = mapped_column(String(31), index=True)
    case_no: Mapped[str] = mapped_column(String(43))
    cloud_event_id: Mapped[str] = mapped_column(String(100))
    # The whole canonical event, encrypted: it carries the applicant's ID number.
    data_enc: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(200))
    parked_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CalendarYearRow(Base):
    """An official holiday schedule (放假安排) as the matters service published it."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holidays: Mapped[list[str]] = mapped_column(JSON)
    workdays: Mapped[list[str]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime)
