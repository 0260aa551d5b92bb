"""办件 end to end with real processes: a county system pushes REST batches through the
gateway → outbox → Kafka ``hub.cases`` → the cases service (matters replica fed by the
matters service over ``hub.matters``) → PostgreSQL; applicants and staff read through the
gateway; the facts the cases service tells appear on ``hub.cases``.

The processes share one token issuer and one PII key set, as a deployment does.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from gateway.clients.registry import register_client
from hub.broker import LocalBroker
from services.matters.bulk import load_item
from services.matters.demo_catalog import (
    DEMO_FOOD_CODE,
    FOOD_BASE_CODE,
    complete_content,
    implementation_code,
)
from services.matters.seed import SEED_ACTOR, seed_demo
from services.matters.settings import MattersSettings
from services.runtime.app import Hub
from services.runtime.db import Database
from services.runtime.messaging import Messaging
from services.runtime.pii import citizen_id_ref, pii_cipher
from services.runtime.settings import HubSettings
from tests.peers.county_system import CST, RestPusher, make_citizen_id, malformed, shuffled
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess
from tests.support.tokens import TestIssuer, bearer

pytestmark = pytest.mark.e2e

ORG = DEMO_FOOD_CODE[:18]  # the implementing body: 市场监督管理局 of the demo catalog
SECOND_CODE = implementation_code("market", FOOD_BASE_CODE, suffix="9")  # not seeded
FULL = [
    "submitted",
    "accepted",
    "correction_requested",
    "correction_received",
    "decided",
    "concluded",
]


@dataclass
class Flow:
    """The running hub: gateway URL, token issuer, PII settings and the broker."""

    gateway: str
    issuer: TestIssuer
    pii: HubSettings
    bootstrap: str
    matters_url: str
    cases_url: str
    procs: dict[str, AppProcess]

    async def register_system(self, client_id: str, orgs: list[str]) -> None:
        """Only a system registered at the gateway may push, for its own orgs."""
        db = Database(self.procs["gateway"].env["HUB_DATABASE_URL"])
        try:
            await register_client(
                db, client_id=client_id, name="e2e 区县系统", orgs=orgs, channels=("rest",)
            )
        finally:
            await db.dispose()


def pii_env() -> dict[str, str]:
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    index = base64.b64encode(secrets.token_bytes(32)).decode()
    return {"HUB_PII_ENCRYPTION_KEYS": f"e2e:{key}", "HUB_PII_INDEX_KEY": index}


def start_hub(
    pg: DatabaseFactory, broker: LocalBroker, log_dir: Path, label: str, **extra: str
) -> Flow:
    """Matters, cases and gateway as real processes on fresh PostgreSQL databases."""
    issuer, pii = TestIssuer(), pii_env()
    common = {
        **issuer.env(),
        # Cases (and the gateway's intake) ask the issuer whether a token is still active.
        **issuer.serve_introspection(),
        **pii,
        "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HUB_OUTBOX_POLL_INTERVAL": "0.2",
        **extra,
    }
    procs: dict[str, AppProcess] = {}
    urls: dict[str, str] = {}
    for name, factory in (
        ("matters", "services.matters.app:create_app"),
        ("cases", "services.cases.app:create_app"),
    ):
        urls[name] = pg.create_sync(f"{label}_{name}")
        migrate(name, urls[name])
        procs[name] = AppProcess(
            f"{label}-{name}", factory, {**common, "HUB_DATABASE_URL": urls[name]}, log_dir
        )
    gateway_db = pg.create_sync(f"{label}_gateway")
    migrate("gateway", gateway_db)
    upstreams = {name: procs[name].url for name in ("matters", "cases")}
    procs["gateway"] = AppProcess(
        f"{label}-gateway",
        "gateway.app:create_app",
        {
            **common,
            "HUB_DATABASE_URL": gateway_db,
            "HUB_UPSTREAMS": json.dumps(upstreams),
            "HUB_INTAKE_POLL_INTERVAL": "3600",
        },
        log_dir,
    )
    try:
        for p in procs.values():
            p.start(wait="")
        for p in procs.values():
            p.wait_http("/readyz", timeout=90)
    except Exception:
        for p in procs.values():
            p.stop()
        issuer.stop_introspection()
        raise
    settings = HubSettings(
        pii_encryption_keys=pii["HUB_PII_ENCRYPTION_KEYS"], pii_index_key=pii["HUB_PII_INDEX_KEY"]
    )
    return Flow(
        procs["gateway"].url,
        issuer,
        settings,
        broker.bootstrap,
        urls["matters"],
        urls["cases"],
        procs,
    )


@pytest.fixture(scope="module")
def flow(pg: DatabaseFactory, broker: LocalBroker, log_dir: Path) -> Iterator[Flow]:
    hub = start_hub(pg, broker, log_dir, "cf", HUB_CASES_SUPERVISION_INTERVAL="3600")
    try:
        yield hub
    finally:
        for p in hub.procs.values():
            p.stop()
        hub.issuer.stop_introspection()


async def publish_second_matter(matters_url: str) -> None:
    """A new item of the catalog, published as the matters service publishes (outbox →
    its relay → ``hub.matters``)."""
    settings = MattersSettings(database_url=matters_url, kafka_enabled=False)
    db = Database(matters_url)
    hub = Hub(settings=settings, db=db, messaging=Messaging(settings, db, topics=["hub.matters"]))
    content = complete_content(
        department="market",
        name="食品经营许可（延续）",
        base_code=FOOD_BASE_CODE,
        statutory=20,
        promised=5,
        objects=("法人", "自然人"),
    )
    try:
        await load_item(hub, SEED_ACTOR, SECOND_CODE, content, publish=True)
    finally:
        await db.dispose()


def case_events(
    number: str, stages: list[str], days: list[str], applicant: dict[str, Any]
) -> list[dict[str, Any]]:
    """One case's events in source order; ``days`` are the local dates of the stages."""
    out = []
    for seq, (stage, day) in enumerate(zip(stages, days, strict=True), start=1):
        event: dict[str, Any] = {
            "event_id": f"{number[18:]}-{seq}",
            "case_no": number,
            "implementation_code": number[:31],
            "stage": stage,
            "occurred_at": datetime.fromisoformat(f"{day}T10:00").replace(tzinfo=CST).isoformat(),
            "seq": seq,
            "case_type": "2",
            "applicant": applicant,
            "handler": {"org_uscc": ORG, "department": "食品经营科", "staff_no": "S1024"},
        }
        if stage in ("decided", "concluded"):
            event["result"] = {
                "decision": "approved",
                "certificate_type": "食品经营许可证",
                "certificate_data": {"licence_no": "JY14402000012345"},
            }
        out.append(event)
    return out


def person(id_no: str, name: str) -> dict[str, str]:
    return {"type": "natural", "id_type": "身份证", "id_no": id_no, "name": name}


async def wait_for(predicate: Any, timeout: float = 60.0, message: str = "") -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        assert asyncio.get_running_loop().time() < deadline, f"timed out: {message}"
        await asyncio.sleep(0.3)


async def facts_on(bootstrap: str, keys: set[str], types: set[str]) -> dict[str, set[str]]:
    """The fact types seen per key on ``hub.cases`` (a raw Kafka consumer), once every
    wanted type of every key arrived."""
    seen: dict[str, set[str]] = {k: set() for k in keys}
    consumer = AIOKafkaConsumer(
        "hub.cases",
        bootstrap_servers=bootstrap,
        group_id=f"e2e-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        deadline = asyncio.get_running_loop().time() + 60
        while any(not types <= s for s in seen.values()):
            assert asyncio.get_running_loop().time() < deadline, f"facts missing: {seen}"
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for r in records:
                    key = (r.key or b"").decode()
                    if key in seen:
                        headers = dict(r.headers or [])
                        seen[key].add(headers.get("ce_type", b"").decode())
    finally:
        await consumer.stop()
    return seen


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=30) as c:
        yield c


async def test_a_county_batch_ends_in_exact_cases_visible_to_their_owners_only(
    flow: Flow, client: httpx.AsyncClient
) -> None:
    await asyncio.to_thread(lambda: asyncio.run(seed_demo(flow.matters_url)))
    rng = random.Random(5)
    citizen_a = make_citizen_id("440204", datetime(1985, 6, 1), rng.randrange(1000))
    citizen_b = make_citizen_id("440203", datetime(1992, 2, 9), rng.randrange(1000))
    base = f"{DEMO_FOOD_CODE}20260927"
    n = rng.randrange(100, 900)
    one, two, three = (f"{base}{n + i:04d}" for i in range(3))
    # One: accepted Mon 28 Sep; 补正 from 30 Sep to 13 Oct stops the clock across the
    # National Day holiday: 10 working days end on 23 Oct, the legal 20 on 6 Nov.
    days = ["2026-09-27", "2026-09-28", "2026-09-30", "2026-10-13", "2026-10-20", "2026-10-21"]
    events = case_events(one, FULL, days, person(citizen_a, "王伟明"))
    # Two (same applicant): accepted 9 Oct and never decided — overdue (red) by now.
    events += case_events(
        two, ["submitted", "accepted"], ["2026-09-27", "2026-10-09"], person(citizen_a, "王伟明")
    )
    # Three (another applicant): the same full sequence, without the pause.
    days3 = ["2026-09-27", "2026-09-28", "2026-09-29", "2026-09-29", "2026-10-09", "2026-10-10"]
    events += case_events(three, FULL, days3, person(citizen_b, "李静"))
    # Four: a matter the hub does not know yet — parked, applied once it is published.
    four = f"{SECOND_CODE}202609270001"
    parked = case_events(four, ["submitted"], ["2026-09-27"], person(citizen_b, "李静"))
    parked[0]["event_id"] = f"p{n}-1"

    client_id = f"county-e2e-{uuid.uuid4().hex[:6]}"
    await flow.register_system(client_id, [ORG, SECOND_CODE[:18]])
    county = httpx.AsyncClient(base_url=flow.gateway, timeout=30)
    pusher = RestPusher(county, flow.issuer.client(client_id, "cases:push"))
    first = shuffled(events, rng)[:8]
    bad = [item for _, item in malformed(events[0])[:2]]
    batch1 = [*first, bad[0], first[0], bad[1], *parked]  # a duplicate inside the batch
    r1 = await pusher.push(batch1)
    assert r1.status_code == 202, r1.text
    statuses = [r["status"] for r in r1.json()["results"]]
    assert statuses == ["accepted"] * 8 + ["rejected", "duplicate", "rejected", "accepted"]
    assert r1.json()["results"][8]["errors"]
    second = shuffled([e for e in events if e not in first], rng)
    r2 = await pusher.push([*second, *first[:3]])  # the rest, late, plus resends
    assert r2.status_code == 202, r2.text
    assert [r["status"] for r in r2.json()["results"]] == (
        ["accepted"] * len(second) + ["duplicate"] * 3
    )
    await county.aclose()

    staff = bearer(flow.issuer.staff(ORG, ["supervisor"], scope="cases:read"))

    async def case(number: str) -> dict[str, Any] | None:
        r = await client.get(f"{flow.gateway}/api/cases/v1/cases/{number}", headers=staff)
        return r.json() if r.status_code == 200 else None

    async def settled() -> bool:
        got = [await case(x) for x in (one, two, three)]
        return all(g is not None for g in got) and [g["stage"] for g in got if g] == [
            "concluded",
            "accepted",
            "concluded",
        ]

    await wait_for(settled, message="cases applied")
    c1, c2, c3 = await case(one), await case(two), await case(three)
    assert c1 and c2 and c3
    assert [s["stage"] for s in c1["stages"]] == FULL  # source order, not arrival order
    assert all(s["applied"] for s in c1["stages"])
    assert (c1["due_date"], c1["statutory_due_date"]) == ("2026-10-23", "2026-11-06")
    assert c1["paused_working_days"] == 5
    assert (c2["due_date"], c2["clock"]) == ("2026-10-22", "running")
    assert c3["due_date"] == "2026-10-16"  # 10 working days from 28 Sep across National Day
    assert c1["accepted_at"].startswith("2026-09-28T10:00:00+08:00")

    # 电子监察: the overdue case has a red card, listed for staff of the handling org.
    async def red() -> list[dict[str, Any]]:
        r = await client.get(
            f"{flow.gateway}/api/cases/v1/supervision/warnings",
            headers=staff,
            params={"limit": 100},
        )
        assert r.status_code == 200, r.text
        return [w for w in r.json()["items"] if w["case_no"] == two and w["kind"] == "red"]

    assert (await wait_for(red, message="red warning"))[0]["level"] == "red"
    # Case one was never late: a deadline warning raised while only part of its history
    # had arrived (the 办结 comes in the second push) is withdrawn once the rest arrives.
    assert not [
        w
        for w in c1.get("warnings", [])
        if w["kind"] in ("red", "yellow") and w["status"] != "withdrawn"
    ]

    # Applicants see exactly their own cases; another citizen is told the case does not exist.
    cipher = pii_cipher(flow.pii)
    a = bearer(flow.issuer.citizen(citizen_id_ref(cipher, citizen_a), scope="cases:read"))
    b = bearer(flow.issuer.citizen(citizen_id_ref(cipher, citizen_b), scope="cases:read"))
    mine = await client.get(f"{flow.gateway}/api/cases/v1/me/cases", headers=a)
    assert mine.status_code == 200, mine.text
    assert {c["case_no"] for c in mine.json()["items"]} == {one, two}
    own = await client.get(f"{flow.gateway}/api/cases/v1/cases/{one}", headers=a)
    assert own.status_code == 200 and own.json()["applicant"]["id_no"] == citizen_a
    other = await client.get(f"{flow.gateway}/api/cases/v1/cases/{one}", headers=b)
    assert other.status_code == 404
    assert other.headers["content-type"].startswith("application/problem+json")
    theirs = await client.get(f"{flow.gateway}/api/cases/v1/me/cases", headers=b)
    assert {c["case_no"] for c in theirs.json()["items"]} == {three}
    assert (await client.get(f"{flow.gateway}/api/cases/v1/cases/{one}")).status_code == 401

    # The facts the cases service tells, on the topic itself.
    seen = await facts_on(flow.bootstrap, {one, three}, {"hub.case.accepted", "hub.case.concluded"})
    assert all({"hub.case.accepted", "hub.case.concluded"} <= s for s in seen.values())

    # The parked event: nothing yet; once the matter is published, the case exists.
    assert await case(four) is None
    await asyncio.to_thread(lambda: asyncio.run(publish_second_matter(flow.matters_url)))
    c4 = await wait_for(lambda: case(four), message="parked event applied")
    assert c4["stage"] == "submitted" and c4["matter_name"] == "食品经营许可（延续）"
    theirs = await client.get(f"{flow.gateway}/api/cases/v1/me/cases", headers=b)
    assert {c["case_no"] for c in theirs.json()["items"]} == {three, four}
