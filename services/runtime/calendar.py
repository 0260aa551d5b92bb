"""Working-day calendar (工作日) for legal time limits.

Holidays and make-up working days (调休) come from ``chinese-calendar``; operators add
years it does not cover yet (and correct single days) through an override table, a YAML
file named by ``HUB_CALENDAR_OVERRIDES_FILE``::

    2027:
      holidays: [2027-01-01, 2027-02-06]
      workdays: [2027-02-14]

A year that neither covers is refused rather than guessed: a deadline computed on a
wrong calendar is a legal error.

Counting follows the administrative-law convention: the day a period starts is not
counted (期间开始之日不计算在内), so ``add_working_days(d, 1)`` is the next working day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import chinese_calendar
import yaml


class CalendarYearNotCovered(LookupError):
    """Neither the package nor the override table knows this year's holidays."""

    def __init__(self, year: int) -> None:
        super().__init__(
            f"no official holiday data for {year}: add the year to the calendar override table"
        )
        self.year = year


@dataclass(frozen=True)
class CalendarOverrides:
    """Operator-maintained days: ``True`` = working day, ``False`` = day off."""

    days: Mapping[date, bool] = field(default_factory=dict)
    years: frozenset[int] = frozenset()

    @classmethod
    def from_mapping(
        cls, data: Mapping[int | str, Mapping[str, Iterable[object]]]
    ) -> CalendarOverrides:
        days: dict[date, bool] = {}
        years: set[int] = set()
        for year_key, spec in (data or {}).items():
            year = int(year_key)
            years.add(year)
            for raw in spec.get("holidays", []) or []:
                days[_as_date(raw)] = False
            for raw in spec.get("workdays", []) or []:
                days[_as_date(raw)] = True
        return cls(days=days, years=frozenset(years))

    @classmethod
    def from_file(cls, path: str | Path) -> CalendarOverrides:
        return cls.from_mapping(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})


def _as_date(raw: object) -> date:
    if isinstance(raw, date):
        return raw
    return date.fromisoformat(str(raw))


class WorkingCalendar:
    def __init__(self, overrides: CalendarOverrides | None = None) -> None:
        self.overrides = overrides or CalendarOverrides()
        # Deadline arithmetic walks the calendar day by day, and a chinese_calendar lookup
        # costs ~20 µs (it re-validates its date range on every call). A day's answer never
        # changes for one calendar, so it is remembered; a refusal is not (it raises anew).
        self._known: dict[date, bool] = {}

    def is_working_day(self, day: date) -> bool:
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._look_up(day)
        return known

    def _look_up(self, day: date) -> bool:
        if day in self.overrides.days:
            return self.overrides.days[day]
        try:
            return bool(chinese_calendar.is_workday(day))
        except NotImplementedError:
            if day.year in self.overrides.years:
                return day.weekday() < 5
            raise CalendarYearNotCovered(day.year) from None

    def add_working_days(self, start: date, days: int) -> date:
        """The date ``days`` working days after ``start`` (``start`` itself not counted)."""
        if days < 0:
            raise ValueError("days must not be negative")
        current = start
        remaining = days
        while remaining > 0:
            current += timedelta(days=1)
            if self.is_working_day(current):
                remaining -= 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days in (start, end]; negative when ``end`` is before ``start``."""
        if end < start:
            return -self.working_days_between(end, start)
        count = 0
        current = start
        while current < end:
            current += timedelta(days=1)
            if self.is_working_day(current):
                count += 1
        return count

    def next_working_day(self, day: date) -> date:
        """``day`` itself if it is a working day, else the first one after it."""
        while not self.is_working_day(day):
            day += timedelta(days=1)
        return day


def calendar_from_settings(overrides_file: str = "") -> WorkingCalendar:
    if overrides_file:
        return WorkingCalendar(CalendarOverrides.from_file(overrides_file))
    return WorkingCalendar()
