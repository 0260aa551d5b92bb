"""The 广东 食品经营许可 guide (seed 000) evaluated article by article, both sides of each rule."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from services.matters.domain.guide import (
    GuideResult,
    evaluate_guide,
    validate_answers,
    validate_guide_definition,
)
from services.matters.domain.reference import load_food_licence_guide

GUIDE = load_food_licence_guide()

ARTICLE = re.compile(r"^第[零一二三四五六七八九十百]+条：")

RETAIL: dict[str, Any] = {
    "申请类型": "新办",
    "主体业态": "食品销售经营者",
    "具体业态": "便利店",
    "经营项目": ["预包装食品销售（不含冷藏冷冻食品）"],
}
ONLINE: dict[str, Any] = {
    **RETAIL,
    "具体业态": "网络食品销售商",
    "有实体门店": False,
    "经营项目": ["预包装食品销售（含冷藏冷冻食品）"],
}
RESTAURANT: dict[str, Any] = {
    "申请类型": "新办",
    "主体业态": "餐饮服务经营者",
    "具体业态": "小餐饮",
    "经营项目": ["热食类食品制售"],
}
CENTRAL_KITCHEN: dict[str, Any] = {
    **RESTAURANT,
    "具体业态": "中央厨房",
    "加工经营场所面积": 500,
    "配送品种": ["热食类食品"],
}
SCHOOL_CANTEEN: dict[str, Any] = {
    "申请类型": "新办",
    "主体业态": "单位食堂",
    "具体业态": "学校食堂",
    "学校类型": "小学",
    "经营项目": ["热食类食品制售"],
    "加工经营场所面积": 60,
    "就餐人数": 200,
}
BASE_MATERIALS = [
    "食品经营许可申请书",
    "营业执照或法人登记证等主体资格证明（复印件，并提供原件核对）",
    "法定代表人（负责人）、食品安全管理员的身份证明（复印件）",
    "与食品经营相适应的主要设备设施布局、操作流程等文件",
    "食品安全管理制度",
]
CANTEEN_FOUNDER_DOC = "开办者的法人登记证、社团登记证或营业执照等主体证明文件"
PARTNER_AGREEMENT = "与挂钩生产单位的合作协议（合同）"
PARTNER_PERMIT = "挂钩生产单位的《食品生产许可证》或《食品小作坊登记证》等有效许可证明材料"
STORAGE_INFO = "食品贮存场所地址、面积、设备设施等信息"
COMMITMENT = "申请人承诺书（“申请人承诺制”，可选）"


def run(answers: dict[str, Any]) -> dict[str, Any]:
    return evaluate_guide(GUIDE, answers).to_dict()


def violations(answers: dict[str, Any], article: str) -> list[str]:
    return [v["message"] for v in run(answers)["violations"] if v["article"] == article]


def material(answers: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((m for m in run(answers)["materials"] if m["name"] == name), None)


def names(answers: dict[str, Any]) -> list[str]:
    return [m["name"] for m in run(answers)["materials"]]


# --- the reference definition itself ---------------------------------------------------


def test_reference_guide_is_structurally_valid() -> None:
    assert validate_guide_definition(GUIDE) == []


def test_reference_guide_has_the_agreed_answer_keys() -> None:
    keys = [q["key"] for q in GUIDE["questions"]]
    assert keys == [
        "申请类型", "主体业态", "具体业态", "学校类型", "经营项目", "有实体门店",
        "场所设备布局变化", "加工经营场所面积", "就餐人数", "散装酒", "异地仓库", "承包经营",
        "配送品种",
    ]  # fmt: skip
    options = {q["key"]: q.get("options") for q in GUIDE["questions"]}
    assert options["申请类型"] == ["新办", "变更", "延续", "补办"]
    assert options["主体业态"] == ["食品销售经营者", "餐饮服务经营者", "单位食堂"]
    assert options["学校类型"] == [
        "高等学校",
        "中等职业学校",
        "普通中等学校",
        "小学",
        "特殊教育学校",
    ]
    for form in ("大型餐馆", "中型餐馆", "小型餐馆", "托幼机构食堂", "工地食堂", "食品贸易商"):
        assert form in options["具体业态"]
    for item in ("预包装食品销售（含冷藏冷冻食品）", "特殊食品销售（婴幼儿配方乳粉）", "散装熟食"):
        assert item in options["经营项目"]


def test_reference_guide_is_json_and_records_its_interpretations() -> None:
    assert json.loads(json.dumps(GUIDE, ensure_ascii=False)) == GUIDE
    assert GUIDE["notes"] and all(isinstance(n, str) and n for n in GUIDE["notes"])
    assert load_food_licence_guide() is not load_food_licence_guide()  # callers may mutate


# --- 第四条: 审查层级 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "main_form", "level"),
    [
        ("中央厨房", "餐饮服务经营者", "市"),
        ("集体用餐配送单位", "餐饮服务经营者", "市"),
        ("餐饮服务连锁企业总部", "餐饮服务经营者", "市"),
        ("食品销售连锁企业总部", "食品销售经营者", "市"),
        ("小餐饮", "餐饮服务经营者", "县"),
        ("餐饮管理企业", "餐饮服务经营者", "县"),
        ("便利店", "食品销售经营者", "县"),
        ("学校食堂", "单位食堂", "县"),
    ],
)
def test_article_4_city_level_for_high_risk_forms(form: str, main_form: str, level: str) -> None:
    result = evaluate_guide(GUIDE, {**RESTAURANT, "主体业态": main_form, "具体业态": form})
    assert result.authority_level == level
    assert result.authority_reason.startswith("第四条：")


# --- 第六条 / 第八条: 主体业态 and 具体业态 --------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "display"),
    [
        (CENTRAL_KITCHEN, "餐饮服务经营者（中央厨房）"),
        ({**RESTAURANT, "具体业态": "大型餐馆"}, "餐饮服务经营者（大型餐馆）"),
        (ONLINE, "食品销售经营者（网络食品销售商）"),
        ({**RETAIL, "具体业态": "食品贸易商"}, "食品销售经营者（食品贸易商）"),
        (RETAIL, None),
        ({**RETAIL, "具体业态": "商场超市"}, None),
        (SCHOOL_CANTEEN, None),
    ],
)
def test_article_6_licence_brackets(answers: dict[str, Any], display: str | None) -> None:
    assert run(answers)["licence_display"] == display


def test_article_6_specific_form_must_belong_to_the_main_form() -> None:
    mismatch = {**RETAIL, "具体业态": "小餐饮"}
    assert violations(mismatch, "第六条") == [
        "具体业态“小餐饮”不属于主体业态“食品销售经营者”，每份申请只能申报一种主体业态及其下的具体业态"
    ]
    assert run(mismatch)["licence_display"] is None  # no bracket for an inconsistent pair
    assert violations(RETAIL, "第六条") == []
    assert violations({**SCHOOL_CANTEEN, "具体业态": "工地食堂"}, "第六条") == []


def test_article_8_only_one_main_form_per_application() -> None:
    errors = validate_answers(GUIDE, {**RETAIL, "主体业态": ["食品销售经营者", "餐饮服务经营者"]})
    assert [e["field"] for e in errors] == ["主体业态"]


@pytest.mark.parametrize("item", ["散装熟食", "热食类食品制售", "自制饮品制售（不含自酿酒）"])
def test_article_8_online_seller_without_shop_may_not_make_or_sell_cooked(item: str) -> None:
    answers = {**ONLINE, "经营项目": ["预包装食品销售（含冷藏冷冻食品）", item]}
    messages = violations(answers, "第八条")
    assert len(messages) == 1
    assert messages[0].endswith(f"：{item}")  # names only the offending item
    assert violations({**answers, "有实体门店": True}, "第八条") == []


def test_article_8_online_seller_without_shop_may_sell_prepackaged() -> None:
    assert run(ONLINE)["violations"] == []


# --- 第七条: 经营项目 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "main_form", "refused"),
    [
        ("便利店", "食品销售经营者", True),
        ("大型餐馆", "餐饮服务经营者", True),
        ("食品销售连锁企业总部", "食品销售经营者", False),
        ("餐饮服务连锁企业总部", "餐饮服务经营者", False),
        ("餐饮管理企业", "餐饮服务经营者", False),
    ],
)
def test_article_7_food_management_only_for_hq_and_management_firms(
    form: str, main_form: str, refused: bool
) -> None:
    answers = {**RETAIL, "主体业态": main_form, "具体业态": form, "经营项目": ["食品经营管理"]}
    assert bool(violations(answers, "第七条")) is refused


def test_article_7_included_and_excluded_qualifier_are_exclusive() -> None:
    both = ["冷食类食品制售（含烧卤熟肉）", "冷食类食品制售（不含烧卤熟肉）"]
    assert violations({**RESTAURANT, "经营项目": both}, "第七条")
    one = ["冷食类食品制售（含烧卤熟肉）", "热食类食品制售"]
    assert violations({**RESTAURANT, "经营项目": one}, "第七条") == []


# --- 第九条 / 第二十四条: 审查类别 ---------------------------------------------------------


@pytest.mark.parametrize(
    ("main_form", "form", "category"),
    [
        ("食品销售经营者", "便利店", 1),
        ("食品销售经营者", "网络食品销售商", 1),
        ("餐饮服务经营者", "大型餐馆", 2),
        ("单位食堂", "职工食堂", 2),
        ("餐饮服务经营者", "中央厨房", 3),
        ("餐饮服务经营者", "集体用餐配送单位", 3),
        ("餐饮服务经营者", "小餐饮", 4),
        ("餐饮服务经营者", "饮品店", 4),
        ("餐饮服务经营者", "糕点店", 4),
        ("食品销售经营者", "食品销售连锁企业总部", 5),
        ("餐饮服务经营者", "餐饮服务连锁企业总部", 5),
        ("餐饮服务经营者", "餐饮管理企业", 5),
    ],
)
def test_article_9_review_categories(main_form: str, form: str, category: int) -> None:
    answers = {
        "主体业态": main_form,
        "具体业态": form,
        "经营项目": ["预包装食品销售（含冷藏冷冻食品）"],
    }
    assert run(answers)["review_category"] == category


def test_article_9_category_unknown_until_forms_are_answered() -> None:
    assert run({"申请类型": "新办"})["review_category"] is None


@pytest.mark.parametrize(
    ("items", "category"),
    [
        (["预包装食品销售（含冷藏冷冻食品）", "热食类食品制售"], 2),
        (["冷食类食品制售（不含烧卤熟肉）"], 2),
        (["糕点类食品制售（不含裱花类糕点）"], 4),
        (["自制饮品制售（不含自酿酒）", "预包装食品销售（含冷藏冷冻食品）"], 4),
        (["自制饮品制售（不含自酿酒）", "生食类食品制售"], 2),
        (["预包装食品销售（含冷藏冷冻食品）", "散装熟食"], 1),
    ],
)
def test_article_24_seller_making_food_is_reviewed_as_category_2_or_4(
    items: list[str], category: int
) -> None:
    result = evaluate_guide(GUIDE, {**RETAIL, "经营项目": items})
    assert result.review_category == category
    expected = "第二十四条：" if category != 1 else "第九条："
    assert (result.review_category_reason or "").startswith(expected)


def test_article_24_does_not_override_category_5_or_catering() -> None:
    hq = {**RETAIL, "具体业态": "食品销售连锁企业总部", "经营项目": ["热食类食品制售"]}
    assert run(hq)["review_category"] == 5
    assert (
        run({**RESTAURANT, "经营项目": ["糕点类食品制售（含裱花类糕点）"]})["review_category"] == 4
    )


# --- 第十条: 现场核查 -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "waivable"),
    [
        (RETAIL, True),
        (
            {
                **RETAIL,
                "经营项目": ["预包装食品销售（含冷藏冷冻食品）", "特殊食品销售（保健食品）"],
            },
            True,
        ),
        ({**RETAIL, "经营项目": ["特殊食品销售（特殊医学用途配方食品）"]}, True),
        ({**RETAIL, "具体业态": "食品销售连锁企业总部", "经营项目": ["食品经营管理"]}, True),
        ({**RETAIL, "经营项目": ["预包装食品销售（含冷藏冷冻食品）", "其他类食品销售"]}, False),
        ({**RETAIL, "经营项目": ["散装食品销售（不含冷藏冷冻食品）"]}, False),
        ({**RETAIL, "经营项目": ["特殊食品销售（其他婴幼儿配方食品）"]}, False),
        ({**ONLINE, "经营项目": ["散装食品销售（含冷藏冷冻食品）"]}, True),
        ({**RETAIL, "具体业态": "食品自动售货销售商", "经营项目": ["其他类食品销售"]}, True),
        ({**RESTAURANT, "申请类型": "延续", "场所设备布局变化": False}, True),
        ({**RESTAURANT, "申请类型": "补办", "场所设备布局变化": False}, True),
        ({**RESTAURANT, "申请类型": "变更", "场所设备布局变化": True}, False),
        ({**RESTAURANT, "申请类型": "变更"}, False),  # unanswered: not assumed unchanged
        ({**RESTAURANT, "场所设备布局变化": False}, False),  # 新办: question not asked
        (RESTAURANT, False),
        ({**RETAIL, "经营项目": []}, False),
    ],
)
def test_article_10_onsite_inspection_waiver(answers: dict[str, Any], waivable: bool) -> None:
    onsite = run(answers)["onsite_inspection"]
    assert onsite["waivable"] is waivable
    assert onsite["reason"].startswith("第十条：")


@pytest.mark.parametrize(
    "answers",
    [
        {**RETAIL, "经营项目": ["特殊食品销售（婴幼儿配方乳粉）"]},
        {**ONLINE, "经营项目": ["特殊食品销售（婴幼儿配方乳粉）"]},
        {**RETAIL, "申请类型": "变更", "场所设备布局变化": False,
         "经营项目": ["预包装食品销售（含冷藏冷冻食品）", "特殊食品销售（婴幼儿配方乳粉）"]},
    ],
)  # fmt: skip
def test_article_10_infant_formula_is_never_waivable(answers: dict[str, Any]) -> None:
    onsite = run(answers)["onsite_inspection"]
    assert onsite["waivable"] is False
    assert "婴幼儿配方乳粉" in onsite["reason"]


# --- 第十一条: 基础材料 ------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["新办", "变更", "延续", "补办"])
def test_article_11_base_materials_come_first_for_every_application(kind: str) -> None:
    answers = {**RETAIL, "申请类型": kind, "散装酒": True, "异地仓库": True}
    assert names(answers)[:5] == BASE_MATERIALS
    assert all(m["required"] for m in run(answers)["materials"][:5])


def test_article_11_canteen_submits_founder_documents_instead_of_business_licence() -> None:
    got = names(SCHOOL_CANTEEN)
    assert CANTEEN_FOUNDER_DOC in got
    assert BASE_MATERIALS[1] not in got
    assert CANTEEN_FOUNDER_DOC not in names(RETAIL)


def test_article_11_catering_adds_food_additive_notice() -> None:
    notice = "食品添加剂使用公示制度"
    assert names(RESTAURANT)[5] == notice  # still with the base materials
    assert notice not in names(RETAIL)
    assert notice not in names(SCHOOL_CANTEEN)


# --- 第十三条: 告知承诺 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "offered"),
    [
        (RETAIL, True),
        (ONLINE, True),
        (RESTAURANT, True),
        ({**RESTAURANT, "具体业态": "饮品店"}, True),
        ({**RESTAURANT, "具体业态": "大型餐馆"}, False),
        (CENTRAL_KITCHEN, False),
        ({**RETAIL, "具体业态": "食品销售连锁企业总部"}, False),
        (SCHOOL_CANTEEN, False),
    ],
)
def test_article_13_commitment_offered_for_low_risk_forms(
    answers: dict[str, Any], offered: bool
) -> None:
    item = material(answers, COMMITMENT)
    assert (item is not None) is offered
    if item is not None:
        assert item["required"] is False
        assert item["reason"].startswith("第十三条：")
        assert "事后核查" in item["reason"]


# --- 第十八条 — 第二十三条: 销售类附加材料 ------------------------------------------------------


def test_article_18_bulk_cooked_food_and_liquor_need_partner_documents() -> None:
    assert PARTNER_AGREEMENT not in names(RETAIL)
    cooked = {**RETAIL, "经营项目": ["散装食品销售（不含冷藏冷冻食品）", "散装熟食"]}
    assert material(cooked, PARTNER_AGREEMENT) == {
        "name": PARTNER_AGREEMENT,
        "required": True,
        "reason": "第十八条：申请销售散装熟食的应当提交",
    }
    assert material({**RETAIL, "散装酒": True}, PARTNER_PERMIT) is not None
    assert material({**RETAIL, "散装酒": False}, PARTNER_PERMIT) is None


def test_article_18_materials_are_deduplicated_with_merged_reasons() -> None:
    both = {**RETAIL, "经营项目": ["散装熟食"], "散装酒": True}
    got = names(both)
    assert got.count(PARTNER_AGREEMENT) == 1
    assert got.count(PARTNER_PERMIT) == 1
    reason = material(both, PARTNER_AGREEMENT)["reason"]  # type: ignore[index]
    assert reason == "第十八条：申请销售散装熟食的应当提交；第十八条：申请销售散装酒的应当提交"


def test_article_19_vending_materials() -> None:
    vending = {**RETAIL, "具体业态": "食品自动售货销售商"}
    assert names(vending)[-3:-1] == [
        "自动售货设备的产品合格证明",
        "自动售货设备具体放置地点及食品经营许可证、经营者联系方式公示方法的说明材料",
    ]
    assert "自动售货设备的产品合格证明" not in names(RETAIL)


def test_article_20_online_seller_device_list_and_filing_notice() -> None:
    item = material(ONLINE, "具有可现场登录申请人网站、网页或网店等功能的设备设施清单")
    assert item is not None and item["reason"].startswith("第二十条：")
    assert "30日内" in item["reason"]
    assert material(RETAIL, "具有可现场登录申请人网站、网页或网店等功能的设备设施清单") is None


def test_articles_22_23_offsite_storage_information() -> None:
    trader = {**RETAIL, "具体业态": "食品贸易商", "异地仓库": True}
    assert material(trader, STORAGE_INFO)["reason"].split("；")[0].startswith("第二十二条：")  # type: ignore[index]
    assert "第二十三条：" in material(trader, STORAGE_INFO)["reason"]  # type: ignore[index]
    shop = material({**RETAIL, "异地仓库": True}, STORAGE_INFO)
    assert shop is not None and shop["reason"].startswith("第二十三条：")
    assert "第二十二条" not in shop["reason"]
    assert material({**trader, "异地仓库": False}, STORAGE_INFO) is None
    # 异地仓库 is only asked of 食品销售经营者, so a restaurant's answer is ignored
    assert material({**RESTAURANT, "异地仓库": True}, STORAGE_INFO) is None


# --- 第二十五条: 单位食堂 ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("area", "diners", "refused"),
    [(29, 100, True), (29.9, 100, True), (30, 100, False), (30, 150, False), (30, 151, True),
     (100, 500, False), (100, 501, True), (0, 0, True)],
)  # fmt: skip
def test_article_25_canteen_area_limits(area: float, diners: int, refused: bool) -> None:
    answers = {
        **SCHOOL_CANTEEN,
        "具体业态": "职工食堂",
        "加工经营场所面积": area,
        "就餐人数": diners,
    }
    assert bool(violations(answers, "第二十五条")) is refused


def test_article_25_messages_distinguish_minimum_and_per_diner() -> None:
    small = violations({**SCHOOL_CANTEEN, "加工经营场所面积": 29, "就餐人数": 10}, "第二十五条")
    assert small == ["单位食堂食品处理区的面积不得小于30m²（申报29m²）"]
    crowded = violations({**SCHOOL_CANTEEN, "加工经营场所面积": 40, "就餐人数": 201}, "第二十五条")
    assert crowded == ["单位食堂就餐人数人均面积应当不小于0.2m²：201人至少需要40.2m²（申报40m²）"]


def test_article_25_unanswered_area_is_not_a_violation() -> None:
    answers = {k: v for k, v in SCHOOL_CANTEEN.items() if k != "加工经营场所面积"}
    assert violations(answers, "第二十五条") == []


def test_article_25_contracted_canteen_materials() -> None:
    contracted = {**SCHOOL_CANTEEN, "承包经营": True}
    got = names(contracted)
    assert "与承包者签订的承包合同（复印件）" in got
    assert "承包者具有相应食品经营管理能力的证明文件" in got
    assert "与承包者签订的承包合同（复印件）" not in names({**contracted, "承包经营": False})


# --- 第二十八条: 学校食堂 ----------------------------------------------------------------


@pytest.mark.parametrize("school", ["小学", "普通中等学校", "中等职业学校", "特殊教育学校"])
@pytest.mark.parametrize(
    "item", ["冷食类食品制售（含烧卤熟肉）", "冷食类食品制售（不含烧卤熟肉）", "生食类食品制售"]
)
def test_article_28_schools_may_not_apply_for_cold_or_raw_food(school: str, item: str) -> None:
    answers = {**SCHOOL_CANTEEN, "学校类型": school, "经营项目": ["热食类食品制售", item]}
    assert violations(answers, "第二十八条") == [
        f"{school}的食堂不得申请冷食类食品、生食类食品制售项目：{item}"
    ]


def test_article_28_universities_and_other_canteens_may() -> None:
    cold = ["冷食类食品制售（含烧卤熟肉）", "生食类食品制售"]
    assert (
        violations({**SCHOOL_CANTEEN, "学校类型": "高等学校", "经营项目": cold}, "第二十八条") == []
    )
    workplace = {**SCHOOL_CANTEEN, "具体业态": "职工食堂", "经营项目": cold}
    assert violations(workplace, "第二十八条") == []
    assert violations(SCHOOL_CANTEEN, "第二十八条") == []  # 小学 with 热食类 only


def test_article_28_kindergarten_canteen_refused() -> None:
    kindergarten = {**SCHOOL_CANTEEN, "具体业态": "托幼机构食堂", "经营项目": ["生食类食品制售"]}
    assert violations(kindergarten, "第二十八条") == [
        "托幼机构的食堂不得申请冷食类食品、生食类食品制售项目：生食类食品制售"
    ]


# --- 第三十条: 自酿酒 ------------------------------------------------------------------


def test_article_30_home_brew_needs_inspection_report() -> None:
    report = "具有资质的食品检验机构出具的自酿酒成品检验合格报告"
    brew = {**RESTAURANT, "具体业态": "饮品店", "经营项目": ["自制饮品制售（含自酿酒）"]}
    assert material(brew, report)["reason"].startswith("第三十条：")  # type: ignore[index]
    assert material({**brew, "经营项目": ["自制饮品制售（不含自酿酒）"]}, report) is None


# --- 第三十二条 / 第三十三条: 中央厨房、集体用餐配送单位 ---------------------------------


@pytest.mark.parametrize("form", ["中央厨房", "集体用餐配送单位"])
@pytest.mark.parametrize(("area", "refused"), [(299, True), (299.9, True), (300, False)])
def test_article_32_minimum_area(form: str, area: float, refused: bool) -> None:
    answers = {**CENTRAL_KITCHEN, "具体业态": form, "加工经营场所面积": area}
    assert bool(violations(answers, "第三十二条")) is refused


def test_article_32_does_not_apply_to_restaurants() -> None:
    # the area question is not asked of a 小餐饮, so a small area is ignored
    assert violations({**RESTAURANT, "加工经营场所面积": 10}, "第三十二条") == []


@pytest.mark.parametrize(
    "item", ["冷食类食品", "生食类食品", "自制冷冻饮品（鲜榨果汁）", "裱花蛋糕", "其他冷加工糕点"]
)
def test_article_33_central_kitchen_may_not_deliver(item: str) -> None:
    answers = {**CENTRAL_KITCHEN, "配送品种": ["热食类食品", item, "热加工糕点"]}
    messages = violations(answers, "第三十三条")
    assert len(messages) == 1 and messages[0].endswith(f"：{item}")


def test_article_33_exception_only_for_central_kitchen() -> None:
    exceptions = [
        "烧卤熟肉制品（半成品，配送至门店后现场改刀）",
        "凉菜、沙拉等冷食类食品（门店现场调制）",
    ]
    assert violations({**CENTRAL_KITCHEN, "配送品种": exceptions}, "第三十三条") == []
    collective = {**CENTRAL_KITCHEN, "具体业态": "集体用餐配送单位", "配送品种": exceptions}
    assert len(violations(collective, "第三十三条")) == 1
    assert violations({**CENTRAL_KITCHEN, "具体业态": "集体用餐配送单位"}, "第三十三条") == []


# --- cross-cutting ----------------------------------------------------------------------

SCENARIOS = [
    RETAIL, ONLINE, RESTAURANT, CENTRAL_KITCHEN, SCHOOL_CANTEEN,
    {**SCHOOL_CANTEEN, "承包经营": True, "加工经营场所面积": 10,
     "经营项目": ["生食类食品制售"]},
    {**RETAIL, "具体业态": "食品贸易商", "异地仓库": True, "散装酒": True,
     "经营项目": ["散装熟食", "食品经营管理", "特殊食品销售（婴幼儿配方乳粉）"]},
]  # fmt: skip


@pytest.mark.parametrize("answers", SCENARIOS)
def test_every_reason_and_violation_cites_an_article(answers: dict[str, Any]) -> None:
    result = evaluate_guide(GUIDE, answers)
    out = result.to_dict()
    for item in out["materials"]:
        assert all(ARTICLE.match(part) for part in item["reason"].split("；")), item
    assert ARTICLE.match(out["onsite_inspection"]["reason"])
    assert ARTICLE.match(result.authority_reason)
    assert all(
        re.fullmatch(r"第[一二三四五六七八九十]+条", v["article"]) for v in out["violations"]
    )


@pytest.mark.parametrize("answers", SCENARIOS)
def test_evaluation_is_deterministic(answers: dict[str, Any]) -> None:
    first = evaluate_guide(GUIDE, answers)
    reordered = dict(reversed(list(answers.items())))  # key order of the answers is irrelevant
    again = evaluate_guide(load_food_licence_guide(), reordered)
    assert again == first
    dumped = json.dumps(first.to_dict(), ensure_ascii=False, sort_keys=True)
    assert json.dumps(again.to_dict(), ensure_ascii=False, sort_keys=True) == dumped
    names_ = [m["name"] for m in first.to_dict()["materials"]]
    assert len(names_) == len(set(names_))


def test_result_shape_is_the_agreed_contract() -> None:
    result = evaluate_guide(GUIDE, RETAIL)
    assert isinstance(result, GuideResult)
    out = result.to_dict()
    assert list(out) == [
        "materials", "onsite_inspection", "review_category", "authority_level",
        "licence_display", "violations",
    ]  # fmt: skip
    assert list(out["onsite_inspection"]) == ["waivable", "reason"]
    assert all(list(m) == ["name", "required", "reason"] for m in out["materials"])
    assert out["authority_level"] in ("市", "县")
