"""Public reads (no token): search, the published 办事指南, 情形引导 and due dates."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from services.matters import reading
from services.matters.catalog import load_matter, load_version
from services.matters.domain.elements import LEVELS, MATTER_TYPES, SERVICE_OBJECTS
from services.runtime.deps import HubDep, ReadSession
from services.runtime.problems import Problem

router = APIRouter(prefix="/v1/matters", tags=["matters (public)"])


class GuideRequest(BaseModel):
    """情形引导 answers: question key → answer."""

    model_config = ConfigDict(extra="forbid")
    answers: dict[str, Any] = Field(default_factory=dict)


def _choice(value: str | None, allowed: tuple[str, ...], name: str) -> str | None:
    if value is not None and value not in allowed:
        raise Problem(
            422, f"{name} must be one of: {'、'.join(allowed)}", code="invalid-filter", field=name
        )
    return value


@router.get("/search", summary="Search published matters (Chinese words, 拼音 initials, codes)")
async def search(
    session: ReadSession,
    hub: HubDep,
    q: Annotated[str, Query(max_length=100)] = "",
    type: Annotated[str | None, Query(description="事项类型")] = None,
    level: Annotated[str | None, Query(description="行使层级")] = None,
    department: Annotated[str | None, Query(max_length=200, description="name or USCC")] = None,
    division: Annotated[str | None, Query(pattern=r"^\d{2,12}$", description="区划")] = None,
    service_object: Annotated[str | None, Query(description="服务对象")] = None,
    online: Annotated[bool | None, Query(description="是否网办")] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Annotated[int, Query(ge=0, le=10_000)] = 0,
) -> dict[str, Any]:
    filters = reading.SearchFilters(
        matter_type=_choice(type, MATTER_TYPES, "type"),
        level=_choice(level, LEVELS, "level"),
        department=department,
        division=division,
        service_object=_choice(service_object, SERVICE_OBJECTS, "service_object"),
        online=online,
    )
    return await reading.search(session, q, filters, limit, offset)


def _cached(request: Request, body: dict[str, Any], etag: str) -> Response:
    headers = {"ETag": f'"{etag}"', "Cache-Control": "public, max-age=60"}
    if reading.etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return JSONResponse(jsonable_encoder(body), headers=headers)


@router.get(
    "/{implementation_code}",
    summary="The published 办事指南 (one source for every channel; ETag / If-None-Match)",
)
async def read_published(
    implementation_code: str, session: ReadSession, request: Request
) -> Response:
    matter, version = await reading.published(session, implementation_code)
    return _cached(request, reading.guide_view(matter, version), version.etag)


@router.get(
    "/{implementation_code}/versions/{version}",
    summary="A published, superseded or withdrawn version (drafts are for staff)",
)
async def read_public_version(
    implementation_code: str,
    version: Annotated[int, Path(ge=1, le=1_000_000)],
    session: ReadSession,
    request: Request,
) -> Response:
    matter = await load_matter(session, implementation_code)
    row = await load_version(session, matter, version)
    if row.published_at is None:  # drafts and never-published versions are for staff
        raise Problem(404, f"version {version} is not public", code="version-not-found")
    return _cached(request, reading.guide_view(matter, row), row.etag)


@router.get("/{implementation_code}/guide", summary="The 情形引导 questions")
async def guide_questions(implementation_code: str, session: ReadSession) -> dict[str, Any]:
    return await reading.guide_questions(session, implementation_code)


@router.post(
    "/{implementation_code}/guide",
    summary="Evaluate 情形引导 answers → materials, 现场核查, 审查类别, 审查层级, violations",
)
async def guide(
    implementation_code: str, body: GuideRequest, session: ReadSession
) -> dict[str, Any]:
    return await reading.run_guide(session, implementation_code, body.answers)


@router.get("/{implementation_code}/due", summary="Commitment and legal due dates (working days)")
async def due(
    implementation_code: str,
    session: ReadSession,
    hub: HubDep,
    accepted_at: Annotated[datetime, Query(description="受理时间, ISO 8601")],
    special_procedure_days: Annotated[int, Query(ge=0, le=3650)] = 0,
) -> dict[str, Any]:
    return await reading.due_dates(
        session, hub.extras["calendar"], implementation_code, accepted_at, special_procedure_days
    )
