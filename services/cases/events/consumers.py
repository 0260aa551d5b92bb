"""Consumers of the cases service: 办件 events from the gateway, 事项 and official holiday
schedules from matters."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.cases.casework import Casework
from services.runtime.app import Hub
from services.runtime.messaging import Envelope

CASE_EVENT = "hub.case.event.received"
MATTER_EVENTS = ["hub.matter.published", "hub.matter.withdrawn"]
INTAKE_GROUP = "cases-intake"
MATTERS_GROUP = "cases-matters"
CALENDAR_EVENT = "hub.calendar.year_loaded"
CALENDAR_GROUP = "cases-calendar"


def register(hub: Hub, casework: Casework) -> None:
    async def on_case_event(session: AsyncSession, event: Envelope) -> None:
        await casework.receive(session, event.data, cloud_event_id=event.id)

    async def on_matter(session: AsyncSession, event: Envelope) -> None:
        await casework.matter_event(session, event.type, event.data)

    async def on_calendar(session: AsyncSession, event: Envelope) -> None:
        await casework.calendar_loaded(session, event.data)

    hub.messaging.consume(INTAKE_GROUP, ["hub.cases"], on_case_event, event_types=[CASE_EVENT])
    hub.messaging.consume(MATTERS_GROUP, ["hub.matters"], on_matter, event_types=MATTER_EVENTS)
    hub.messaging.consume(
        CALENDAR_GROUP, ["hub.matters"], on_calendar, event_types=[CALENDAR_EVENT]
    )
