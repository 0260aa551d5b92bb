"""Roles from staff tokens: own org and 区划, 四眼原则, province-defined elements read-only."""

from __future__ import annotations

from typing import Any

import httpx

from services.matters import sync
from services.matters.demo_catalog import complete_content, implementation_code
from tests.matters.conftest import MARKET_USCC, POLICE_USCC, Staff, publish_new
from tests.support.tokens import TestIssuer, bearer

CODE = implementation_code("market", "000117002000")


def content() -> dict[str, Any]:
    return complete_content(department="market", name="公司设立登记", base_code="000117002000")


async def _create(client: httpx.AsyncClient, headers: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/v1/matters", json={"implementation_code": CODE, "content": content()}, headers=headers
    )


async def test_writes_need_a_staff_token_with_a_matters_role(
    client: httpx.AsyncClient, staff: Staff, issuer: TestIssuer
) -> None:
    assert (await _create(client, {})).status_code == 401
    citizen = bearer(issuer.citizen("ref-1"))
    assert (await _create(client, citizen)).status_code == 403
    other_role = bearer(issuer.staff(MARKET_USCC, ["cases-officer"]))
    assert (await _create(client, other_role)).status_code == 403
    forged = {
        "Authorization": "Bearer " + issuer.staff(MARKET_USCC, ["matters-editor"])[:-4] + "AAAA"
    }
    assert (await _create(client, forged)).status_code == 401


async def test_editors_only_for_their_own_org_and_division(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    r = await _create(client, staff.editor(uscc=POLICE_USCC))
    assert r.status_code == 403 and r.json()["type"].endswith("/outside-scope")
    r = await _create(client, staff.editor(division="440300"))
    assert r.status_code == 403
    assert (await _create(client, staff.editor())).status_code == 201
    # A county editor of the same org cannot touch a city-level item either.
    r = await client.patch(
        f"/v1/matters/{CODE}",
        json={"changes": {"visits": 1}},
        headers=staff.editor(division="440203"),
    )
    assert r.status_code == 403
    # An admin of the 区划 covers every org in it.
    r = await client.patch(
        f"/v1/matters/{CODE}",
        json={"changes": {"visits": 1}},
        headers=staff.admin(uscc=POLICE_USCC),
    )
    assert r.status_code == 201
    # Staff of another org do not see drafts.
    head = await client.get(f"/v1/matters/{CODE}/head", headers=staff.editor(uscc=POLICE_USCC))
    assert head.status_code == 403
    assert (await client.get(f"/v1/matters/{CODE}/head")).status_code == 401


async def test_an_approver_cannot_approve_their_own_edit(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    both = staff.same_person(["matters-editor", "matters-approver"])
    assert (await _create(client, both)).status_code == 201
    assert (
        await client.post(f"/v1/matters/{CODE}/versions/1/submit", headers=both)
    ).status_code == 200
    own = await client.post(f"/v1/matters/{CODE}/versions/1/approve", headers=both)
    assert own.status_code == 403 and own.json()["type"].endswith("/own-edit")
    # an editor may not approve or publish at all
    r = await client.post(f"/v1/matters/{CODE}/versions/1/approve", headers=staff.editor())
    assert r.status_code == 403
    ok = await client.post(f"/v1/matters/{CODE}/versions/1/approve", headers=staff.approver())
    assert ok.status_code == 200 and ok.json()["approved_by"] != "staff-fixed"
    r = await client.post(f"/v1/matters/{CODE}/versions/1/publish", headers=staff.editor())
    assert r.status_code == 403
    r = await client.post(f"/v1/matters/{CODE}/versions/1/publish", headers=staff.approver())
    assert r.status_code == 200


async def test_province_items_are_read_only_except_secondary_fields(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    hub = client.app.state.hub  # type: ignore[attr-defined]
    change = {
        "seq": 1,
        "cursor": "1",
        "change_id": "c1",
        "kind": "implementation_item",
        "op": "upsert",
        "code": CODE,
        "data": content(),
    }
    async with hub.db.transaction() as session:
        assert await sync.apply_change(hub, session, change) == "published"
    r = await client.patch(
        f"/v1/matters/{CODE}",
        json={"changes": {"name": "改名", "statutory_limit_days": 30, "promised_limit_days": 2}},
        headers=staff.editor(),
    )
    assert r.status_code == 403
    assert r.json()["fields"] == ["name", "statutory_limit_days"]
    ok = await client.patch(
        f"/v1/matters/{CODE}",
        json={"changes": {"promised_limit_days": 2, "place": "韶关市政务服务中心3楼"}},
        headers=staff.editor(),
    )
    assert ok.status_code == 201 and ok.json()["origin"] == "province"


async def test_public_reads_need_no_token(client: httpx.AsyncClient, staff: Staff) -> None:
    await publish_new(client, staff, CODE, content())
    assert (await client.get(f"/v1/matters/{CODE}")).status_code == 200
    assert (await client.get("/v1/matters/search", params={"q": "公司"})).status_code == 200
    # 同源发布: staff and the public read the very same document.
    anonymous = await client.get(f"/v1/matters/{CODE}")
    as_staff = await client.get(f"/v1/matters/{CODE}", headers=staff.editor())
    assert anonymous.json() == as_staff.json()
    assert anonymous.headers["etag"] == as_staff.headers["etag"]
