"""Rating rules of 好差评 (GB/T 39734-2020, DOMAIN §5): levels, channels, indicators, 差评.

Pure: no I/O. The use cases call :func:`check_rating` before storing anything."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Level(IntEnum):
    """评价等级: 非常满意 5 … 非常不满意 1."""

    VERY_SATISFIED = 5  # 非常满意
    SATISFIED = 4  # 满意
    BASICALLY_SATISFIED = 3  # 基本满意
    DISSATISFIED = 2  # 不满意
    VERY_DISSATISFIED = 1  # 非常不满意

    @property
    def is_bad(self) -> bool:
        """差评: levels 1 and 2."""
        return self <= Level.DISSATISFIED


LEVEL_NAMES = {
    Level.VERY_SATISFIED: "非常满意",
    Level.SATISFIED: "满意",
    Level.BASICALLY_SATISFIED: "基本满意",
    Level.DISSATISFIED: "不满意",
    Level.VERY_DISSATISFIED: "非常不满意",
}


class Channel(StrEnum):
    """评价渠道. ``default`` is the system's 默认评价, never chosen by a caller."""

    PC = "pc"  # 政务服务网
    APP = "app"  # 移动端 app
    H5 = "h5"  # h5 / 小程序
    SMS = "sms"  # 短信 (signed short link)
    QR = "qr"  # 二维码 on the window receipt
    WINDOW = "window"  # 窗口评价器
    KIOSK = "kiosk"  # 自助终端
    HOTLINE = "hotline_12345"  # 12345 热线, entered by the operator
    DEFAULT = "default"  # 默认评价


ONLINE_CHANNELS = frozenset({Channel.PC, Channel.APP, Channel.H5, Channel.SMS, Channel.QR})
ON_SITE_CHANNELS = frozenset({Channel.WINDOW, Channel.KIOSK, Channel.HOTLINE})
CALLER_CHANNELS = ONLINE_CHANNELS | ON_SITE_CHANNELS

# GB/T 39734 评价内容指标.
ONLINE_INDICATORS = {
    "overall": "整体满意度",
    "efficiency": "办事效率",
    "guide_accuracy": "办事指南精确度",
    "convenience": "办事便捷度",
    "usability": "平台操作性",
}
ON_SITE_INDICATORS = {
    "service_efficiency": "服务效率",
    "service_level": "服务水平",
    "service_attitude": "服务态度",
}

# 差评 categories (GB/T 39734 差评 分类).
BAD_CATEGORIES = {
    "attitude": "服务态度差",
    "efficiency": "办事效率低/超时",
    "guide": "办事指南不准确",
    "repeat_visits": "多次跑动/材料反复",
    "platform": "平台操作不便",
    "integrity": "吃拿卡要/廉洁问题",
    "other": "其他",
}

MAX_COMMENT = 1000


@dataclass(frozen=True)
class RatingError(ValueError):
    """A rating that breaks a rule; ``code`` names the rule."""

    code: str
    detail: str

    def __str__(self) -> str:
        return self.detail


def indicators_for(channel: Channel) -> Mapping[str, str]:
    return ONLINE_INDICATORS if channel in ONLINE_CHANNELS else ON_SITE_INDICATORS


def check_rating(
    channel: Channel,
    level: int,
    indicators: Mapping[str, int],
    categories: Sequence[str],
    comment: str | None,
) -> Level:
    """The rating's level if it follows the rules, else :class:`RatingError`."""
    if channel not in CALLER_CHANNELS:
        raise RatingError("invalid-channel", f"channel {channel} cannot be chosen")
    try:
        lvl = Level(level)
    except ValueError:
        raise RatingError("invalid-level", "level must be 1 … 5") from None
    allowed = indicators_for(channel)
    for name, value in indicators.items():
        if name not in allowed:
            raise RatingError(
                "invalid-indicator", f"indicator {name!r} is not one of {sorted(allowed)}"
            )
        if value not in tuple(Level):
            raise RatingError("invalid-indicator", f"indicator {name!r} must be 1 … 5")
    unknown = [c for c in categories if c not in BAD_CATEGORIES]
    if unknown:
        raise RatingError("invalid-category", f"unknown 差评 categories {unknown}")
    if len(set(categories)) != len(categories):
        raise RatingError("invalid-category", "a 差评 category is named twice")
    text = (comment or "").strip()
    if len(text) > MAX_COMMENT:
        raise RatingError("invalid-comment", f"comment longer than {MAX_COMMENT} characters")
    if lvl.is_bad:
        if not categories:
            raise RatingError("categories-required", "a 差评 needs at least one category")
        if not text:
            raise RatingError("comment-required", "a 差评 needs a text saying what went wrong")
    elif categories:
        raise RatingError("invalid-category", "差评 categories belong to levels 1 and 2 only")
    return lvl


def default_rating_due(invited_at: dt.datetime, days: int) -> dt.datetime:
    """When a 办件 not rated gets its 默认评价 (natural days, 广东: 7)."""
    return invited_at + dt.timedelta(days=days)


DEFAULT_LEVEL = Level.BASICALLY_SATISFIED  # 默认评价: 基本满意


def check_follow_up(
    submitted_at: dt.datetime,
    now: dt.datetime,
    window_days: int,
    *,
    already: bool,
    is_default: bool,
    text: str,
) -> None:
    """追评: one, by the evaluator, within ``window_days`` natural days of the rating."""
    if is_default:
        raise RatingError("not-allowed", "a 默认评价 takes no 追评")
    if already:
        raise RatingError("follow-up-exists", "this rating already has its 追评")
    if now > submitted_at + dt.timedelta(days=window_days):
        raise RatingError("window-closed", f"追评 is possible for {window_days} days only")
    if not text.strip() or len(text) > MAX_COMMENT:
        raise RatingError("invalid-comment", f"a 追评 needs 1 … {MAX_COMMENT} characters")
