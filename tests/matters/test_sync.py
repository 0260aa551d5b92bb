"""Provincial sync against the 事项目录管理系统 simulator, through the gateway adapter,
all over real HTTP: incremental, idempotent, resumable after a crash, conflicts reported."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from gateway.app import create_app as gateway_app
from gateway.settings import GatewaySettings
from services.matters import sync
from services.matters.demo_catalog import complete_content, implementation_code
from services.matters.store.tables import MatterVersion
from services.runtime.messaging.tables import outbox as outbox_table
from tests.matters.conftest import Staff
from tests.matters.servers import ThreadServer
from tests.peers.province_catalog import ProvinceCatalog
from tests.support.apps import migrate
from tests.support.tokens import TestIssuer, bearer

A = implementation_code("market", "000117001000")
B = implementation_code("police", "000105001000")
C = implementation_code("civil", "000108001000")


def item(dept: str, name: str, base: str, **changes: Any) -> dict[str, Any]:
    return {**complete_content(department=dept, name=name, base_code=base), **changes}


@dataclass
class Province:
    sim: ProvinceCatalog
    gateway_url: str

    def client(self, token: str) -> sync.FeedClient:
        async def provide() -> str:
            return token

        return sync.FeedClient(self.gateway_url + "/v1/adapters/province-catalog/feed", provide)


@pytest.fixture(scope="module")
async def gateway_db(pg: Any) -> str:
    url = await pg.create("gateway-sync")
    migrate("gateway", url)
    return url


@pytest.fixture
def province(gateway_db: str, issuer: TestIssuer) -> Iterator[Province]:
    with ProvinceCatalog() as sim:
        settings = GatewaySettings(
            database_url=gateway_db,
            kafka_enabled=False,
            auth_jwks=issuer.jwks_json,
            province_catalog_url=sim.url,
            province_catalog_app_key=sim.app_key,
            province_catalog_secret=sim.secret,
            log_json=False,
        )
        with ThreadServer(gateway_app(settings)) as gw:
            yield Province(sim, gw.url)


@pytest.fixture
async def hub(
    client: httpx.AsyncClient, province: Province, issuer: TestIssuer
) -> AsyncIterator[Any]:
    hub = client.app.state.hub  # type: ignore[attr-defined]
    hub.extras["feed_client"] = province.client(issuer.client("matters", "province-catalog:read"))
    yield hub


async def versions(hub: Any, code: str) -> list[tuple[int, str, str]]:
    async with hub.db.sessionmaker() as s:
        rows = (
            (
                await s.execute(
                    select(MatterVersion)
                    .where(MatterVersion.implementation_code == code)
                    .order_by(MatterVersion.version)
                )
            )
            .scalars()
            .all()
        )
    return [(r.version, r.status, r.source) for r in rows]


async def run(client: httpx.AsyncClient, staff: Staff) -> dict[str, Any]:
    r = await client.post("/v1/sync/run", headers=staff.admin())
    assert r.status_code == 200, r.text
    return r.json()


async def test_incremental_and_idempotent(
    client: httpx.AsyncClient, staff: Staff, province: Province, hub: Any
) -> None:
    sim = province.sim
    sim.upsert_base_item("000117001000", {"name": "个体工商户设立登记", "matter_type": "行政许可"})
    sim.upsert_item(A, item("market", "个体工商户设立登记", "000117001000"))
    sim.upsert_item(B, item("police", "居民身份证申领", "000105001000", matter_type="公共服务"))
    first = await run(client, staff)
    assert first["published"] == 2 and first["base_item"] == 1 and first["cursor"] == "000000000003"
    assert (await client.get(f"/v1/matters/{A}")).json()["origin"] == "province"
    base = (await client.get("/v1/base-items/000117001000")).json()
    assert base["version"] == 1 and base["origin"] == "province"
    # Nothing new: nothing happens.
    assert await run(client, staff) == {"cursor": "000000000003"}
    # An update is a new version; the rest is untouched.
    sim.upsert_item(
        A, item("market", "个体工商户设立登记", "000117001000", statutory_limit_days=12)
    )
    assert (await run(client, staff))["published"] == 1
    assert await versions(hub, A) == [(1, "superseded", "province"), (2, "published", "province")]
    assert await versions(hub, B) == [(1, "published", "province")]
    # Replaying the whole feed (cursor lost) creates no duplicate versions.
    async with hub.db.transaction() as s:
        (await sync.repo.get_sync_state(s, sync.FEED)).cursor = None
    replay = await run(client, staff)
    assert replay.get("published", 0) == 0 and replay["duplicate"] == 3
    assert len(await versions(hub, A)) == 2
    # A provincial withdrawal withdraws the item everywhere.
    sim.withdraw_item(B)
    assert (await run(client, staff))["withdrawn"] == 1
    assert (await client.get(f"/v1/matters/{B}")).status_code == 410


async def test_resumes_after_a_crash_without_loss_or_duplicates(
    client: httpx.AsyncClient, staff: Staff, province: Province, hub: Any, issuer: TestIssuer
) -> None:
    sim = province.sim
    for code, dept, name, base in (
        (A, "market", "个体工商户设立登记", "000117001000"),
        (B, "police", "居民身份证申领", "000105001000"),
        (C, "civil", "内地居民婚姻登记", "000108001000"),
    ):
        sim.upsert_item(code, item(dept, name, base))
    seen: list[int] = []

    async def crash_on_third(change: dict[str, Any]) -> None:
        seen.append(change["seq"])
        if change["seq"] == 3:
            raise RuntimeError("process killed")

    feed = province.client(issuer.client("matters", "province-catalog:read"))
    with pytest.raises(RuntimeError):
        await sync.sync_once(hub, feed, page_size=2, on_applied=crash_on_third)
    state = (await client.get("/v1/sync/state", headers=staff.admin())).json()
    assert state["cursor"] == "000000000002" and state["applied"] == 2
    assert (await client.get(f"/v1/matters/{C}")).status_code == 404  # rolled back whole
    report = await sync.sync_once(hub, feed, page_size=2)
    assert report.to_dict() == {"cursor": "000000000003", "published": 1}
    for code in (A, B, C):
        assert await versions(hub, code) == [(1, "published", "province")]
    async with hub.db.sessionmaker() as s:
        outbox = (await s.execute(select(func.count()).select_from(outbox_table))).scalar_one()
    assert outbox == 3  # one hub.matter.published per item, none twice


async def test_conflicts_with_local_refinements_are_reported(
    client: httpx.AsyncClient, staff: Staff, province: Province, hub: Any
) -> None:
    sim = province.sim
    sim.upsert_item(A, item("market", "个体工商户设立登记", "000117001000", promised_limit_days=5))
    await run(client, staff)
    # The city refines 承诺时限 and 办理地点 (二次统筹) and publishes.
    r = await client.patch(
        f"/v1/matters/{A}",
        json={"changes": {"promised_limit_days": 2, "place": "三楼A区"}},
        headers=staff.editor(),
    )
    v = r.json()["version"]
    for action, who in (
        ("submit", staff.editor),
        ("approve", staff.approver),
        ("publish", staff.approver),
    ):
        assert (
            await client.post(f"/v1/matters/{A}/versions/{v}/{action}", headers=who())
        ).status_code == 200
    # The province changes 承诺时限 (conflict) and 法定时限 (no conflict).
    sim.upsert_item(
        A,
        item(
            "market",
            "个体工商户设立登记",
            "000117001000",
            promised_limit_days=4,
            statutory_limit_days=10,
        ),
    )
    assert (await run(client, staff))["published"] == 1
    current = (await client.get(f"/v1/matters/{A}")).json()
    assert current["promised_limit_days"] == 2  # city value kept
    assert current["place"] == "三楼A区"  # refinement the province did not touch survives
    assert current["statutory_limit_days"] == 10  # province value applied
    issues = (await client.get("/v1/sync/issues", headers=staff.admin())).json()["items"]
    assert [
        (i["kind"], i["code"], i["field"], i["local_value"], i["province_old"], i["province_new"])
        for i in issues
    ] == [("conflict", A, "promised_limit_days", 2, 5, 4)]
    assert (await client.get("/v1/sync/issues", headers=staff.editor())).status_code == 403
    # The operator takes the provincial value: a new draft through the normal approval.
    r = await client.post(
        f"/v1/sync/issues/{issues[0]['id']}/resolve",
        json={"keep": "province"},
        headers=staff.admin(),
    )
    assert r.status_code == 200 and r.json()["status"] == "resolved"
    head = (await client.get(f"/v1/matters/{A}/head", headers=staff.editor())).json()
    assert head["status"] == "draft" and head["content"]["promised_limit_days"] == 4
    again = await client.post(
        f"/v1/sync/issues/{issues[0]['id']}/resolve", json={"keep": "local"}, headers=staff.admin()
    )
    assert again.status_code == 409


async def test_bad_changes_are_recorded_not_lost(
    client: httpx.AsyncClient, staff: Staff, province: Province, hub: Any
) -> None:
    sim = province.sim
    sim.upsert_item("NOT-A-CODE", item("market", "x", "000117001000"))
    sim.upsert_item(A, {"name": "个体工商户设立登记", "division_code": "440200", "visits": "many"})
    sim.add_raw({"kind": "mystery", "op": "upsert", "code": "X", "data": None})
    sim.upsert_base_item("bad code!", {"name": "x"})
    sim.upsert_item(C, {"name": "内地居民婚姻登记", "division_code": "440200"})  # incomplete
    report = await run(client, staff)
    assert report["rejected"] == 4 and report["incomplete"] == 1
    issues = (await client.get("/v1/sync/issues", headers=staff.admin())).json()["items"]
    assert [i["kind"] for i in issues] == ["rejected"] * 4
    assert issues[1]["province_new"]["visits"] == "many"  # the raw change is kept
    # The incomplete item is a draft for the city to complete, not published.
    assert (await client.get(f"/v1/matters/{C}")).status_code == 404
    assert (await client.get(f"/v1/matters/{C}/head", headers=staff.editor(uscc=C[:18]))).json()[
        "status"
    ] == "draft"


async def test_outages_and_credentials_become_problems(
    client: httpx.AsyncClient, staff: Staff, province: Province, issuer: TestIssuer, hub: Any
) -> None:
    province.sim.upsert_item(A, item("market", "个体工商户设立登记", "000117001000"))
    province.sim.fail_next(1, 503)
    r = await client.post("/v1/sync/run", headers=staff.admin())
    assert r.status_code == 502 and r.json()["type"].endswith("/province-unavailable")
    assert (await run(client, staff))["published"] == 1  # the next pass catches up
    feed = province.gateway_url + "/v1/adapters/province-catalog/feed"
    async with httpx.AsyncClient() as http:
        assert (await http.get(feed)).status_code == 401
        wrong_scope = bearer(issuer.client("matters", "other:read"))
        assert (await http.get(feed, headers=wrong_scope)).status_code == 403
        ok = bearer(issuer.client("matters", "province-catalog:read"))
        bad_cursor = await http.get(feed, params={"since": "abc"}, headers=ok)
        assert bad_cursor.status_code == 400
        assert bad_cursor.headers["content-type"].startswith("application/problem+json")
        province.sim.secret = "rotated"  # the hub's credentials no longer match
        refused = await http.get(feed, headers=ok)
        assert refused.status_code == 502 and refused.json()["type"].endswith(
            "/province-auth-failed"
        )
    province.sim.stop()
    async with httpx.AsyncClient() as http:
        down = await http.get(feed, headers=ok)
    assert down.status_code == 502 and down.json()["type"].endswith("/province-unreachable")
