"""A migrated cases app on its own PostgreSQL database, and helpers to drive it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from services.cases.app import create_app
from services.cases.casework import Casework, Outcome
from services.cases.settings import CasesSettings
from services.runtime.app import Hub
from services.runtime.messaging.tables import outbox
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer


class CasesHarness:
    """The app, its hub and its casework, for direct (in-transaction) and HTTP use."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.hub: Hub = app.state.hub
        self.casework: Casework = self.hub.extras["casework"]

    async def matter(self, data: dict[str, Any], event_type: str = "hub.matter.published") -> int:
        async with self.hub.db.transaction() as session:
            return await self.casework.matter_event(session, event_type, data)

    async def receive(self, data: dict[str, Any], ce_id: str | None = None, now=None) -> Outcome:
        async with self.hub.db.transaction() as session:
            return await self.casework.receive(
                session, data, cloud_event_id=ce_id or "ce-" + data["event_id"], now=now
            )

    async def facts(self, event_type: str | None = None) -> list[dict[str, Any]]:
        async with self.hub.db.sessionmaker() as session:
            stmt = select(outbox.c.event_type, outbox.c.payload).order_by(outbox.c.id)
            rows = (await session.execute(stmt)).all()
        return [{"type": t, **p} for t, p in rows if event_type is None or t == event_type]


async def cases_app(
    pg: DatabaseFactory, issuer: TestIssuer | None = None, **overrides: Any
) -> CasesHarness:
    url = await pg.create("cases")
    migrate("cases", url)
    values: dict[str, Any] = {
        "database_url": url,
        "kafka_enabled": False,
        "cases_supervision_interval": 0,
    }
    if issuer is not None:
        env = issuer.env()
        values |= {
            "auth_jwks": issuer.jwks_json,
            "auth_issuer": env["HUB_AUTH_ISSUER"],
            "auth_audience": env["HUB_AUTH_AUDIENCE"],
        }
    settings = CasesSettings(**(values | overrides))
    harness = CasesHarness(create_app(settings))
    if issuer is not None:
        # Reads need an active token: the issuer answers introspection (in process).
        harness.hub.extras["token_introspector"] = issuer.introspector()
    return harness
