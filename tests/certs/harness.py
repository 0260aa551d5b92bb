"""A migrated certs app on its own PostgreSQL database, and helpers to drive it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from gmssl import sm2 as gm_sm2
from sqlalchemy import select
from stdnum.cn import ric
from tongsuopy.crypto import serialization

from services.certs.app import create_app
from services.certs.service.catalogue import seed_types
from services.certs.service.context import CertsContext
from services.certs.settings import CertsSettings
from services.runtime.app import Hub
from services.runtime.messaging.tables import outbox
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer


class CertsHarness:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.hub: Hub = app.state.hub
        self.ctx: CertsContext = self.hub.extras["certs"]

    async def facts(self, event_type: str | None = None) -> list[dict[str, Any]]:
        async with self.hub.db.sessionmaker() as session:
            stmt = select(outbox.c.event_type, outbox.c.payload).order_by(outbox.c.id)
            rows = (await session.execute(stmt)).all()
        return [{"type": t, **p} for t, p in rows if event_type is None or t == event_type]


async def certs_app(
    pg: DatabaseFactory, issuer: TestIssuer | None = None, **overrides: Any
) -> CertsHarness:
    url = await pg.create("certs")
    migrate("certs", url)
    values: dict[str, Any] = {
        "database_url": url,
        "kafka_enabled": False,
        "certs_sweep_interval": 0,
    }
    if issuer is not None:
        env = issuer.env()
        values |= {
            "auth_jwks": issuer.jwks_json,
            "auth_issuer": env["HUB_AUTH_ISSUER"],
            "auth_audience": env["HUB_AUTH_AUDIENCE"],
        }
    h = CertsHarness(create_app(CertsSettings(**(values | overrides))))
    await seed_types(h.hub.db)  # what the app's startup does, for tests that skip the lifespan
    return h


def gmssl_from_public_pem(public_pem: str) -> gm_sm2.CryptSM2:
    """gmssl (pure Python, independent of Tongsuo) holding only a published public key."""
    key = serialization.load_pem_public_key(public_pem.encode("ascii"))
    numbers = key.public_numbers()
    return gm_sm2.CryptSM2(private_key="", public_key=f"{numbers.x:064x}{numbers.y:064x}")


def citizen_id(n: int) -> str:
    body = f"44020319900101{n:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum wants a placeholder check


def teacher_face(cid: str, name: str = "王小明", **overrides: Any) -> dict[str, Any]:
    face: dict[str, Any] = {
        "holder_name": name,
        "gender": "男",
        "birth_date": "1990-01-01",
        "citizen_id": cid,
        "certificate_no": "20264400141000123",
        "qualification": "高级中学教师资格",
        "subject": "数学",
        "certifying_authority": "韶关市教育局",
        "certified_on": "2026-03-01",
    }
    face.update(overrides)
    return face
