"""GB/T 39735 figures from counts: 满意率, 差评率, 差评整改率, 实名差评回访率, 主动评价率.

Counts exclude ratings whose 申诉 was upheld. 默认评价 count as 基本满意 in the totals and
are never 差评; 主动评价 are the ratings the applicants gave themselves."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Counts:
    total: int = 0  # ratings, default ones included
    satisfied: int = 0  # levels 3–5
    bad: int = 0  # 差评 (levels 1–2)
    bad_rectified: int = 0  # 差评 whose 整改 is done
    named_bad: int = 0  # 实名差评
    named_bad_visited: int = 0  # 实名差评 with the return visit done
    proactive: int = 0  # ratings not given by default


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def rates(c: Counts) -> dict[str, float | None]:
    return {
        "satisfaction_rate": _rate(c.satisfied, c.total),
        "bad_rate": _rate(c.bad, c.total),
        "rectification_rate": _rate(c.bad_rectified, c.bad),
        "return_visit_rate": _rate(c.named_bad_visited, c.named_bad),
        "proactive_rate": _rate(c.proactive, c.total),
    }
