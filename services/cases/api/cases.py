"""Progress of 办件: ``/v1/cases/{case_no}`` and ``/v1/me/cases`` (gateway: /api/cases)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from contracts import case_stages
from services.cases import progress
from services.cases.api.deps import CasesReader, CaseworkDep
from services.runtime.deps import ReadSession

router = APIRouter(prefix="/v1", tags=["cases"])

# The wire names of the canonical event's schema (tests check the domain's Stage agrees).
StageName = Literal[case_stages()]  # type: ignore[valid-type]


@router.get("/cases/{case_no}", summary="One case with its stages and due dates")
async def get_case(
    case_no: Annotated[str, Path(max_length=64, description="办件编号 (43 characters)")],
    principal: CasesReader,
    session: ReadSession,
    casework: CaseworkDep,
) -> dict[str, Any]:
    return await progress.case_detail(session, casework, principal, case_no)


@router.get("/me/cases", summary="The caller's cases (applicant) or their org's (staff)")
async def my_cases(
    principal: CasesReader,
    session: ReadSession,
    stage: StageName | None = None,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    limit: Annotated[int, Query(ge=1, le=progress.MAX_PAGE)] = 20,
) -> dict[str, Any]:
    return await progress.my_cases(session, principal, stage=stage, cursor=cursor, limit=limit)
