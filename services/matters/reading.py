"""Reads every channel shares (同源发布): the published 办事指南, 情形引导, due dates, search."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import case, func, null, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession

from services.matters.calendar import MattersCalendar
from services.matters.catalog import check_code, load_matter
from services.matters.domain.access import division_prefix
from services.matters.domain.guide import (
    GuideAnswersError,
    GuideDefinitionError,
    evaluate_guide,
)
from services.matters.domain.search_text import query_terms
from services.matters.store import repository as repo
from services.matters.store.tables import Matter, MatterVersion, SearchDoc, SearchTerm
from services.runtime.problems import Problem

SHANGHAI = ZoneInfo("Asia/Shanghai")


def version_meta(matter: Matter, version: MatterVersion) -> dict[str, Any]:
    return {
        "implementation_code": matter.implementation_code,
        "version": version.version,
        "status": version.status,
        "origin": matter.origin,
        "source": version.source,
        "published_at": version.published_at,
        "etag": version.etag,
    }


def guide_view(matter: Matter, version: MatterVersion) -> dict[str, Any]:
    """The 办事指南 of one version: metadata and every element."""
    return {**version_meta(matter, version), **version.content}


async def published(session: AsyncSession, raw_code: str) -> tuple[Matter, MatterVersion]:
    """The version every channel shows; 404 before the first publication, 410 withdrawn."""
    matter = await load_matter(session, raw_code)
    if matter.published_version is None:
        raise Problem(404, "the item has no published version", code="matter-not-published")
    version = await repo.get_version(session, matter.implementation_code, matter.published_version)
    assert version is not None
    if matter.withdrawn:
        raise Problem(410, "the item has been withdrawn (已撤销)", code="matter-withdrawn")
    return matter, version


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or any(t.removeprefix("W/").strip('"') == etag for t in tags)


# -- 情形引导 ------------------------------------------------------------------------------


async def run_guide(session: AsyncSession, raw_code: str, answers: Any) -> dict[str, Any]:
    _matter, version = await published(session, raw_code)
    definition = version.content.get("guide")
    if not definition:
        raise Problem(404, "this matter has no 情形引导", code="guide-not-found")
    try:
        result = evaluate_guide(definition, answers)
    except GuideAnswersError as exc:
        raise Problem(
            422,
            "the answers do not fit the guide's questions: " + str(exc)[:300],
            code="invalid-answers",
            errors=exc.errors,
        ) from exc
    except GuideDefinitionError as exc:
        raise Problem(
            422,
            "the guide could not evaluate these answers: " + str(exc)[:300],
            code="guide-evaluation-failed",
        ) from exc
    return result.to_dict()


async def guide_questions(session: AsyncSession, raw_code: str) -> dict[str, Any]:
    matter, version = await published(session, raw_code)
    definition = version.content.get("guide")
    if not definition:
        raise Problem(404, "this matter has no 情形引导", code="guide-not-found")
    return {
        "implementation_code": matter.implementation_code,
        "version": version.version,
        "questions": definition["questions"],
    }


# -- 办结时限 -------------------------------------------------------------------------------


def _local_day(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=SHANGHAI)  # a portal's wall-clock time
    return moment.astimezone(SHANGHAI).date()


async def due_dates(
    session: AsyncSession,
    calendars: MattersCalendar,
    raw_code: str,
    accepted_at: datetime,
    special_procedure_days: int,
) -> dict[str, Any]:
    """Commitment and legal due dates in working days from the acceptance day.

    Time spent in 特别程序 is not counted: the caller passes the working days they took and
    both due dates move by that much. A date counted over days of a year without an
    official holiday schedule is ``provisional`` (暂定).
    """
    matter, version = await published(session, raw_code)
    content = version.content
    start = _local_day(accepted_at)
    if not 2000 <= start.year <= 2199:  # a deadline is counted for a real 受理 day
        raise Problem(
            422, "accepted_at must be between 2000 and 2199", code="accepted-at-out-of-range"
        )
    calendar = await calendars.current(session)
    provisional = False

    def due(limit: int | None) -> str | None:
        nonlocal provisional
        if limit is None:
            return None
        result = calendar.due_date(start, limit + special_procedure_days)
        provisional = provisional or result.provisional
        return result.day.isoformat()

    promised, statutory = (
        due(content.get("promised_limit_days")),
        due(content.get("statutory_limit_days")),
    )
    return {
        "implementation_code": matter.implementation_code,
        "version": version.version,
        "accepted_on": start.isoformat(),
        "promised_limit_days": content.get("promised_limit_days"),
        "statutory_limit_days": content.get("statutory_limit_days"),
        "special_procedure_days": special_procedure_days,
        "promised_due": promised,
        "statutory_due": statutory,
        "special_procedures": content.get("special_procedures") or [],
        "unit": "working_days",
        "provisional": provisional,
    }


# -- search -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchFilters:
    matter_type: str | None = None
    level: str | None = None
    department: str | None = None
    division: str | None = None
    service_object: str | None = None
    online: bool | None = None

    def any(self) -> bool:
        return any(v is not None for v in vars(self).values())


def _filtered(stmt: Any, f: SearchFilters) -> Any:
    if f.matter_type:
        stmt = stmt.where(SearchDoc.matter_type == f.matter_type)
    if f.level:
        stmt = stmt.where(SearchDoc.level == f.level)
    if f.department:
        stmt = stmt.where(
            (SearchDoc.department == f.department) | (SearchDoc.department_uscc == f.department)
        )
    if f.division:
        stmt = stmt.where(SearchDoc.division_code.like(division_prefix(f.division) + "%"))
    if f.service_object:
        stmt = stmt.where(SearchDoc.service_objects.like(f"%|{f.service_object}|%"))
    if f.online is not None:
        stmt = stmt.where(SearchDoc.online == f.online)
    return stmt


def _item(doc: SearchDoc, score: int | None) -> dict[str, Any]:
    return {
        "implementation_code": doc.implementation_code,
        "name": doc.name,
        "department": doc.department,
        "department_uscc": doc.department_uscc,
        "type": doc.matter_type,
        "level": doc.level,
        "division_code": doc.division_code,
        "service_objects": [s for s in doc.service_objects.split("|") if s],
        "online": doc.online,
        "promised_limit_days": doc.promised_limit_days,
        "version": doc.version,
        "score": score,
    }


async def search(
    session: AsyncSession, q: str, filters: SearchFilters, limit: int, offset: int
) -> dict[str, Any]:
    """Ranked by how many query terms an item matches, then by the weight of the matches
    (an exact term counts double a prefix), then by code (stable paging)."""
    terms = query_terms(q)
    if not terms and not filters.any():
        raise Problem(422, "give a search text q or at least one filter", code="empty-query")
    if terms:
        per_term = [
            select(
                SearchTerm.implementation_code.label("code"),
                func.max(
                    case((SearchTerm.term == t, SearchTerm.weight * 2), else_=SearchTerm.weight)
                ).label("score"),
            )
            .where(SearchTerm.term.like(t + "%"))
            .group_by(SearchTerm.implementation_code)
            for t in terms
        ]
        hits = union_all(*per_term).subquery("hits")
        ranked = (
            select(
                hits.c.code,
                func.sum(hits.c.score).label("score"),
                func.count().label("matched"),
            )
            .group_by(hits.c.code)
            .subquery("ranked")
        )
        order = (ranked.c.matched.desc(), ranked.c.score.desc(), ranked.c.code)
        if not filters.any():
            # Rank on the term index alone and join only the page: with a broad word the
            # candidates run into the hundred thousands.
            page = select(ranked).order_by(*order).limit(limit + 1).offset(offset).subquery("page")
            stmt = (
                select(SearchDoc, page.c.score, page.c.matched)
                .join(page, page.c.code == SearchDoc.implementation_code)
                .order_by(page.c.matched.desc(), page.c.score.desc(), page.c.code)
            )
            rows = (await session.execute(stmt)).all()
            return _page(q, terms, rows, limit, offset)
        stmt = select(SearchDoc, ranked.c.score, ranked.c.matched).join(
            ranked, ranked.c.code == SearchDoc.implementation_code
        )
        stmt = _filtered(stmt, filters).order_by(*order)
    else:
        stmt = _filtered(select(SearchDoc, null(), null()), filters).order_by(
            SearchDoc.name, SearchDoc.implementation_code
        )
    rows = (await session.execute(stmt.limit(limit + 1).offset(offset))).all()
    return _page(q, terms, rows, limit, offset)


def _page(q: str, terms: list[str], rows: Any, limit: int, offset: int) -> dict[str, Any]:
    items = [_item(row[0], int(row[1]) if row[1] is not None else None) for row in rows[:limit]]
    return {
        "query": q,
        "terms": terms,
        "items": items,
        "next_offset": offset + limit if len(rows) > limit else None,
    }


def check_code_param(raw: str) -> str:
    return check_code(raw).code
