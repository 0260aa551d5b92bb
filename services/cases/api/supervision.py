"""电子监察 lists for staff of the handling org: ``/v1/supervision/warnings`` and the
provisional due dates ``/v1/supervision/provisional``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from services.cases import progress
from services.cases.api.deps import CasesReader
from services.cases.domain.supervision import WARNING_KINDS
from services.runtime.deps import ReadSession

WarningKind = Literal[WARNING_KINDS]  # type: ignore[valid-type]

router = APIRouter(prefix="/v1/supervision", tags=["supervision"])


@router.get("/warnings", summary="Warnings on the caller's org's cases, newest first")
async def warnings(
    principal: CasesReader,
    session: ReadSession,
    level: Literal["yellow", "red"] | None = None,
    status: Literal["open", "closed"] | None = None,
    kind: WarningKind | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=progress.MAX_PAGE)] = 20,
) -> dict[str, Any]:
    return await progress.org_warnings(
        session, principal, level=level, status=status, kind=kind, cursor=cursor, limit=limit
    )


@router.get(
    "/provisional",
    summary="The caller's org's cases whose due dates are provisional (no official calendar yet)",
)
async def provisional(
    principal: CasesReader,
    session: ReadSession,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=progress.MAX_PAGE)] = 20,
) -> dict[str, Any]:
    return await progress.org_provisional(session, principal, cursor=cursor, limit=limit)
