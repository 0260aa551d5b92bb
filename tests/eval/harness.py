"""A migrated eval app on its own PostgreSQL database, and helpers to drive it."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from services.eval.app import create_app
from services.eval.service import invitations
from services.eval.service.context import EvalContext
from services.eval.settings import EvalSettings
from services.runtime.app import Hub
from services.runtime.messaging.tables import outbox
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer

ORG = "11440200MB2C12345W"  # 行政区划 440200 (韶关)
OTHER_ORG = "11440300MB2C54321X"


class EvalHarness:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.hub: Hub = app.state.hub
        self.ctx: EvalContext = self.hub.extras["eval"]

    async def facts(self, event_type: str | None = None) -> list[dict[str, Any]]:
        async with self.hub.db.sessionmaker() as session:
            stmt = select(outbox.c.event_type, outbox.c.payload).order_by(outbox.c.id)
            rows = (await session.execute(stmt)).all()
        return [{"type": t, **p} for t, p in rows if event_type is None or t == event_type]

    async def concluded(
        self,
        applicant: tuple[str, str],
        *,
        org: str = ORG,
        code: str | None = None,
        ended: dt.datetime | None = None,
        outcome: str = "approved",
    ) -> str:
        """What the consumer does with a ``case.concluded`` fact: the 办件's invitation."""
        code = code or f"{org}{random.randrange(10**12, 10**13)}"
        case_no = f"{code}{random.randrange(10**10, 10**11)}0"
        data = {
            "case_no": case_no,
            "implementation_code": code,
            "matter_name": "食品经营许可",
            "handler": {"org_uscc": org, "department": "审批科"},
            "concluded_at": (ended or dt.datetime.now(dt.UTC)).isoformat(),
            "decision": outcome,
            "applicant": {"type": applicant[0], "id_ref": applicant[1]},
        }
        async with self.hub.db.transaction() as session:
            await invitations.invite(self.ctx, session, data, outcome)
        return case_no


async def eval_app(
    pg: DatabaseFactory, issuer: TestIssuer | None = None, **overrides: Any
) -> EvalHarness:
    url = await pg.create("eval")
    migrate("eval", url)
    values: dict[str, Any] = {
        "database_url": url,
        "kafka_enabled": False,
        "eval_sweep_interval": 0,
    }
    if issuer is not None:
        env = issuer.env()
        values |= {
            "auth_jwks": issuer.jwks_json,
            "auth_issuer": env["HUB_AUTH_ISSUER"],
            "auth_audience": env["HUB_AUTH_AUDIENCE"],
        }
    h = EvalHarness(create_app(EvalSettings(**(values | overrides))))
    if issuer is not None:
        h.hub.extras["token_introspector"] = issuer.introspector()
    return h
