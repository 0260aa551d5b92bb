"""二维码评价: window staff issue a one-time code for a 办件; anyone holding it rates once."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from services.eval.api.deps import ContextDep, Staff
from services.eval.api.schemas import Evaluation, QrCode, QrEvaluationIn, problems
from services.eval.service import qr, rating
from services.runtime.deps import DbDep

router = APIRouter(prefix="/v1", tags=["qr"])
CaseNo = Annotated[str, Path(pattern=r"^[0-9A-Z]{43}$", description="办件编号")]


@router.post(
    "/invitations/{case_no}/qr-code",
    response_model=QrCode,
    status_code=status.HTTP_201_CREATED,
    responses=problems(401, 403, 404, 409, 422),
    summary="A one-time rating code for a 办件 of the caller's org (for the window receipt)",
)
async def issue(case_no: CaseNo, staff: Staff, ctx: ContextDep, db: DbDep) -> dict[str, Any]:
    return await qr.issue(ctx, db, staff, case_no)


@router.post(
    "/qr-evaluations",
    response_model=Evaluation,
    status_code=status.HTTP_201_CREATED,
    responses=problems(404, 409, 422),
    summary="Rate a 办件 with its one-time code (no login; works once)",
)
async def rate(body: QrEvaluationIn, ctx: ContextDep, db: DbDep) -> dict[str, Any]:
    ev = await qr.rate(
        ctx, db, body.code, body.level, body.indicators, body.categories, body.comment
    )
    return rating.public_view(ev)
