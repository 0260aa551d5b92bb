"""Consumers of the eval service: 办结 and 不予受理 of ``hub.cases`` → invitations; official
holiday schedules of ``hub.matters`` → deadlines."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.eval.service import calendar, invitations
from services.eval.service.context import EvalContext
from services.runtime.app import Hub
from services.runtime.messaging import Envelope

CASE_CONCLUDED = "hub.case.concluded"
CASE_STATE_CHANGED = "hub.case.state.changed"
INVITATION_GROUP = "eval-invitations"
CALENDAR_EVENT = "hub.calendar.year_loaded"
CALENDAR_GROUP = "eval-calendar"


def register(hub: Hub, ctx: EvalContext) -> None:
    async def on_case(session: AsyncSession, event: Envelope) -> None:
        if event.type == CASE_CONCLUDED:
            await invitations.on_concluded(ctx, session, event.data)
        else:
            await invitations.on_state_changed(ctx, session, event.data)

    hub.messaging.consume(
        INVITATION_GROUP,
        ["hub.cases"],
        on_case,
        event_types=[CASE_CONCLUDED, CASE_STATE_CHANGED],
    )

    async def on_calendar(session: AsyncSession, event: Envelope) -> None:
        await calendar.year_loaded(ctx, session, event.data)

    hub.messaging.consume(
        CALENDAR_GROUP, ["hub.matters"], on_calendar, event_types=[CALENDAR_EVENT]
    )
