"""Public figures (GB/T 39735): no personal data, no login."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from services.eval.api.schemas import Figures, problems
from services.eval.service import statistics
from services.runtime.deps import ReadSession

router = APIRouter(prefix="/v1", tags=["statistics"])
ChannelQ = Literal["pc", "app", "h5", "sms", "qr", "window", "kiosk", "hotline_12345", "default"]
Period = Annotated[str | None, Query(pattern=r"^20[0-9]{2}-(0[1-9]|1[0-2])$")]


@router.get(
    "/statistics",
    response_model=Figures,
    responses=problems(422),
    summary="满意率, 差评率, 差评整改率, 实名差评回访率, 主动评价率 by group and period",
)
async def figures(
    session: ReadSession,
    group_by: Annotated[
        Literal["org", "department", "matter", "channel", "period"], Query()
    ] = "org",
    period_from: Period = None,
    period_to: Period = None,
    org: Annotated[str | None, Query(pattern=r"^[0-9A-Z]{18}$")] = None,
    matter: Annotated[str | None, Query(pattern=r"^[0-9A-Z]{31}$")] = None,
    channel: Annotated[ChannelQ | None, Query()] = None,
) -> dict[str, Any]:
    filters = {k: v for k, v in (("org", org), ("matter", matter), ("channel", channel)) if v}
    groups = await statistics.figures(session, group_by, period_from, period_to, filters)
    return {
        "group_by": group_by,
        "period_from": period_from,
        "period_to": period_to,
        "groups": groups,
    }
