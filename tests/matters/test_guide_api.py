"""情形引导 and 办结时限 over HTTP against the published 食品经营许可 (广东) reference matter.

The article-by-article domain tests are in ``test_food_licence_guide.py``; here the key
rules of each article are checked through ``POST /v1/matters/{code}/guide`` on both sides.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.matters.app import create_app
from services.matters.bulk import load_item
from services.matters.catalog import Actor
from services.matters.demo_catalog import DEMO_FOOD_CODE, demo_items
from tests.matters.conftest import settings_for
from tests.support.apps import migrate, serve
from tests.support.tokens import TestIssuer

RETAIL = {
    "申请类型": "新办",
    "主体业态": "食品销售经营者",
    "具体业态": "便利店",
    "经营项目": ["预包装食品销售（不含冷藏冷冻食品）"],
}
ONLINE = {**RETAIL, "具体业态": "网络食品销售商", "有实体门店": False}
RESTAURANT = {
    "申请类型": "新办",
    "主体业态": "餐饮服务经营者",
    "具体业态": "小餐饮",
    "经营项目": ["热食类食品制售"],
}
KITCHEN = {
    **RESTAURANT,
    "具体业态": "中央厨房",
    "加工经营场所面积": 500,
    "配送品种": ["热食类食品"],
}
CANTEEN = {
    "申请类型": "新办",
    "主体业态": "单位食堂",
    "具体业态": "学校食堂",
    "学校类型": "小学",
    "经营项目": ["热食类食品制售"],
    "加工经营场所面积": 60,
    "就餐人数": 200,
}


@pytest.fixture(scope="module")
async def food(pg: Any, issuer: TestIssuer) -> AsyncIterator[httpx.AsyncClient]:
    url = await pg.create("matters-guide")
    migrate("matters", url)
    app = create_app(settings_for(url, issuer))
    async with serve(app) as client:
        hub = app.state.hub
        for code, content in demo_items()[:3]:
            await load_item(hub, Actor("seed", kind="seed"), code, content, publish=True)
        yield client


async def guide(client: httpx.AsyncClient, answers: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(f"/v1/matters/{DEMO_FOOD_CODE}/guide", json={"answers": answers})
    assert r.status_code == 200, r.text
    return r.json()


def articles(result: dict[str, Any]) -> list[str]:
    return [v["article"] for v in result["violations"]]


@pytest.mark.parametrize(
    ("answers", "level"),
    [(KITCHEN, "市"), ({**KITCHEN, "具体业态": "集体用餐配送单位"}, "市"),
     ({**RETAIL, "具体业态": "食品销售连锁企业总部", "经营项目": ["食品经营管理"]}, "市"),
     (RESTAURANT, "县"), (RETAIL, "县")],
)  # fmt: skip
async def test_article_4_authority_level(
    food: httpx.AsyncClient, answers: dict[str, Any], level: str
) -> None:
    assert (await guide(food, answers))["authority_level"] == level


async def test_article_6_licence_display(food: httpx.AsyncClient) -> None:
    assert (await guide(food, RESTAURANT))["licence_display"] == "餐饮服务经营者（小餐饮）"
    assert (await guide(food, RETAIL))["licence_display"] is None


@pytest.mark.parametrize(
    ("items", "refused"),
    [
        (["热食类食品制售"], True),
        (["散装熟食"], True),
        (["预包装食品销售（含冷藏冷冻食品）"], False),
    ],
)
async def test_article_8_online_seller_without_shop(
    food: httpx.AsyncClient, items: list[str], refused: bool
) -> None:
    result = await guide(food, {**ONLINE, "经营项目": items})
    assert ("第八条" in articles(result)) is refused
    with_shop = await guide(food, {**ONLINE, "有实体门店": True, "经营项目": items})
    assert "第八条" not in articles(with_shop)


@pytest.mark.parametrize(
    ("answers", "category"),
    [(RETAIL, 1), (RESTAURANT, 4), (KITCHEN, 3),
     ({**RETAIL, "具体业态": "食品销售连锁企业总部", "经营项目": ["食品经营管理"]}, 5)],
)  # fmt: skip
async def test_article_9_review_category(
    food: httpx.AsyncClient, answers: dict[str, Any], category: int
) -> None:
    assert (await guide(food, answers))["review_category"] == category


@pytest.mark.parametrize(
    ("answers", "waivable"),
    [(RETAIL, True), (RESTAURANT, False),
     ({**RESTAURANT, "申请类型": "延续", "场所设备布局变化": False}, True),
     ({**RETAIL, "经营项目": ["特殊食品销售（婴幼儿配方乳粉）"]}, False)],
)  # fmt: skip
async def test_article_10_onsite_inspection(
    food: httpx.AsyncClient, answers: dict[str, Any], waivable: bool
) -> None:
    onsite = (await guide(food, answers))["onsite_inspection"]
    assert onsite["waivable"] is waivable and onsite["reason"].startswith("第十条：")


async def test_article_11_base_materials_and_catering_extra(food: httpx.AsyncClient) -> None:
    retail = await guide(food, RETAIL)
    assert retail["materials"][0] == {
        "name": "食品经营许可申请书",
        "required": True,
        "reason": "第十一条：申请食品经营许可应当提交",
    }
    names = [m["name"] for m in (await guide(food, RESTAURANT))["materials"]]
    assert "食品添加剂使用公示制度" in names
    assert "食品添加剂使用公示制度" not in [m["name"] for m in retail["materials"]]


async def test_article_18_bulk_cooked_food_material(food: httpx.AsyncClient) -> None:
    result = await guide(
        food, {**RETAIL, "经营项目": ["散装食品销售（含冷藏冷冻食品）", "散装熟食"]}
    )
    assert any(m["reason"].startswith("第十八条：") for m in result["materials"])
    assert not any("第十八条" in m["reason"] for m in (await guide(food, RETAIL))["materials"])


@pytest.mark.parametrize(
    ("area", "diners", "refused"), [(29, 10, True), (40, 201, True), (40, 200, False)]
)
async def test_article_25_canteen_area(
    food: httpx.AsyncClient, area: int, diners: int, refused: bool
) -> None:
    result = await guide(food, {**CANTEEN, "加工经营场所面积": area, "就餐人数": diners})
    assert ("第二十五条" in articles(result)) is refused


@pytest.mark.parametrize(("school", "refused"), [("小学", True), ("高等学校", False)])
async def test_article_28_school_canteen_cold_food(
    food: httpx.AsyncClient, school: str, refused: bool
) -> None:
    answers = {**CANTEEN, "学校类型": school, "经营项目": ["热食类食品制售", "生食类食品制售"]}
    result = await guide(food, answers)
    assert ("第二十八条" in articles(result)) is refused


@pytest.mark.parametrize(("area", "refused"), [(299, True), (300, False)])
async def test_article_32_central_kitchen_area(
    food: httpx.AsyncClient, area: int, refused: bool
) -> None:
    result = await guide(food, {**KITCHEN, "加工经营场所面积": area})
    assert ("第三十二条" in articles(result)) is refused


@pytest.mark.parametrize(("item", "refused"), [("裱花蛋糕", True), ("热加工糕点", False)])
async def test_article_33_central_kitchen_delivery(
    food: httpx.AsyncClient, item: str, refused: bool
) -> None:
    result = await guide(food, {**KITCHEN, "配送品种": ["热食类食品", item]})
    assert ("第三十三条" in articles(result)) is refused


async def test_every_reason_cites_an_article(food: httpx.AsyncClient) -> None:
    for answers in (RETAIL, ONLINE, RESTAURANT, KITCHEN, CANTEEN):
        result = await guide(food, answers)
        for m in result["materials"]:
            assert m["reason"].startswith("第") and "条：" in m["reason"]
        for v in result["violations"]:
            assert v["article"].startswith("第") and v["article"].endswith("条")
        assert set(result) == {
            "materials",
            "onsite_inspection",
            "review_category",
            "authority_level",
            "licence_display",
            "violations",
        }


async def test_bad_answers_are_422_listing_fields(food: httpx.AsyncClient) -> None:
    r = await food.post(
        f"/v1/matters/{DEMO_FOOD_CODE}/guide",
        json={
            "answers": {
                "申请类型": "抢办",
                "加工经营场所面积": "大",
                "颜色": "红",
                "经营项目": "热食类食品制售",
            }
        },
    )
    assert r.status_code == 422 and r.json()["type"].endswith("/invalid-answers")
    assert {e["field"] for e in r.json()["errors"]} == {
        "申请类型",
        "加工经营场所面积",
        "颜色",
        "经营项目",
    }
    for body in ({"answers": []}, {"answers": {}, "extra": 1}, {"answers": "x"}):
        assert (
            await food.post(f"/v1/matters/{DEMO_FOOD_CODE}/guide", json=body)
        ).status_code == 422
    # partial answers are fine: nothing fires that needs unanswered questions
    assert (await guide(food, {}))["violations"] == []


async def test_guide_questions_and_matters_without_guide(food: httpx.AsyncClient) -> None:
    r = await food.get(f"/v1/matters/{DEMO_FOOD_CODE}/guide")
    keys = [q["key"] for q in r.json()["questions"]]
    assert keys[:3] == ["申请类型", "主体业态", "具体业态"]
    other = demo_items()[1][0]
    r = await food.post(f"/v1/matters/{other}/guide", json={"answers": {}})
    assert r.status_code == 404 and r.json()["type"].endswith("/guide-not-found")


async def test_due_dates_count_working_days(food: httpx.AsyncClient) -> None:
    # Accepted Monday 2026-09-28; 国庆 1-7 Oct are not working days; 承诺 10, 法定 20.
    r = await food.get(
        f"/v1/matters/{DEMO_FOOD_CODE}/due", params={"accepted_at": "2026-09-28T10:00:00+08:00"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["promised_due"] == "2026-10-16" and body["statutory_due"] == "2026-10-30"
    # 特别程序 (现场核查) time does not count: 3 working days push both dates on.
    later = (
        await food.get(
            f"/v1/matters/{DEMO_FOOD_CODE}/due",
            params={"accepted_at": "2026-09-28T10:00:00+08:00", "special_procedure_days": 3},
        )
    ).json()
    assert later["promised_due"] == "2026-10-21" and later["statutory_due"] == "2026-11-04"
    assert later["special_procedures"][0]["name"] == "现场核查"
    # 23:30 UTC on Sunday is Monday in Shanghai
    utc = (
        await food.get(
            f"/v1/matters/{DEMO_FOOD_CODE}/due", params={"accepted_at": "2026-09-27T23:30:00Z"}
        )
    ).json()
    assert utc["accepted_on"] == "2026-09-28"
    for params in (
        {},
        {"accepted_at": "yesterday"},
        {"accepted_at": "2026-09-28T10:00:00Z", "special_procedure_days": -1},
    ):
        r = await food.get(f"/v1/matters/{DEMO_FOOD_CODE}/due", params=params)
        assert r.status_code == 422, params
    assert body["provisional"] is False and later["provisional"] is False
    # A year without official data is counted on the statutory holidays, marked provisional.
    r = await food.get(
        f"/v1/matters/{DEMO_FOOD_CODE}/due", params={"accepted_at": "2199-01-05T10:00:00+08:00"}
    )
    assert r.status_code == 200 and r.json()["provisional"] is True
    for far in ("9999-12-31T10:00:00+08:00", "1900-01-02T10:00:00+08:00"):
        r = await food.get(f"/v1/matters/{DEMO_FOOD_CODE}/due", params={"accepted_at": far})
        assert r.status_code == 422 and r.json()["type"].endswith("/accepted-at-out-of-range")
