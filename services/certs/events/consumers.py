"""Consumers of the certs service: ``hub.case.concluded`` from cases → issuance."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.certs.service.context import CertsContext
from services.certs.service.issuance import from_concluded_case
from services.runtime.app import Hub
from services.runtime.messaging import Envelope

CASE_CONCLUDED = "hub.case.concluded"
ISSUANCE_GROUP = "certs-issuance"


def register(hub: Hub, ctx: CertsContext) -> None:
    async def on_concluded(session: AsyncSession, event: Envelope) -> None:
        await from_concluded_case(ctx, session, event.data)

    hub.messaging.consume(ISSUANCE_GROUP, ["hub.cases"], on_concluded, event_types=[CASE_CONCLUDED])
