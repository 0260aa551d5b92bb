"""Demo data for ``make run`` (idempotent): certificates the demo citizen sees at once.

The demo citizen is 张三 of ``services/identity/seed.py`` (the ID number is repeated here:
no service imports another). Two certificates: a 教师资格证书 held by 张三, and the
食品经营许可证 of a demo business whose 办件 张三 applied for. Each is tied to a demo
办件编号, so a second run finds it and issues nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from services.certs.domain.identifiers import make_food_licence_no
from services.certs.domain.types import (
    FOOD_LICENCE,
    SHAOGUAN_EDUCATION_USCC,
    SHAOGUAN_MARKET_USCC,
    TEACHER_QUALIFICATION,
)
from services.certs.service import catalogue
from services.certs.service.context import CertsContext
from services.certs.service.issuance import issue
from services.certs.settings import CertsSettings
from services.certs.store import repository as repo
from services.runtime.db import Database, utcnow
from services.runtime.messaging import Messaging
from services.runtime.migrate import upgrade
from services.runtime.pii import citizen_id_ref, pii_cipher

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CITIZEN_ID = "11010519491231002X"  # 张三, the demo citizen of identity
DEMO_BUSINESS_USCC = "91440203MA4UP5678E"
FOOD_CASE = f"{SHAOGUAN_MARKET_USCC}000117008000020261201" + "0001"  # 办件编号, 43 chars
TEACHER_CASE = f"{SHAOGUAN_EDUCATION_USCC}000112002000020261201" + "0001"


def _teacher_face() -> dict[str, Any]:
    return {
        "holder_name": "张三",
        "gender": "女",
        "birth_date": "1949-12-31",
        "citizen_id": CITIZEN_ID,
        "certificate_no": "20264400141000001",
        "qualification": "高级中学教师资格",
        "subject": "数学",
        "certifying_authority": "韶关市教育局",
        "certified_on": "2026-12-01",
    }


def _food_face() -> dict[str, Any]:
    return {
        "operator_name": "韶关市武江区张三小吃店",
        "uscc": DEMO_BUSINESS_USCC,
        "legal_representative": "张三",
        "residence": "广东省韶关市武江区新华南路1号",
        "business_premises": "广东省韶关市武江区新华南路1号首层",
        "business_form": "餐饮服务经营者（小餐饮）",
        "business_items": ["热食类食品制售"],
        "licence_no": make_food_licence_no("2", "440203", 1),
        "supervisory_authority": "韶关市武江区市场监督管理局",
        "valid_until": "2031-11-30",
    }


async def seed_demo(database_url: str) -> list[str]:
    upgrade(MIGRATIONS, database_url)
    settings = CertsSettings(database_url=database_url, kafka_enabled=False)
    db = Database(database_url)
    messaging = Messaging(settings, db, topics=["hub.certs"])
    ctx = CertsContext(settings, messaging.publish, pii_cipher(settings))
    citizen = ("natural", citizen_id_ref(ctx.cipher, CITIZEN_ID))
    issued: list[str] = []
    try:
        await catalogue.seed_types(db)
        demo = [
            (
                TEACHER_QUALIFICATION.type_code,
                SHAOGUAN_EDUCATION_USCC,
                _teacher_face(),
                TEACHER_CASE,
            ),
            (FOOD_LICENCE.type_code, SHAOGUAN_MARKET_USCC, _food_face(), FOOD_CASE),
        ]
        for type_code, org, face, case_no in demo:
            async with db.transaction() as session:
                row = await repo.certificate_for_case(session, case_no)
                if row is None:
                    cert_type = await catalogue.require_type(session, type_code)
                    row = await issue(
                        ctx,
                        session,
                        cert_type,
                        org,
                        face,
                        case_no=case_no,
                        actor="seed",
                        now=utcnow(),
                        expected_holder=citizen,
                    )
                issued.append(f"{row.name} {row.certificate_id}")
    finally:
        await db.dispose()
    return [f"certs: demo citizen 张三 holds {c}" for c in issued]
