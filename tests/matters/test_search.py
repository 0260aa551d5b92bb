"""Search relevance for real queries on the demo catalog, on PostgreSQL and on SQLite."""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.matters.app import create_app
from services.matters.demo_catalog import DEMO_FOOD_CODE, DEPARTMENTS
from services.matters.seed import seed_demo
from tests.matters.conftest import settings_for
from tests.support.apps import serve
from tests.support.tokens import TestIssuer


@pytest.fixture(scope="module")
async def pg_catalog(pg: Any, issuer: TestIssuer) -> AsyncIterator[httpx.AsyncClient]:
    url = await pg.create("matters-search")
    lines = await seed_demo(url)
    assert any(DEMO_FOOD_CODE in line for line in lines)
    async with serve(create_app(settings_for(url, issuer))) as client:
        yield client


async def names(client: httpx.AsyncClient, **params: Any) -> list[str]:
    r = await client.get("/v1/matters/search", params=params)
    assert r.status_code == 200, r.text
    return [i["name"] for i in r.json()["items"]]


@pytest.mark.parametrize(
    ("query", "first"),
    [
        ("食品经营许可", "食品经营许可"),
        ("spjyxk", "食品经营许可"),  # 拼音 initials
        ("SPJYXK", "食品经营许可"),
        ("shipinjingying", "食品经营许可"),  # full 拼音 prefix
        ("开餐馆", "食品经营许可"),  # keyword
        ("个体工商户", "个体工商户设立登记"),
        ("身份证", "居民身份证申领"),
        ("驾驶证换证", "机动车驾驶证换证"),
        ("公积金提取", "住房公积金提取"),
        ("婚姻登记", "内地居民婚姻登记"),
        ("不动产", "不动产登记"),
        ("低保", "最低生活保障金给付"),
    ],
)
async def test_real_queries_rank_the_expected_matter_first(
    pg_catalog: httpx.AsyncClient, query: str, first: str
) -> None:
    found = await names(pg_catalog, q=query)
    assert found and found[0] == first, found


async def test_words_rank_full_matches_above_partial_ones(pg_catalog: httpx.AsyncClient) -> None:
    found = await names(pg_catalog, q="食品许可")
    assert found[:2] == ["食品经营许可", "食品生产许可"] or found[:2] == [
        "食品生产许可",
        "食品经营许可",
    ]
    assert "公司设立登记" not in found
    permits = await names(pg_catalog, q="许可证核发")
    assert set(permits[:3]) >= {"建设用地规划许可证核发", "建筑工程施工许可证核发"}


async def test_code_prefix_finds_a_departments_matters(pg_catalog: httpx.AsyncClient) -> None:
    police = DEPARTMENTS["police"][1]
    r = await pg_catalog.get("/v1/matters/search", params={"q": police})
    codes = {i["implementation_code"][:18] for i in r.json()["items"]}
    assert codes == {police}
    exact = await pg_catalog.get("/v1/matters/search", params={"q": DEMO_FOOD_CODE})
    assert [i["implementation_code"] for i in exact.json()["items"]] == [DEMO_FOOD_CODE]
    item = exact.json()["items"][0]
    assert item["department"] == "韶关市市场监督管理局" and item["type"] == "行政许可"


async def test_filters(pg_catalog: httpx.AsyncClient) -> None:
    grants = await names(pg_catalog, type="行政给付")
    assert set(grants) == {"失业保险金申领", "最低生活保障金给付", "医疗费用报销", "退役士兵安置"}
    offline = await names(pg_catalog, online="false")
    assert "居民身份证申领" in offline and "食品经营许可" not in offline
    persons = await names(pg_catalog, q="许可", service_object="其他组织")
    assert "食品经营许可" in persons and "食品生产许可" not in persons
    by_dept = await names(pg_catalog, department="韶关市公安局")
    assert set(by_dept) == {"居民身份证申领", "户口迁移登记", "机动车驾驶证换证"}
    assert await names(pg_catalog, q="许可", division="440300") == []
    assert "食品经营许可" in await names(pg_catalog, q="许可", division="440200")
    assert await names(pg_catalog, q="量子纠缠") == []
    page1 = (await pg_catalog.get("/v1/matters/search", params={"q": "许可", "limit": 2})).json()
    page2 = (
        await pg_catalog.get(
            "/v1/matters/search", params={"q": "许可", "limit": 2, "offset": page1["next_offset"]}
        )
    ).json()
    assert len(page1["items"]) == 2 and page1["next_offset"] == 2
    assert not {i["implementation_code"] for i in page1["items"]} & {
        i["implementation_code"] for i in page2["items"]
    }
    odd = await pg_catalog.get("/v1/matters/search", params={"q": "%_'\";--"})
    assert odd.status_code == 422  # nothing searchable left: same as an empty query


async def test_search_and_seed_work_on_sqlite(issuer: TestIssuer) -> None:
    path = Path(tempfile.mkdtemp(prefix="matters-sqlite-")) / "matters.db"
    url = f"sqlite+aiosqlite:///{path}"
    first = await seed_demo(url)
    second = await seed_demo(url)  # idempotent
    assert "(35 new or changed)" in first[0] and "(0 new or changed)" in second[0]
    async with serve(create_app(settings_for(url, issuer))) as client:
        assert (await names(client, q="spjyxk"))[0] == "食品经营许可"
        assert (await names(client, q="身份证"))[0] == "居民身份证申领"
        assert "食品经营许可" in await names(client, q="许可", service_object="自然人")
        r = await client.post(f"/v1/matters/{DEMO_FOOD_CODE}/guide", json={"answers": {}})
        assert r.status_code == 200
