"""Demo data for ``make run``: 食品经营许可 (广东) with its 情形引导, and a city catalog."""

from __future__ import annotations

from pathlib import Path

from services.matters.bulk import load_item
from services.matters.catalog import Actor
from services.matters.demo_catalog import DEMO_FOOD_CODE, demo_items
from services.matters.settings import MattersSettings
from services.runtime.app import Hub
from services.runtime.db import Database
from services.runtime.messaging import Messaging
from services.runtime.migrate import upgrade

SEED_ACTOR = Actor(subject="seed", kind="seed")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


async def seed_demo(database_url: str) -> list[str]:
    """Idempotent: items already there with the same content are left alone."""
    upgrade(MIGRATIONS, database_url)
    settings = MattersSettings(database_url=database_url, kafka_enabled=False)
    db = Database(database_url)
    hub = Hub(settings=settings, db=db, messaging=Messaging(settings, db, topics=["hub.matters"]))
    created = 0
    try:
        items = demo_items()
        for code, content in items:
            if await load_item(hub, SEED_ACTOR, code, content, publish=True) != "unchanged":
                created += 1
    finally:
        await db.dispose()
    return [
        f"matters: {len(items)} published demo matters ({created} new or changed)",
        f"matters: 食品经营许可 (广东) 实施编码 {DEMO_FOOD_CODE}",
        f"matters: try POST /v1/matters/{DEMO_FOOD_CODE}/guide and GET /v1/matters/search?q=spjyxk",
    ]
