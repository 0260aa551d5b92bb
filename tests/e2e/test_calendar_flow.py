"""Past the official calendar data, with real processes (issue 8, hole 9): matters, cases
and the gateway run as their own processes on the broker; 2027 has no official data.

A 承诺件 accepted on Thursday 28 January 2027 (10 working days) is due on the
provisional Wednesday 17 February (statutory 春节 除夕–初三 plus 补假); the event is applied,
nothing reaches the DLQ. ``hub calendar load`` (an operator's process on the matters
database) stores the official schedule; the matters process relays
``hub.calendar.year_loaded``, the cases process recomputes the case to Thursday 18
February and clears the provisional flag.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from hub.broker import LocalBroker
from services.matters.bulk import load_item
from services.matters.demo_catalog import FOOD_BASE_CODE, complete_content, implementation_code
from services.matters.seed import SEED_ACTOR
from services.matters.settings import MattersSettings
from services.runtime.app import Hub
from services.runtime.db import Database
from services.runtime.messaging import Envelope, Messaging
from tests.e2e.test_case_flow import Flow, start_hub
from tests.support.postgres import DatabaseFactory
from tests.support.processes import PROJECT_ROOT

pytestmark = pytest.mark.e2e

CODE = implementation_code("market", FOOD_BASE_CODE, suffix="7")
ORG = CODE[:18]
OFFICIAL_2027 = """\
2027:
  holidays: [2027-01-01, 2027-02-05, 2027-02-06, 2027-02-07, 2027-02-08, 2027-02-09,
             2027-02-10, 2027-02-11, 2027-02-12]
  workdays: [2027-01-31, 2027-02-20]
"""


@pytest.fixture(scope="module")
def flow(pg: DatabaseFactory, broker: LocalBroker, log_dir: Path) -> Iterator[Flow]:
    hub = start_hub(pg, broker, log_dir, "cal", HUB_CASES_SUPERVISION_INTERVAL="3600")
    try:
        yield hub
    finally:
        for p in hub.procs.values():
            p.stop()


async def publish_matter(matters_url: str) -> None:
    settings = MattersSettings(database_url=matters_url, kafka_enabled=False)
    db = Database(matters_url)
    hub = Hub(settings=settings, db=db, messaging=Messaging(settings, db, topics=["hub.matters"]))
    content = complete_content(
        department="market",
        name="食品经营许可（变更）",
        base_code=FOOD_BASE_CODE,
        statutory=20,
        promised=10,
    )
    try:
        await load_item(hub, SEED_ACTOR, CODE, content, publish=True)
    finally:
        await db.dispose()


async def case_row(cases_url: str, number: str) -> dict[str, Any] | None:
    engine = create_async_engine(cases_url)
    try:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    text(
                        "SELECT stage, due_date, due_date_provisional FROM cases WHERE case_no = :n"
                    ),
                    {"n": number},
                )
            ).first()
            dead = (await conn.execute(text("SELECT count(*) FROM dead_letters"))).scalar()
    finally:
        await engine.dispose()
    if row is None:
        return None
    return {"stage": row[0], "due": row[1], "provisional": row[2], "dead": dead}


async def until(check: Any, seconds: float = 90) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        value = await check()
        if value or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.3)


async def test_provisional_due_date_recomputed_after_hub_calendar_load(
    flow: Flow, tmp_path: Path
) -> None:
    await publish_matter(flow.matters_url)
    number = f"{CODE}20270128{random.randrange(10**4):04d}"
    producer = AIOKafkaProducer(bootstrap_servers=flow.bootstrap, acks="all")
    await producer.start()
    try:
        for seq, stage in enumerate(("submitted", "accepted"), start=1):
            data = {
                "event_id": f"{number[18:]}-{seq}",
                "source_system": "county-440200",
                "channel": "rest",
                "case_no": number,
                "implementation_code": CODE,
                "stage": stage,
                "occurred_at": f"2027-01-28T{9 + seq:02d}:00:00+08:00",
                "seq": seq,
                "case_type": "2",
                "handler": {"org_uscc": ORG, "department": "食品经营科", "staff_no": "S1"},
            }
            ev = Envelope(
                id=f"{number}-{seq}",
                source="/hub/gateway",
                type="hub.case.event.received",
                key=number,
                data=data,
                time=datetime.now(UTC),
            )
            key, value, headers = ev.to_kafka()
            await producer.send_and_wait("hub.cases", value=value, key=key, headers=headers)
    finally:
        await producer.stop()

    async def accepted() -> dict[str, Any] | None:
        row = await case_row(flow.cases_url, number)
        return row if row is not None and row["due"] is not None else None

    row = await until(accepted)
    assert row is not None, "the case was never applied (see the cases process log)"
    assert row["due"] == date(2027, 2, 17) and row["provisional"] is True
    assert row["dead"] == 0

    file = tmp_path / "2027.yaml"
    file.write_text(OFFICIAL_2027, encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hub.cli",
        "calendar",
        "load",
        str(file),
        cwd=PROJECT_ROOT,
        env={**os.environ, "HUB_DATABASE_URL": flow.matters_url},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 0, out.decode()

    async def recomputed() -> dict[str, Any] | None:
        row = await case_row(flow.cases_url, number)
        return row if row is not None and row["provisional"] is False else None

    row = await until(recomputed)
    assert row is not None, "the official schedule did not reach the cases process"
    # 29 Jan, Sun 31 Jan (调休), 1–4 Feb, 5–14 Feb off, 15–18 Feb: Thursday 18 February.
    assert row["due"] == date(2027, 2, 18) and row["stage"] == "accepted"
    assert row["dead"] == 0
