"""Tables of the matters service (its own database; no other service reads them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.runtime.db import UTCDateTime, make_base, utcnow

Base = make_base()

_BigId = BigInteger().with_variant(Integer(), "sqlite")


class BaseItem(Base):
    """基本目录事项: defined once (province); implementation items refer to it."""

    __tablename__ = "base_items"

    base_code: Mapped[str] = mapped_column(String(20), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    matter_type: Mapped[str | None] = mapped_column(String(20))
    level: Mapped[str | None] = mapped_column(String(10))
    legal_basis: Mapped[list[Any]] = mapped_column(JSON, default=list)
    origin: Mapped[str] = mapped_column(String(20), default="local")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class BaseItemVersion(Base):
    """Every change of a base item is a new version (with its field-level diff)."""

    __tablename__ = "base_item_versions"
    __table_args__ = (UniqueConstraint("base_code", "version"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    base_code: Mapped[str] = mapped_column(ForeignKey("base_items.base_code"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    diff: Mapped[list[Any]] = mapped_column(JSON, default=list)
    source: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Matter(Base):
    """实施清单事项: one implementation item (its versions are in ``matter_versions``)."""

    __tablename__ = "matters"

    implementation_code: Mapped[str] = mapped_column(String(31), primary_key=True)
    org_uscc: Mapped[str] = mapped_column(String(18), index=True)
    division_code: Mapped[str | None] = mapped_column(String(12), index=True)
    base_code: Mapped[str | None] = mapped_column(String(20), index=True)
    origin: Mapped[str] = mapped_column(String(20), default="local")  # local | province
    head_version: Mapped[int] = mapped_column(Integer, default=0)
    published_version: Mapped[int | None] = mapped_column(Integer)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last content the province sent: the baseline that tells 二次统筹 edits apart.
    province_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    province_seq: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class MatterVersion(Base):
    """One version of an item; published, superseded and withdrawn ones never change."""

    __tablename__ = "matter_versions"
    __table_args__ = (UniqueConstraint("implementation_code", "version"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    implementation_code: Mapped[str] = mapped_column(
        ForeignKey("matters.implementation_code"), index=True
    )
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20), index=True)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    diff: Mapped[list[Any]] = mapped_column(JSON, default=list)
    based_on: Mapped[int | None] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(20), default="local")  # local|province|import
    edited_by: Mapped[str | None] = mapped_column(String(100))
    edited_by_org: Mapped[str | None] = mapped_column(String(18))
    submitted_by: Mapped[str | None] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    published_by: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SearchDoc(Base):
    """The published version of an item, flattened for search filters (检索文档)."""

    __tablename__ = "matter_search_docs"

    implementation_code: Mapped[str] = mapped_column(String(31), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    base_code: Mapped[str | None] = mapped_column(String(20))
    department: Mapped[str | None] = mapped_column(String(200), index=True)
    department_uscc: Mapped[str | None] = mapped_column(String(18))
    matter_type: Mapped[str | None] = mapped_column(String(20), index=True)
    level: Mapped[str | None] = mapped_column(String(10))
    division_code: Mapped[str | None] = mapped_column(String(12), index=True)
    service_objects: Mapped[str] = mapped_column(String(60), default="")  # "|自然人|法人|"
    online: Mapped[bool | None] = mapped_column(Boolean)
    promised_limit_days: Mapped[int | None] = mapped_column(Integer)


class SearchTerm(Base):
    """A weighted term of a published item; queried by prefix with plain SQL."""

    __tablename__ = "matter_search_terms"
    __table_args__ = (
        # Covering: a prefix scan on term answers (code, weight) from the index alone.
        Index(
            "ix_matter_search_terms_term",
            "term",
            "implementation_code",
            "weight",
            postgresql_ops={"term": "text_pattern_ops"},
        ),
    )

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    implementation_code: Mapped[str] = mapped_column(
        ForeignKey("matter_search_docs.implementation_code", ondelete="CASCADE"), index=True
    )
    term: Mapped[str] = mapped_column(String(100))
    weight: Mapped[int] = mapped_column(Integer)


class SyncState(Base):
    """Where the provincial feed was read up to; committed with the applied change."""

    __tablename__ = "sync_state"

    feed: Mapped[str] = mapped_column(String(50), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(String(200))
    applied: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SyncIssue(Base):
    """A provincial change operators must look at: a 二次统筹 conflict or a rejected change."""

    __tablename__ = "sync_issues"

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)  # conflict | rejected
    code: Mapped[str] = mapped_column(String(40), index=True)
    change_id: Mapped[str] = mapped_column(String(100))
    field: Mapped[str | None] = mapped_column(String(60))
    local_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    province_old: Mapped[Any] = mapped_column(JSON, nullable=True)
    province_new: Mapped[Any] = mapped_column(JSON, nullable=True)
    detail: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), default="open", index=True)
    resolution: Mapped[str | None] = mapped_column(String(20))
    resolved_by: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CalendarYear(Base):
    """An official holiday schedule (放假安排) of one year: the matters service owns the
    working-day calendar; the other services get it as ``hub.calendar.year_loaded``."""

    __tablename__ = "calendar_years"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holidays: Mapped[list[str]] = mapped_column(JSON)
    workdays: Mapped[list[str]] = mapped_column(JSON)
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime())
    loaded_by: Mapped[str | None] = mapped_column(String(100))
