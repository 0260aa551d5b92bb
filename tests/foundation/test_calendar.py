"""Working days on the official calendar, and the override table for uncovered years."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from services.runtime.calendar import (
    CalendarOverrides,
    CalendarYearNotCovered,
    WorkingCalendar,
    calendar_from_settings,
)

cal = WorkingCalendar()


def test_spring_festival_2026_days_off_and_make_up_saturday() -> None:
    # 2026 春节: 15–23 February off; Saturday 14 February is a make-up working day (调休).
    assert cal.is_working_day(date(2026, 2, 14))
    assert not any(cal.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert cal.is_working_day(date(2026, 2, 24))


def test_national_day_2026() -> None:
    assert not any(cal.is_working_day(date(2026, 10, d)) for d in range(1, 8))
    assert cal.is_working_day(date(2026, 10, 8))
    assert cal.is_working_day(date(2026, 10, 10))  # Saturday make-up day


def test_add_working_days_across_spring_festival() -> None:
    # Accepted Friday 13 Feb: day 1 is Sat 14 (make-up), then the holiday, then 24, 25 …
    assert cal.add_working_days(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert cal.add_working_days(date(2026, 2, 13), 2) == date(2026, 2, 24)
    assert cal.add_working_days(date(2026, 2, 13), 5) == date(2026, 2, 27)


def test_add_working_days_across_national_day() -> None:
    # 20 working days from Monday 28 September 2026 (start day not counted): 29, 30 Sep,
    # the 1–7 October holiday, then 8, 9, 10 (Saturday make-up day), 12 … 30 October.
    due = cal.add_working_days(date(2026, 9, 28), 20)
    assert due == date(2026, 10, 30)
    assert cal.working_days_between(date(2026, 9, 28), due) == 20


def test_working_days_between_is_signed_and_excludes_start() -> None:
    assert cal.working_days_between(date(2026, 3, 2), date(2026, 3, 2)) == 0
    assert cal.working_days_between(date(2026, 3, 2), date(2026, 3, 9)) == 5
    assert cal.working_days_between(date(2026, 3, 9), date(2026, 3, 2)) == -5


def test_zero_days_is_the_start_and_negative_is_refused() -> None:
    assert cal.add_working_days(date(2026, 2, 16), 0) == date(2026, 2, 16)
    with pytest.raises(ValueError):
        cal.add_working_days(date(2026, 2, 16), -1)


def test_uncovered_year_is_refused_not_guessed() -> None:
    with pytest.raises(CalendarYearNotCovered) as err:
        cal.add_working_days(date(2027, 1, 4), 3)
    assert "2027" in str(err.value)


def test_override_table_covers_a_year_the_package_lacks(tmp_path: Path) -> None:
    table = tmp_path / "calendar.yaml"
    table.write_text(
        "2027:\n"
        "  holidays: [2027-01-01, 2027-02-05, 2027-02-08, 2027-02-09]\n"
        "  workdays: [2027-02-06]\n",
        encoding="utf-8",
    )
    c = calendar_from_settings(str(table))
    assert not c.is_working_day(date(2027, 1, 1))
    assert c.is_working_day(date(2027, 1, 4))  # ordinary Monday
    assert not c.is_working_day(date(2027, 1, 2))  # ordinary Saturday
    assert c.is_working_day(date(2027, 2, 6))  # Saturday made a working day
    # From Thursday 4 Feb 2027: 5th off, 6th (Sat) works, 7th Sun, 8th/9th off, 10th works.
    assert c.add_working_days(date(2027, 2, 4), 1) == date(2027, 2, 6)
    assert c.add_working_days(date(2027, 2, 4), 2) == date(2027, 2, 10)


def test_override_corrects_a_single_day_in_a_covered_year() -> None:
    c = WorkingCalendar(CalendarOverrides.from_mapping({2026: {"holidays": ["2026-03-03"]}}))
    assert not c.is_working_day(date(2026, 3, 3))
    assert c.is_working_day(date(2026, 3, 4))
    assert c.add_working_days(date(2026, 3, 2), 1) == date(2026, 3, 4)
