"""Who may change what (权限): province-defined elements, 二次统筹 fields, org and 区划.

Items that come from the provincial 事项目录管理系统 are defined there; a city may change
only the 二次统筹 fields (local refinement of key elements). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable

EDITOR = "matters-editor"
APPROVER = "matters-approver"
ADMIN = "matters-admin"

# 二次统筹: what a city may refine on a province-defined item.
SECONDARY_FIELDS: frozenset[str] = frozenset(
    {
        "promised_limit_days",
        "flow",
        "place",
        "hours",
        "consult_phone",
        "complaint_phone",
        "online_available",
        "online_url",
        "visits",
        "tongban_scope",
        "keywords",
        "guide",
    }
)


def read_only_fields(origin: str, changed: Iterable[str]) -> list[str]:
    """Changed fields a city may not touch on an item of this origin (sorted)."""
    if origin != "province":
        return []
    return sorted(set(changed) - SECONDARY_FIELDS)


def division_prefix(division: str) -> str:
    """The significant part of a 行政区划代码: ``440200`` covers ``4402xx``."""
    code = division
    while len(code) > 2 and code.endswith("00"):
        code = code[:-2]
    return code


def within_division(staff_division: str | None, item_division: str | None) -> bool:
    """Staff of ``440200`` may act on items of 440200 and its counties (4402xx)."""
    if not staff_division or not item_division:
        return False
    return item_division.startswith(division_prefix(staff_division))
