"""Lifecycle, publish gate, versions and diffs, ETag, bad inputs — over HTTP on PostgreSQL."""

from __future__ import annotations

import copy
from typing import Any

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from services.matters.demo_catalog import complete_content, implementation_code
from tests.matters.conftest import MARKET_USCC, Staff, publish_new

CODE = implementation_code("market", "000117001000")


def content(**changes: Any) -> dict[str, Any]:
    c = complete_content(department="market", name="个体工商户设立登记", base_code="000117001000")
    c.update(changes)
    return c


async def test_publish_gate_lists_every_missing_element(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    draft = {"name": "个体工商户设立登记", "division_code": "440200"}
    r = await client.post(
        "/v1/matters",
        json={"implementation_code": CODE, "content": draft},
        headers=staff.editor(),
    )
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "draft"
    for action, who in (("submit", staff.editor), ("approve", staff.approver)):
        assert (
            await client.post(f"/v1/matters/{CODE}/versions/1/{action}", headers=who())
        ).status_code == 200
    r = await client.post(f"/v1/matters/{CODE}/versions/1/publish", headers=staff.approver())
    assert r.status_code == 422
    body = r.json()
    assert r.headers["content-type"].startswith("application/problem+json")
    assert body["type"].endswith("/elements-missing")
    missing = {m["element"] for m in body["missing"]}
    assert missing == {
        "基本编码",
        "实施编码规则",
        "子项拆分",
        "事项类型",
        "设定依据",
        "办理流程",
        "办理时限",
        "提交材料",
        "表单内容",
        "受理条件",
        "中介服务",
        "办理结果",
    }
    # Nothing was published: the public read still says so.
    assert (await client.get(f"/v1/matters/{CODE}")).status_code == 404


async def test_complete_item_publishes_and_reads_with_etag(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    published = await publish_new(client, staff, CODE, content())
    assert published["status"] == "published"
    assert published["missing_elements"] == []
    r = await client.get(f"/v1/matters/{CODE}")
    assert r.status_code == 200
    etag = r.headers["etag"]
    assert r.json()["name"] == "个体工商户设立登记" and r.json()["version"] == 1
    again = await client.get(f"/v1/matters/{CODE}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    other = await client.get(f"/v1/matters/{CODE}", headers={"If-None-Match": '"nope"'})
    assert other.status_code == 200
    # A new published version changes the ETag; the old one no longer matches.
    await _edit_and_publish(client, staff, {"promised_limit_days": 2})
    r2 = await client.get(f"/v1/matters/{CODE}", headers={"If-None-Match": etag})
    assert r2.status_code == 200 and r2.headers["etag"] != etag
    assert r2.json()["promised_limit_days"] == 2


async def _edit_and_publish(
    client: httpx.AsyncClient, staff: Staff, changes: dict[str, Any]
) -> int:
    r = await client.patch(f"/v1/matters/{CODE}", json={"changes": changes}, headers=staff.editor())
    assert r.status_code == 201, r.text
    v = r.json()["version"]
    for action, who in (
        ("submit", staff.editor),
        ("approve", staff.approver),
        ("publish", staff.approver),
    ):
        r = await client.post(f"/v1/matters/{CODE}/versions/{v}/{action}", headers=who())
        assert r.status_code == 200, r.text
    return v


async def test_every_change_is_a_version_with_a_field_level_diff(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    await publish_new(client, staff, CODE, content())
    materials = copy.deepcopy(content()["materials"])
    materials[0]["paper_copies"] = 2
    r = await client.patch(
        f"/v1/matters/{CODE}",
        json={"changes": {"promised_limit_days": 2, "materials": materials}},
        headers=staff.editor(),
    )
    assert r.status_code == 201
    v2 = r.json()
    assert v2["version"] == 2 and v2["status"] == "draft" and v2["based_on"] == 1
    diff = {d["path"]: d for d in v2["diff"]}
    assert diff["promised_limit_days"] == {
        "path": "promised_limit_days",
        "op": "change",
        "old": 10,
        "new": 2,
    }
    assert diff["materials[0].paper_copies"]["new"] == 2
    assert len(diff) == 2
    # The same change again makes no new version.
    same = await client.patch(
        f"/v1/matters/{CODE}", json={"changes": {"promised_limit_days": 2}}, headers=staff.editor()
    )
    assert same.status_code == 200 and same.json()["version"] == 2
    # Another edit supersedes the open draft; the published version is untouched.
    r3 = await client.patch(
        f"/v1/matters/{CODE}",
        json={"changes": {"hours": "工作日 9:00-17:00"}},
        headers=staff.editor(),
    )
    assert r3.json()["version"] == 3
    history = (await client.get(f"/v1/matters/{CODE}/versions", headers=staff.editor())).json()
    assert [(v["version"], v["status"]) for v in history["versions"]] == [
        (1, "published"),
        (2, "superseded"),
        (3, "draft"),
    ]
    public = (await client.get(f"/v1/matters/{CODE}/versions")).json()
    assert [v["version"] for v in public["versions"]] == [1]
    v1 = (await client.get(f"/v1/matters/{CODE}/versions/1")).json()
    assert v1["promised_limit_days"] == 10  # published versions never change
    assert (await client.get(f"/v1/matters/{CODE}/versions/3")).status_code == 404


async def test_published_version_is_superseded_and_withdraw_removes_it(
    client: httpx.AsyncClient, staff: Staff, matters_url: str
) -> None:
    await publish_new(client, staff, CODE, content())
    v2 = await _edit_and_publish(client, staff, {"promised_limit_days": 1})
    statuses = [
        (v["version"], v["status"])
        for v in (await client.get(f"/v1/matters/{CODE}/versions")).json()["versions"]
    ]
    assert statuses == [(1, "superseded"), (v2, "published")]
    r = await client.post(
        f"/v1/matters/{CODE}/withdraw", json={"reason": "事项取消"}, headers=staff.approver()
    )
    assert r.status_code == 200 and r.json()["status"] == "withdrawn"
    gone = await client.get(f"/v1/matters/{CODE}")
    assert gone.status_code == 410 and gone.json()["type"].endswith("/matter-withdrawn")
    found = await client.get("/v1/matters/search", params={"q": "个体工商户"})
    assert found.json()["items"] == []
    again = await client.post(
        f"/v1/matters/{CODE}/withdraw", json={"reason": "x"}, headers=staff.approver()
    )
    assert again.status_code == 409
    engine = create_async_engine(matters_url)
    async with engine.connect() as conn:
        types = (
            (await conn.execute(text("SELECT event_type FROM outbox ORDER BY id"))).scalars().all()
        )
    await engine.dispose()
    assert types == ["hub.matter.published", "hub.matter.published", "hub.matter.withdrawn"]


async def test_transitions_out_of_order_are_refused(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    r = await client.post(
        "/v1/matters",
        json={"implementation_code": CODE, "content": content()},
        headers=staff.editor(),
    )
    assert r.status_code == 201
    for action in ("approve", "publish"):
        r = await client.post(f"/v1/matters/{CODE}/versions/1/{action}", headers=staff.approver())
        assert r.status_code == 409 and r.json()["type"].endswith("/invalid-transition")
    assert (
        await client.post(f"/v1/matters/{CODE}/versions/1/submit", headers=staff.editor())
    ).status_code == 200
    back = await client.post(f"/v1/matters/{CODE}/versions/1/return", headers=staff.approver())
    assert back.status_code == 200 and back.json()["status"] == "draft"
    unknown = await client.post(f"/v1/matters/{CODE}/versions/1/explode", headers=staff.approver())
    assert unknown.status_code == 422
    missing = await client.post(f"/v1/matters/{CODE}/versions/9/submit", headers=staff.editor())
    assert missing.status_code == 404


async def test_stale_draft_cannot_overwrite_a_newer_publication(
    client: httpx.AsyncClient, staff: Staff
) -> None:
    await publish_new(client, staff, CODE, content())
    r = await client.patch(
        f"/v1/matters/{CODE}", json={"changes": {"visits": 1}}, headers=staff.editor()
    )
    assert r.status_code == 201
    # If-Match guards concurrent edits.
    conflict = await client.patch(
        f"/v1/matters/{CODE}",
        json={"changes": {"visits": 2}},
        headers={**staff.editor(), "If-Match": "1"},
    )
    assert conflict.status_code == 412 and conflict.json()["head_version"] == 2


async def test_bad_inputs_are_problems_not_500s(client: httpx.AsyncClient, staff: Staff) -> None:
    bad_check = CODE[:17] + ("0" if CODE[17] != "0" else "1") + CODE[18:]
    cases: list[tuple[str, str, dict[str, Any] | None, int, str]] = [
        (
            "POST",
            "/v1/matters",
            {"implementation_code": bad_check, "content": content()},
            422,
            "invalid-implementation-code",
        ),
        (
            "POST",
            "/v1/matters",
            {"implementation_code": "short", "content": content()},
            422,
            "invalid-implementation-code",
        ),
        (
            "POST",
            "/v1/matters",
            {"implementation_code": CODE, "content": content(promised_limit_days=99)},
            422,
            "invalid-content",
        ),
        (
            "POST",
            "/v1/matters",
            {"implementation_code": CODE, "content": content(base_code="abc")},
            422,
            "invalid-content",
        ),
        (
            "POST",
            "/v1/matters",
            {"implementation_code": CODE, "content": {"name": "x", "colour": "red"}},
            422,
            "invalid-content",
        ),
        (
            "POST",
            "/v1/matters",
            {
                "implementation_code": CODE,
                "content": content(
                    implementing_body={"name": "别的单位", "uscc": "91440200MA4UKGXW3A"}
                ),
            },
            422,
            "invalid-content",
        ),
        (
            "POST",
            "/v1/matters",
            {
                "implementation_code": CODE,
                "content": content(forms=[{"name": "表", "schema": {"type": "nonsense"}}]),
            },
            422,
            "invalid-content",
        ),
        (
            "POST",
            "/v1/matters",
            {"implementation_code": CODE, "content": content(guide={"questions": 1})},
            422,
            "invalid-content",
        ),
        ("POST", "/v1/matters", {"content": {}}, 422, "validation-error"),
        ("GET", f"/v1/matters/{bad_check}", None, 422, "invalid-implementation-code"),
        ("GET", "/v1/matters/" + "9" * 31, None, 422, "invalid-implementation-code"),
        ("GET", f"/v1/matters/{CODE}", None, 404, "matter-not-found"),
        ("GET", f"/v1/matters/{CODE}/versions/abc", None, 422, "validation-error"),
        ("GET", f"/v1/matters/{CODE}/versions/99999999999", None, 422, "validation-error"),
        ("POST", f"/v1/matters/{CODE}/versions/99999999999/submit", None, 422, "validation-error"),
        ("GET", "/v1/matters/search", None, 422, "empty-query"),
        ("GET", "/v1/matters/search?q=x&type=魔法", None, 422, "invalid-filter"),
        ("GET", "/v1/matters/search?q=x&limit=0", None, 422, "validation-error"),
        ("GET", "/v1/matters/search?q=x&division=abc", None, 422, "validation-error"),
    ]
    for method, path, body, status, code in cases:
        r = await client.request(method, path, json=body, headers=staff.editor())
        assert r.status_code == status, (path, body and list(body), r.text)
        assert r.json()["type"].endswith("/" + code), (path, r.json())
    huge = await client.post(
        "/v1/sync/issues/99999999999999999999/resolve",
        json={"keep": "local"},
        headers=staff.admin(),
    )
    assert huge.status_code == 422
    errors = (
        await client.post(
            "/v1/matters",
            json={
                "implementation_code": CODE,
                "content": content(promised_limit_days=-1, visits="x"),
            },
            headers=staff.editor(),
        )
    ).json()["errors"]
    assert {e["field"] for e in errors} == {"promised_limit_days", "visits"}
    broken = await client.post(
        "/v1/matters",
        content=b"{not json",
        headers={**staff.editor(), "content-type": "application/json"},
    )
    assert broken.status_code == 400
    await publish_new(client, staff, CODE, content())
    dup = await client.post(
        "/v1/matters",
        json={"implementation_code": CODE, "content": content()},
        headers=staff.editor(),
    )
    assert dup.status_code == 409 and dup.json()["type"].endswith("/implementation-code-taken")
    # lower-case and full-width input is the same code
    lower = await client.get(f"/v1/matters/{CODE.lower()}")
    assert lower.status_code == 200 and lower.json()["implementation_code"] == CODE
    assert CODE[:18] == MARKET_USCC
