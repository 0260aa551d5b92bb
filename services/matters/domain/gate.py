"""The publish gate (发布校验): a version is published only when every 十统一 element is there.

十统一 (seed 003): 基本编码, 实施编码规则, 事项名称, 子项拆分, 事项类型, 设定依据, 办理流程,
办理时限, 提交材料, 表单内容 — plus 受理条件, 中介服务 (seed 003 "等") and 办理结果 (seed 002
九统一). An explicitly empty list (no materials, no forms, no 中介服务) is present, ``None``
is missing; 设定依据 and 办理流程 need at least one entry. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .elements import MatterContent


def _set(field: str) -> Callable[[MatterContent], bool]:
    return lambda c: getattr(c, field) is not None


def _non_empty(field: str) -> Callable[[MatterContent], bool]:
    return lambda c: bool(getattr(c, field))


# (element, the content fields it needs, the test)
REQUIRED_ELEMENTS: tuple[tuple[str, tuple[str, ...], Callable[[MatterContent], bool]], ...] = (
    ("基本编码", ("base_code",), _non_empty("base_code")),
    ("实施编码规则", ("implementing_body",), _set("implementing_body")),
    ("事项名称", ("name",), _non_empty("name")),
    ("子项拆分", ("sub_item",), _set("sub_item")),
    ("事项类型", ("matter_type",), _set("matter_type")),
    ("设定依据", ("legal_basis",), _non_empty("legal_basis")),
    ("办理流程", ("flow",), _non_empty("flow")),
    (
        "办理时限",
        ("statutory_limit_days", "promised_limit_days"),
        lambda c: c.statutory_limit_days is not None and c.promised_limit_days is not None,
    ),
    ("提交材料", ("materials",), _set("materials")),
    ("表单内容", ("forms",), _set("forms")),
    ("受理条件", ("acceptance_conditions",), _non_empty("acceptance_conditions")),
    ("中介服务", ("intermediary_services",), _set("intermediary_services")),
    ("办理结果", ("result",), _set("result")),
)


def missing_elements(content: MatterContent) -> list[dict[str, Any]]:
    """The elements that block publishing, each with the content fields to fill in."""
    return [
        {"element": element, "fields": list(fields)}
        for element, fields, present in REQUIRED_ELEMENTS
        if not present(content)
    ]
