"""Demo data for ``make run`` (idempotent): the demo citizen has an open invitation.

The demo citizen is 张三 of ``services/identity/seed.py`` (the ID number is repeated here:
no service imports another). The invitation is for the concluded demo 办件 of the
教师资格认定 whose certificate certs seeds (same 办件编号); its rating window runs
``HUB_EVAL_DEFAULT_RATING_DAYS`` (7) days from the first seeding."""

from __future__ import annotations

from pathlib import Path

from services.eval.service.context import EvalContext
from services.eval.service.invitations import invite
from services.eval.settings import EvalSettings
from services.runtime.calendar import WorkingCalendar
from services.runtime.db import Database, utcnow
from services.runtime.messaging import Messaging
from services.runtime.migrate import upgrade
from services.runtime.pii import citizen_id_ref, pii_cipher

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CITIZEN_ID = "11010519491231002X"  # 张三, the demo citizen of identity
EDUCATION_USCC = "11440200MB2C12353P"  # 韶关市教育局
DEMO_CODE = f"{EDUCATION_USCC}0001120020000"  # 实施编码 (31)
DEMO_CASE = f"{EDUCATION_USCC}000112002000020261201" + "0001"  # 办件编号 (43)


async def seed_demo(database_url: str) -> list[str]:
    upgrade(MIGRATIONS, database_url)
    settings = EvalSettings(database_url=database_url, kafka_enabled=False)
    db = Database(database_url)
    messaging = Messaging(settings, db, topics=["hub.evals"])
    ctx = EvalContext(settings, messaging.publish, pii_cipher(settings), WorkingCalendar())
    try:
        async with db.transaction() as session:
            row = await invite(
                ctx,
                session,
                {
                    "case_no": DEMO_CASE,
                    "implementation_code": DEMO_CODE,
                    "matter_name": "教师资格认定",
                    "handler": {"org_uscc": EDUCATION_USCC, "department": "教师资格认定科"},
                    "concluded_at": utcnow().isoformat(),
                    "decision": "approved",
                    "applicant": {
                        "type": "natural",
                        "id_ref": citizen_id_ref(ctx.cipher, CITIZEN_ID),
                    },
                },
                "approved",
            )
            assert row is not None
            until = row.default_due_at
    finally:
        await db.dispose()
    return [f"eval: demo citizen 张三 is invited to rate 办件 {DEMO_CASE} until {until:%Y-%m-%d}"]
