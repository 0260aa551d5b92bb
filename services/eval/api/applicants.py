"""The applicant's side: invitations, ratings, 追评, rating the rectification (≥ L3)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from services.eval.api.deps import Applicant, ContextDep
from services.eval.api.schemas import (
    EvaluationIn,
    FollowUpIn,
    InvitationList,
    MyEvaluation,
    MyEvaluationList,
    Rectification,
    RectificationRatingIn,
    problems,
)
from services.eval.service import invitations, rating
from services.eval.service.handling import rectification_view
from services.runtime.deps import DbDep, ReadSession

router = APIRouter(prefix="/v1", tags=["applicants"])
EvaluationId = Annotated[str, Path(pattern=r"^[0-9a-f]{32}$", description="评价 id")]


def _mine(ev: Any, state: str | None = None) -> dict[str, Any]:
    return rating.public_view(ev) | {
        "named": ev.named,
        "rectification_state": state,
        "rectification_rating": None,
    }


@router.get(
    "/me/invitations",
    response_model=InvitationList,
    responses=problems(401, 403),
    summary="The caller's 办件 to rate (natural person by ID, legal person and its agents)",
)
async def my_invitations(principal: Applicant, session: ReadSession) -> dict[str, Any]:
    return {"items": await invitations.my_invitations(session, principal)}


@router.get(
    "/me/evaluations",
    response_model=MyEvaluationList,
    responses=problems(401, 403),
    summary="The caller's ratings with the state of their 差评 handling",
)
async def my_evaluations(principal: Applicant, session: ReadSession) -> dict[str, Any]:
    return {"items": await rating.my_evaluations(session, principal)}


@router.post(
    "/evaluations",
    response_model=MyEvaluation,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422),
    summary="Rate a 办件 of the caller's (one rating per channel)",
)
async def submit(
    body: EvaluationIn, principal: Applicant, ctx: ContextDep, db: DbDep
) -> dict[str, Any]:
    ev = await rating.submit(
        ctx,
        db,
        principal,
        case_no=body.case_no,
        channel=body.channel,
        level=body.level,
        indicators=body.indicators,
        categories=body.categories,
        comment=body.comment,
        anonymous=body.anonymous,
        contact_phone=body.contact_phone,
    )
    return _mine(ev, "reported" if ev.is_bad else None)


@router.post(
    "/evaluations/{evaluation_id}/follow-up",
    response_model=MyEvaluation,
    responses=problems(401, 403, 404, 409, 422),
    summary="追评: one additional comment within the window",
)
async def follow_up(
    evaluation_id: EvaluationId,
    body: FollowUpIn,
    principal: Applicant,
    ctx: ContextDep,
    db: DbDep,
) -> dict[str, Any]:
    return _mine(await rating.follow_up(ctx, db, principal, evaluation_id, body.comment))


@router.post(
    "/evaluations/{evaluation_id}/rectification-rating",
    response_model=Rectification,
    responses=problems(401, 403, 404, 409, 422),
    summary="The evaluator rates how the 差评 was rectified",
)
async def rate_rectification(
    evaluation_id: EvaluationId,
    body: RectificationRatingIn,
    principal: Applicant,
    ctx: ContextDep,
    db: DbDep,
) -> dict[str, Any]:
    row = await rating.rate_rectification(ctx, db, principal, evaluation_id, body.level)
    return rectification_view(row)
