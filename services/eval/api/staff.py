"""Staff: 差评 handling (核实, 整改, 回访, 申诉, review), the contact for the 回访, warnings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, status

from services.eval.api.deps import ContextDep, Staff
from services.eval.api.schemas import (
    Contact,
    Evaluation,
    HotlineEvaluationIn,
    RectificationDetail,
    RectificationList,
    StepIn,
    WarningList,
    problems,
)
from services.eval.service import handling, hotline, rating
from services.runtime.deps import DbDep, ReadSession

router = APIRouter(prefix="/v1", tags=["staff"])
RectificationId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="整改 id")]
StateQ = Literal["reported", "rectifying", "return_visit", "closed", "appealed", "appeal_upheld"]


@router.get(
    "/rectifications",
    response_model=RectificationList,
    responses=problems(401, 403, 422),
    summary="The 差评 of the caller's org (reviewers: all), no evaluator identity",
)
async def listing(
    staff: Staff, session: ReadSession, state: Annotated[StateQ | None, Query()] = None
) -> dict[str, Any]:
    return {"items": await handling.listing(session, staff, state)}


@router.get(
    "/rectifications/{rectification_id}",
    response_model=RectificationDetail,
    responses=problems(401, 403, 404),
    summary="One 差评 with the rating (no evaluator identity) and every step",
)
async def detail(
    rectification_id: RectificationId, staff: Staff, session: ReadSession
) -> dict[str, Any]:
    return await handling.detail(session, staff, rectification_id)


@router.post(
    "/rectifications/{rectification_id}/steps",
    response_model=RectificationDetail,
    responses=problems(401, 403, 404, 409, 422),
    summary="核实, 整改, 回访, 申诉 (handlers) or uphold/reject an appeal (reviewers)",
)
async def step(
    rectification_id: RectificationId,
    body: StepIn,
    staff: Staff,
    ctx: ContextDep,
    db: DbDep,
    session: ReadSession,
) -> dict[str, Any]:
    await handling.step(ctx, db, staff, rectification_id, body.action, body.notes, body.evidence)
    return await handling.detail(session, staff, rectification_id)


@router.get(
    "/rectifications/{rectification_id}/contact",
    response_model=Contact,
    responses=problems(401, 403, 404, 409),
    summary="The contact of a 实名差评 for the return visit (eval-rectifier; audited)",
)
async def contact(
    rectification_id: RectificationId, staff: Staff, ctx: ContextDep, db: DbDep
) -> dict[str, Any]:
    return await handling.contact(ctx, db, staff, rectification_id)


@router.get(
    "/warnings",
    response_model=WarningList,
    responses=problems(401, 403),
    summary="Overdue steps (预警) of the caller's org (reviewers: all)",
)
async def warnings(staff: Staff, session: ReadSession) -> dict[str, Any]:
    return {"items": await handling.warnings(session, staff)}


@router.post(
    "/hotline-evaluations",
    response_model=Evaluation,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422),
    summary="12345: a rating the operator enters on the applicant's behalf (hotline-operator)",
)
async def hotline_evaluation(
    body: HotlineEvaluationIn, staff: Staff, ctx: ContextDep, db: DbDep
) -> dict[str, Any]:
    ev = await hotline.enter(
        ctx,
        db,
        staff,
        case_no=body.case_no,
        applicant_type=body.applicant_type,
        applicant_id=body.applicant_id,
        level=body.level,
        indicators=body.indicators,
        categories=body.categories,
        comment=body.comment,
        anonymous=body.anonymous,
        contact_phone=body.contact_phone,
    )
    return rating.public_view(ev)
