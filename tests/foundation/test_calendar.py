"""Working days on the official calendar, the override table, and the provisional
calendar of years without official data (《全国年节及纪念日放假办法》, 2024)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import chinese_calendar
import pytest

from services.runtime.calendar import (
    CalendarOverrides,
    DueDate,
    ScheduleError,
    WorkingCalendar,
    YearSchedule,
    calendar_from_settings,
    parse_schedules,
    provisional_days_off,
    statutory_holidays,
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


def test_uncovered_year_is_provisional_not_refused() -> None:
    # 2027 has no official data: counted on the statutory holidays, and marked.
    assert cal.is_provisional(date(2027, 1, 4)) and not cal.is_provisional(date(2026, 12, 31))
    assert cal.add_working_days(date(2027, 1, 4), 3) == date(2027, 1, 7)
    assert cal.due_date(date(2026, 12, 1), 5) == DueDate(date(2026, 12, 8), provisional=False)
    # Fri 25 Dec 2026 + 5: 28–31 Dec (4), 元旦 Fri 1 Jan 2027 off, Mon 4 Jan — provisional.
    assert cal.due_date(date(2026, 12, 25), 5) == DueDate(date(2027, 1, 4), provisional=True)
    assert cal.due_date(date(2026, 12, 24), 5) == DueDate(date(2026, 12, 31), provisional=False)


@pytest.mark.parametrize("year", [2025, 2026])
def test_statutory_rules_reproduce_the_official_years(year: int) -> None:
    # Since the 2024 revision (in force 2025) every statutory day is off officially too:
    # 除夕–初三, 清明, 端午 and 中秋 from the lunar library match the State Council's dates.
    days = statutory_holidays(year)
    assert len(days) == 13
    assert all(chinese_calendar.is_holiday(d) for d in days)
    names = {n: [d for d, m in days.items() if m == n] for n in set(days.values())}
    expected = {
        2025: {"春节": date(2025, 1, 28), "清明节": date(2025, 4, 4), "端午节": date(2025, 5, 31)},
        2026: {"春节": date(2026, 2, 16), "清明节": date(2026, 4, 5), "端午节": date(2026, 6, 19)},
    }[year]
    for name, first in expected.items():
        assert names[name][0] == first
    assert names["中秋节"] == [{2025: date(2025, 10, 6), 2026: date(2026, 9, 25)}[year]]


def test_lunar_dates_of_2024_match_the_package() -> None:
    # 2024 (before the revision: 除夕 was not a statutory day) — 初一..初三, 清明, 端午, 中秋.
    for d in (date(2024, 2, 10), date(2024, 2, 12), date(2024, 4, 4)):
        assert statutory_holidays(2024)[d] in {"春节", "清明节"}
        assert chinese_calendar.is_holiday(d)
    assert statutory_holidays(2024)[date(2024, 6, 10)] == "端午节"
    assert statutory_holidays(2024)[date(2024, 9, 17)] == "中秋节"


def test_2027_provisional_days_off_with_weekend_compensation() -> None:
    off = provisional_days_off(2027)
    # 春节 2027: 除夕 Fri 5 Feb, 初一 Sat 6, 初二 Sun 7, 初三 Mon 8 → 补假 Tue 9 and Wed 10.
    assert [d.day for d, n in off.items() if n.startswith("春节")] == [5, 6, 7, 8, 9, 10]
    assert off[date(2027, 2, 9)] == off[date(2027, 2, 10)] == "春节补假"
    # 劳动节 Sat 1 / Sun 2 May → Mon 3, Tue 4; 国庆 Fri 1 – Sun 3 Oct → Mon 4, Tue 5.
    assert off[date(2027, 5, 3)] == off[date(2027, 5, 4)] == "劳动节补假"
    assert off[date(2027, 10, 4)] == off[date(2027, 10, 5)] == "国庆节补假"
    assert date(2027, 10, 6) not in off
    # 清明 Mon 5 Apr, 端午 Wed 9 Jun, 中秋 Wed 15 Sep, 元旦 Fri 1 Jan: weekdays, no 补假.
    for d in (date(2027, 4, 5), date(2027, 6, 9), date(2027, 9, 15), date(2027, 1, 1)):
        assert d in off and not cal.is_working_day(d)
    assert len(off) == 19
    assert cal.is_working_day(date(2027, 2, 11)) and not cal.is_working_day(date(2027, 2, 13))


def test_a_case_accepted_before_spring_festival_2027() -> None:
    # Thu 28 Jan 2027 + 10: 29 Jan, 1–4 Feb (5 days), 5–10 Feb off, 11, 12, 15, 16, 17.
    assert cal.due_date(date(2027, 1, 28), 10) == DueDate(date(2027, 2, 17), provisional=True)


def test_loaded_official_year_replaces_the_provisional_rules() -> None:
    c = WorkingCalendar()
    official = YearSchedule(
        2027,
        holidays=tuple(date(2027, 2, d) for d in range(6, 14)),  # 6–13 Feb off
        workdays=(date(2027, 2, 5), date(2027, 2, 20)),  # 调休: Fri is normal, Sat works
    )
    assert c.is_working_day(date(2027, 2, 11)) is True  # warm the remembered answers
    c.load_year(official)
    assert not c.is_provisional(date(2027, 2, 17)) and 2027 in c.loaded_years
    assert not c.is_working_day(date(2027, 2, 11))
    assert c.is_working_day(date(2027, 2, 20))  # Saturday make-up day
    assert c.is_working_day(date(2027, 5, 3))  # no provisional 补假 any more
    # 29 Jan, 1–5 Feb (6), 6–14 Feb off, 15–18 Feb: Thu 18 Feb, no longer provisional.
    assert c.due_date(date(2027, 1, 28), 10) == DueDate(date(2027, 2, 18), provisional=False)
    assert c.span_is_provisional(date(2027, 12, 30), date(2028, 1, 4))


def test_schedule_parsing_refuses_what_cannot_be_right() -> None:
    spec = {"holidays": ["2027-02-08"], "workdays": [date(2027, 2, 20)]}
    [year] = parse_schedules({"2027": spec})
    assert year == YearSchedule(2027, (date(2027, 2, 8),), (date(2027, 2, 20),))
    for bad in (
        {2027: {"holidays": ["2028-01-01"]}},
        {2027: {"holidays": ["2027-02-08"], "workdays": ["2027-02-08"]}},
        {2027: {"holidays": "2027-02-08"}},
        {2027: {"holidays": ["not a date"]}},
        {"x": {}},
        {2027: {"holiday": []}},
        ["2027"],
    ):
        with pytest.raises(ScheduleError):
            parse_schedules(bad)  # type: ignore[arg-type]


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
