"""Rating rules (GB/T 39734): levels, channels, indicators, 差评 needs categories and text."""

from __future__ import annotations

import datetime as dt

import pytest

from services.eval.domain.rating import (
    Channel,
    Level,
    RatingError,
    check_follow_up,
    check_rating,
    default_rating_due,
)


def test_levels_one_and_two_are_bad() -> None:
    assert [lvl.is_bad for lvl in sorted(Level)] == [True, True, False, False, False]


def test_a_good_rating_with_online_indicators_passes() -> None:
    lvl = check_rating(Channel.PC, 5, {"overall": 5, "usability": 4}, [], "很好")
    assert lvl is Level.VERY_SATISFIED


@pytest.mark.parametrize(
    ("channel", "level", "indicators", "categories", "comment", "code"),
    [
        (Channel.PC, 2, {}, [], "太慢", "categories-required"),
        (Channel.PC, 1, {}, ["efficiency"], "  ", "comment-required"),
        (Channel.PC, 1, {}, ["efficiency"], None, "comment-required"),
        (Channel.PC, 4, {}, ["attitude"], "x", "invalid-category"),
        (Channel.PC, 2, {}, ["bribery?"], "x", "invalid-category"),
        (Channel.PC, 2, {}, ["other", "other"], "x", "invalid-category"),
        (Channel.PC, 6, {}, [], None, "invalid-level"),
        (Channel.PC, 0, {}, [], None, "invalid-level"),
        # on-site indicators belong to the window, not the web
        (Channel.PC, 5, {"service_attitude": 5}, [], None, "invalid-indicator"),
        (Channel.WINDOW, 5, {"usability": 5}, [], None, "invalid-indicator"),
        (Channel.WINDOW, 5, {"service_level": 7}, [], None, "invalid-indicator"),
        (Channel.DEFAULT, 3, {}, [], None, "invalid-channel"),
        (Channel.PC, 5, {}, [], "x" * 1001, "invalid-comment"),
    ],
)
def test_broken_rules_are_named(
    channel: Channel,
    level: int,
    indicators: dict[str, int],
    categories: list[str],
    comment: str | None,
    code: str,
) -> None:
    with pytest.raises(RatingError) as caught:
        check_rating(channel, level, indicators, categories, comment)
    assert caught.value.code == code


def test_a_bad_rating_with_category_and_text_passes_on_site() -> None:
    lvl = check_rating(Channel.WINDOW, 1, {"service_attitude": 1}, ["attitude"], "态度恶劣")
    assert lvl.is_bad


def test_default_rating_is_due_after_seven_natural_days() -> None:
    ended = dt.datetime(2026, 9, 30, 10, tzinfo=dt.UTC)  # across 国庆: natural days count
    assert default_rating_due(ended, 7) == dt.datetime(2026, 10, 7, 10, tzinfo=dt.UTC)


def test_one_follow_up_within_the_window() -> None:
    at = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    check_follow_up(at, at + dt.timedelta(days=15), 15, already=False, is_default=False, text="x")
    cases = [
        (dict(already=True, is_default=False, text="x"), 1, "follow-up-exists"),
        (dict(already=False, is_default=True, text="x"), 1, "not-allowed"),
        (dict(already=False, is_default=False, text="x"), 16, "window-closed"),
        (dict(already=False, is_default=False, text=" "), 1, "invalid-comment"),
    ]
    for kwargs, days, code in cases:
        with pytest.raises(RatingError) as caught:
            check_follow_up(at, at + dt.timedelta(days=days), 15, **kwargs)  # type: ignore[arg-type]
        assert caught.value.code == code
