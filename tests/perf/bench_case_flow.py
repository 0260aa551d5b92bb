"""办件 end to end under load, with real processes: REST batches → gateway → outbox →
Kafka → cases (inbox, state machine, deadlines, 电子监察) → committed in PostgreSQL,
beside raw broker produce + consume in the same run; then a backfill of historical
events through the same path (measured on N_BACKFILL events, extrapolated to 1,000,000).

Before/after: the figures of the cases consumer before this work (one process,
``bench_cases.py`` of the first version) are kept in the table for comparison.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from hub.broker import LocalBroker
from services.cases.store.tables import CaseEventRow, MatterReplica
from services.matters.demo_catalog import DEMO_FOOD_CODE
from services.matters.seed import seed_demo
from services.runtime.db import Database
from tests.e2e.test_case_flow import ORG, start_hub
from tests.peers.county_system import CST, County, CountySystem, RestPusher
from tests.perf.bench_backbone import raw_roundtrip
from tests.perf.conftest import record, write_doc_section
from tests.support.postgres import DatabaseFactory

N_SUSTAINED = 20_000
N_BACKFILL = 100_000
BATCH = 1_000  # events per REST call (the intake maximum)
PUSHERS = 4  # county systems pushing at the same time
BEFORE = {"consumer": 75, "backfill": 68, "backfill_1m_h": 4.11}


def county_events(client_id: str, n: int, first_day: datetime, seed: int) -> list[dict[str, Any]]:
    county = County("浈江区", "440204", client_id, bureau_uscc=ORG, matters=[DEMO_FOOD_CODE])
    system = CountySystem(county, seed=seed)
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    while len(out) < n:
        start = first_day + timedelta(minutes=rng.randrange(0, 60 * 24 * 10))
        out += system.case(start)
    return out[:n]


async def applied(db: Database) -> int:
    async with db.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(CaseEventRow)) or 0)


async def push_all(gateway: str, token: str, events: list[dict[str, Any]]) -> float:
    """Push in BATCH-sized calls from PUSHERS concurrent clients; returns seconds."""
    batches = [events[i : i + BATCH] for i in range(0, len(events), BATCH)]
    queue: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    for b in batches:
        queue.put_nowait(b)

    async def worker() -> None:
        async with httpx.AsyncClient(base_url=gateway, timeout=120) as c:
            pusher = RestPusher(c, token)
            while not queue.empty():
                batch = queue.get_nowait()
                r = await pusher.push(batch)
                assert r.status_code == 202, r.text
                assert r.json()["accepted"] == len(batch), r.text[:500]

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(PUSHERS)))
    return time.perf_counter() - start


async def run_phase(flow: Any, db: Database, events: list[dict[str, Any]], client: str) -> dict:
    # A backfill outlasts a 5-minute test token; a real county system would refresh its token.
    token = flow.issuer.client(client, "cases:push", lifetime=3600)
    before = await applied(db)
    start = time.perf_counter()
    push_seconds = await push_all(flow.gateway, token, events)
    give_up = time.perf_counter() + 900
    while await applied(db) < before + len(events):
        assert time.perf_counter() < give_up, "the cases service did not apply every event"
        await asyncio.sleep(0.5)
    total = time.perf_counter() - start
    return {"events": len(events), "push_s": push_seconds, "total_s": total}


@pytest.mark.timeout(1800)
async def test_case_flow_end_to_end(
    pg: DatabaseFactory, broker: LocalBroker, log_dir: Path
) -> None:
    raw = await raw_roundtrip(broker.bootstrap, 20_000)
    flow = await asyncio.to_thread(
        start_hub, pg, broker, log_dir, "bench", HUB_CASES_SUPERVISION_INTERVAL="3600"
    )
    db = Database(flow.cases_url)
    try:
        await seed_demo(flow.matters_url)

        async def replica() -> bool:
            async with db.sessionmaker() as s:
                return await s.get(MatterReplica, DEMO_FOOD_CODE) is not None

        deadline = time.perf_counter() + 60
        while not await replica():
            assert time.perf_counter() < deadline, "matter never reached the cases replica"
            await asyncio.sleep(0.3)

        live_client = f"county-live-{uuid.uuid4().hex[:6]}"
        await flow.register_system(live_client, [ORG])  # only registered systems may push
        # Live cases started in the last weeks (no step may lie in the future).
        recent = datetime.now(CST).replace(hour=9, minute=0) - timedelta(days=40)
        sustained = await run_phase(
            flow, db, county_events(live_client, N_SUSTAINED, recent, 1), live_client
        )
        history_client = f"county-history-{uuid.uuid4().hex[:6]}"
        await flow.register_system(history_client, [ORG])
        old = datetime(2026, 1, 5, 9, 0, tzinfo=CST)
        backfill = await run_phase(
            flow, db, county_events(history_client, N_BACKFILL, old, 2), history_client
        )
    finally:
        await db.dispose()
        for p in flow.procs.values():
            p.stop()
        flow.issuer.stop_introspection()

    figures = {
        "raw_broker_roundtrip_per_s": round(raw),
        "sustained_events": sustained["events"],
        "sustained_end_to_end_per_s": round(sustained["events"] / sustained["total_s"]),
        "sustained_gateway_accept_per_s": round(sustained["events"] / sustained["push_s"]),
        "backfill_events_measured": backfill["events"],
        "backfill_end_to_end_per_s": round(backfill["events"] / backfill["total_s"]),
        "backfill_measured_s": round(backfill["total_s"], 1),
        "backfill_1m_minutes_extrapolated": round(
            backfill["total_s"] * 1_000_000 / backfill["events"] / 60, 1
        ),
    }
    record("case_flow", figures)
    write_section(figures)
    assert figures["sustained_end_to_end_per_s"] > 0 and figures["backfill_end_to_end_per_s"] > 0


def write_section(f: dict[str, Any]) -> None:
    in_process = _in_process_figures()
    section = (
        "## Cases\n\n"
        "End to end with real processes (`tests/perf/bench_case_flow.py`): REST batches of "
        f"{BATCH} from {PUSHERS} concurrent county clients → gateway → outbox → Tansu → cases "
        "(inbox, state machine, deadlines, 电子监察, facts) → committed in PostgreSQL; the "
        "matters, cases and gateway processes and PostgreSQL share this 2-core machine.\n\n"
        "| figure | before | after |\n|---|---|---|\n"
        f"| raw aiokafka produce + consume, same broker, same run | – | "
        f"{f['raw_broker_roundtrip_per_s']} events/s |\n"
        f"| cases consumer alone, Kafka → PostgreSQL (`bench_cases.py`) | "
        f"{BEFORE['consumer']} events/s | {in_process.get('consumer', '–')} events/s |\n"
        f"| sustained end to end, {f['sustained_events']} events | – | "
        f"{f['sustained_end_to_end_per_s']} events/s (gateway accepts "
        f"{f['sustained_gateway_accept_per_s']} events/s) |\n"
        f"| backfill end to end, {f['backfill_events_measured']} historical events measured | "
        f"{BEFORE['backfill']} events/s (in-process, one transaction per event) | "
        f"{f['backfill_end_to_end_per_s']} events/s ({f['backfill_measured_s']} s) |\n"
        f"| backfill of 1,000,000 events | ≈ {BEFORE['backfill_1m_h']} h | ≈ "
        f"{f['backfill_1m_minutes_extrapolated']} min (extrapolated linearly from the "
        f"{f['backfill_events_measured']} measured, not measured) |\n\n"
        "What changed: the consumer applies a partition's batch in one transaction and the "
        "cases handler now reads each case (row-locked) and its history once per batch, "
        "folds later events into the in-memory state (a full replay only for a late "
        "event), writes case rows and history rows once at commit, settles facts and "
        "电子监察 once per case per batch, memoizes the working-day calendar, and takes the "
        "advisory lock only on the way to parking.\n"
    )
    write_doc_section("Cases", section)


def _in_process_figures() -> dict[str, Any]:
    """The last ``bench_cases.py`` figures of this machine (var/bench/cases.json)."""
    import json

    from tests.perf.conftest import RESULTS

    path = RESULTS / "cases.json"
    if not path.exists():
        return {}
    data = json.loads(path.read_text())
    return {"consumer": data.get("cases_consumer_events_per_s", "–")}
