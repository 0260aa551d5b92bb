"""Demo catalog data (韶关-like city): the 食品经营许可 reference matter and common matters.

Used by ``seed.py`` (``make run``) and by tests as realistic, complete content. The codes
are made up but valid: each implementing body has a USCC with a correct check character.
"""

from __future__ import annotations

from typing import Any

from stdnum.cn import uscc as uscc_std

from services.matters.domain.reference import load_food_licence_guide

DIVISION = "440200"  # 韶关市


def make_uscc(first17: str) -> str:
    """Complete a USCC with its GB 32100 check character."""
    return first17 + uscc_std.calc_check_digit(first17)


# department key → (name, USCC)
DEPARTMENTS: dict[str, tuple[str, str]] = {
    key: (name, make_uscc(f"11{DIVISION}MB2C{seq:05d}"))
    for seq, (key, name) in enumerate(
        [
            ("market", "韶关市市场监督管理局"),
            ("police", "韶关市公安局"),
            ("hrss", "韶关市人力资源和社会保障局"),
            ("civil", "韶关市民政局"),
            ("land", "韶关市自然资源局"),
            ("housing", "韶关市住房和城乡建设局"),
            ("transport", "韶关市交通运输局"),
            ("health", "韶关市卫生健康局"),
            ("education", "韶关市教育局"),
            ("medical", "韶关市医疗保障局"),
            ("env", "韶关市生态环境局"),
            ("culture", "韶关市文化广电旅游体育局"),
            ("urban", "韶关市城市管理和综合执法局"),
            ("veterans", "韶关市退役军人事务局"),
        ],
        start=12345,
    )
}

FOOD_BASE_CODE = "000117008000"


def implementation_code(department: str, base_code: str, suffix: str = "0") -> str:
    """实施编码 = USCC of the implementing body (18) + 基本编码 (12) + 1 char."""
    return DEPARTMENTS[department][1] + base_code + suffix


DEMO_FOOD_CODE = implementation_code("market", FOOD_BASE_CODE)


def complete_content(
    *,
    department: str,
    name: str,
    base_code: str,
    matter_type: str = "行政许可",
    statutory: int = 20,
    promised: int = 10,
    objects: tuple[str, ...] = ("法人",),
    online: bool = True,
    result: str | None = None,
    certificate_type: str | None = None,
    materials: tuple[str, ...] = ("申请书",),
    keywords: tuple[str, ...] = (),
    law: str = "《中华人民共和国行政许可法》",
    level: str = "市级",
) -> dict[str, Any]:
    """A content dict with every 十统一 element (and the others a 办事指南 shows)."""
    dept_name, dept_uscc = DEPARTMENTS[department]
    return {
        "name": name,
        "base_code": base_code,
        "matter_type": matter_type,
        "level": level,
        "main_item": {"name": name, "base_code": base_code},
        "sub_item": {"name": name, "split_basis": "不拆分"},
        "handling_items": [
            {"code": base_code + "01", "kind": "新设", "name": f"{name}（新设）"},
        ],
        "legal_basis": [{"law": law, "article": "第十二条"}],
        "implementing_body": {"name": dept_name, "uscc": dept_uscc},
        "division_code": DIVISION,
        "service_objects": list(objects),
        "flow": [
            {"name": "受理", "limit_days": 1},
            {"name": "审查", "limit_days": max(promised - 2, 0)},
            {"name": "决定", "limit_days": 1},
        ],
        "statutory_limit_days": statutory,
        "promised_limit_days": promised,
        "special_procedures": [],
        "materials": [
            {
                "name": m,
                "required": True,
                "paper": True,
                "paper_copies": 1,
                "original": False,
                "electronic": True,
                "source": "申请人自备",
                "certificate_type": None,
                "note": None,
            }
            for m in materials
        ],
        "forms": [
            {
                "name": f"{name}申请表",
                "schema": {
                    "type": "object",
                    "required": ["applicant"],
                    "properties": {"applicant": {"type": "string", "title": "申请人"}},
                },
            }
        ],
        "acceptance_conditions": "申请材料齐全、符合法定形式。",
        "intermediary_services": [],
        "result": {
            "name": result or f"{name}决定书",
            "kind": "证照" if certificate_type else "批文",
            "certificate_type": certificate_type,
        },
        "fees": {"charged": False, "items": []},
        "place": f"韶关市政务服务中心{dept_name[3:]}窗口",
        "hours": "周一至周五 9:00-12:00，14:30-17:30（法定节假日除外）",
        "consult_phone": "0751-12345",
        "complaint_phone": "0751-12345",
        "online_available": online,
        "online_url": "https://www.gdzwfw.gov.cn/" if online else None,
        "visits": 0 if online else 1,
        "tongban_scope": "全市通办",
        "effective_from": "2024-01-01",
        "keywords": list(keywords),
        "guide": None,
    }


def food_licence_content() -> dict[str, Any]:
    """食品经营许可 (广东, seed 000) with its 情形引导 attached."""
    guide = load_food_licence_guide()
    content = complete_content(
        department="market",
        name="食品经营许可",
        base_code=FOOD_BASE_CODE,
        statutory=20,
        promised=10,
        objects=("法人", "其他组织", "自然人"),
        result="食品经营许可证",
        certificate_type=DEPARTMENTS["market"][1] + "001",
        materials=(
            "食品经营许可申请书",
            "营业执照或法人登记证等主体资格证明（复印件，并提供原件核对）",
            "法定代表人（负责人）、食品安全管理员的身份证明（复印件）",
            "与食品经营相适应的主要设备设施布局、操作流程等文件",
            "食品安全自查、从业人员健康管理、进货查验记录、食品安全事故处置等保证食品安全的规章制度",
        ),
        keywords=("开餐馆", "小卖部", "食品店", "餐饮", "食堂"),
        law="《中华人民共和国食品安全法》",
    )
    content["legal_basis"] = [
        {"law": "《中华人民共和国食品安全法》", "article": "第三十五条"},
        {"law": "《食品经营许可管理办法》", "article": None},
        {
            "law": "广东省市场监督管理局关于食品经营许可的实施细则（试行）",
            "article": "粤市监规字〔2019〕2号",
        },
    ]
    content["materials"][1]["certificate_type"] = "营业执照"
    content["materials"][1]["source"] = "政府部门核发"
    content["special_procedures"] = [
        {"name": "现场核查", "limit_days": 10, "basis": "实施细则第十条"},
    ]
    content["flow"] = [
        {"name": "申请与受理", "limit_days": 1},
        {"name": "审查（含现场核查）", "limit_days": 7},
        {"name": "决定", "limit_days": 1},
        {"name": "制证与送达", "limit_days": 1},
    ]
    content["handling_items"] = [
        {"code": FOOD_BASE_CODE + "01", "kind": "新设", "name": "食品经营许可（新办）"},
        {"code": FOOD_BASE_CODE + "02", "kind": "变更", "name": "食品经营许可（变更）"},
        {"code": FOOD_BASE_CODE + "03", "kind": "延续", "name": "食品经营许可（延续）"},
        {"code": FOOD_BASE_CODE + "04", "kind": "注销", "name": "食品经营许可（注销）"},
    ]
    content["guide"] = guide
    return content


# (department, name, type, base code, 法定, 承诺, objects, online, certificate?, keywords)
_COMMON: list[tuple[str, str, str, str, int, int, tuple[str, ...], bool, bool, tuple[str, ...]]] = [
    (
        "market",
        "个体工商户设立登记",
        "行政许可",
        "000117001000",
        15,
        3,
        ("自然人",),
        True,
        True,
        ("开店", "营业执照"),
    ),
    (
        "market",
        "公司设立登记",
        "行政许可",
        "000117002000",
        15,
        1,
        ("法人",),
        True,
        True,
        ("开公司", "营业执照"),
    ),
    (
        "market",
        "食品生产许可",
        "行政许可",
        "000117007000",
        20,
        10,
        ("法人",),
        True,
        True,
        ("食品厂",),
    ),
    (
        "market",
        "药品零售企业许可",
        "行政许可",
        "000117010000",
        30,
        15,
        ("法人",),
        True,
        True,
        ("药店",),
    ),
    (
        "police",
        "居民身份证申领",
        "公共服务",
        "000105001000",
        60,
        20,
        ("自然人",),
        False,
        True,
        ("身份证", "办证"),
    ),
    (
        "police",
        "户口迁移登记",
        "行政确认",
        "000105002000",
        20,
        5,
        ("自然人",),
        True,
        False,
        ("迁户口", "落户"),
    ),
    (
        "police",
        "机动车驾驶证换证",
        "行政许可",
        "000105003000",
        5,
        1,
        ("自然人",),
        True,
        True,
        ("驾照", "驾驶证"),
    ),
    (
        "hrss",
        "失业保险金申领",
        "行政给付",
        "000113001000",
        20,
        5,
        ("自然人",),
        True,
        False,
        ("失业金",),
    ),
    (
        "hrss",
        "社会保障卡申领",
        "公共服务",
        "000113002000",
        20,
        10,
        ("自然人",),
        True,
        True,
        ("社保卡",),
    ),
    ("hrss", "职业资格证书核发", "行政确认", "000113003000", 20, 10, ("自然人",), True, True, ()),
    (
        "civil",
        "内地居民婚姻登记",
        "行政确认",
        "000108001000",
        1,
        1,
        ("自然人",),
        False,
        True,
        ("结婚", "领证"),
    ),
    (
        "civil",
        "社会团体成立登记",
        "行政许可",
        "000108002000",
        60,
        20,
        ("其他组织",),
        True,
        True,
        ("社团",),
    ),
    (
        "civil",
        "最低生活保障金给付",
        "行政给付",
        "000108003000",
        30,
        15,
        ("自然人",),
        True,
        False,
        ("低保",),
    ),
    (
        "land",
        "建设用地规划许可证核发",
        "行政许可",
        "000119001000",
        20,
        10,
        ("法人",),
        True,
        True,
        (),
    ),
    (
        "land",
        "不动产登记",
        "行政确认",
        "000119002000",
        30,
        5,
        ("自然人", "法人"),
        True,
        True,
        ("房产证", "过户"),
    ),
    (
        "housing",
        "建筑工程施工许可证核发",
        "行政许可",
        "000120001000",
        15,
        5,
        ("法人",),
        True,
        True,
        ("施工许可",),
    ),
    (
        "housing",
        "商品房预售许可",
        "行政许可",
        "000120002000",
        20,
        10,
        ("法人",),
        True,
        True,
        ("预售证",),
    ),
    (
        "housing",
        "住房公积金提取",
        "公共服务",
        "000120003000",
        5,
        3,
        ("自然人",),
        True,
        False,
        ("公积金",),
    ),
    (
        "transport",
        "道路运输经营许可",
        "行政许可",
        "000121001000",
        20,
        10,
        ("法人",),
        True,
        True,
        ("运输",),
    ),
    (
        "transport",
        "出租汽车驾驶员从业资格证核发",
        "行政许可",
        "000121002000",
        20,
        10,
        ("自然人",),
        True,
        True,
        ("网约车", "的士"),
    ),
    (
        "health",
        "医疗机构执业登记",
        "行政许可",
        "000124001000",
        45,
        20,
        ("法人",),
        True,
        True,
        ("诊所",),
    ),
    (
        "health",
        "出生医学证明签发",
        "公共服务",
        "000124002000",
        5,
        1,
        ("自然人",),
        False,
        True,
        ("出生证",),
    ),
    (
        "health",
        "公共场所卫生许可",
        "行政许可",
        "000124003000",
        20,
        5,
        ("法人", "自然人"),
        True,
        True,
        ("卫生许可证",),
    ),
    (
        "education",
        "民办学校办学许可",
        "行政许可",
        "000112001000",
        90,
        30,
        ("法人",),
        True,
        True,
        ("办学",),
    ),
    (
        "education",
        "教师资格认定",
        "行政许可",
        "000112002000",
        60,
        20,
        ("自然人",),
        True,
        True,
        ("教师证",),
    ),
    (
        "medical",
        "医疗费用报销",
        "行政给付",
        "000140001000",
        30,
        10,
        ("自然人",),
        True,
        False,
        ("医保报销",),
    ),
    (
        "medical",
        "异地就医备案",
        "公共服务",
        "000140002000",
        5,
        1,
        ("自然人",),
        True,
        False,
        ("异地医保",),
    ),
    ("env", "排污许可证核发", "行政许可", "000125001000", 30, 20, ("法人",), True, True, ("排污",)),
    (
        "env",
        "建设项目环境影响报告书审批",
        "行政许可",
        "000125002000",
        60,
        30,
        ("法人",),
        True,
        False,
        ("环评",),
    ),
    (
        "culture",
        "娱乐场所经营许可",
        "行政许可",
        "000126001000",
        20,
        10,
        ("法人",),
        True,
        True,
        ("KTV",),
    ),
    (
        "culture",
        "营业性演出审批",
        "行政许可",
        "000126002000",
        20,
        5,
        ("法人",),
        True,
        False,
        ("演出",),
    ),
    (
        "urban",
        "城市建筑垃圾处置核准",
        "行政许可",
        "000127001000",
        20,
        5,
        ("法人",),
        True,
        True,
        ("渣土",),
    ),
    (
        "urban",
        "户外广告设施设置审批",
        "行政许可",
        "000127002000",
        20,
        5,
        ("法人", "自然人"),
        True,
        False,
        ("招牌", "广告牌"),
    ),
    (
        "veterans",
        "退役士兵安置",
        "行政给付",
        "000128001000",
        60,
        30,
        ("自然人",),
        False,
        False,
        ("退伍",),
    ),
]


def demo_items() -> list[tuple[str, dict[str, Any]]]:
    """(实施编码, content) of the demo catalog, the food licence first."""
    items = [(DEMO_FOOD_CODE, food_licence_content())]
    for dept, name, kind, base, statutory, promised, objects, online, cert, keywords in _COMMON:
        cert_type = DEPARTMENTS[dept][1] + base[6:9] if cert else None
        content = complete_content(
            department=dept,
            name=name,
            base_code=base,
            matter_type=kind,
            statutory=statutory,
            promised=promised,
            objects=objects,
            online=online,
            certificate_type=cert_type,
            result=None,
            materials=("申请书", "申请人身份证明"),
            keywords=keywords,
        )
        items.append((implementation_code(dept, base), content))
    return items
