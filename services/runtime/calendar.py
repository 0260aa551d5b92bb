"""Working-day calendar (工作日) for legal time limits.

Where the days come from, first match wins:

1. **Official schedules** an operator loads (``hub calendar load FILE``, stored by the
   matters service and published to the others) or lists in the file named by
   ``HUB_CALENDAR_OVERRIDES_FILE``; both use one format — per year, the days off and the
   make-up working days (调休)::

       2027:
         holidays: [2027-01-01, 2027-02-05]
         workdays: [2027-02-14]

   A listed day is what the schedule says; an unlisted day of a year the package covers
   keeps the package's answer (so one day can be corrected), of any other listed year is a
   working day Monday to Friday.
2. ``chinese-calendar``: the State Council's published schedules, year by year.
3. **Provisional** (暂定): a year no official source covers yet is computed from the
   statutory holidays of 《全国年节及纪念日放假办法》 as revised in 2024 — 元旦 1 day,
   春节 4 (除夕 to 正月初三), 清明 1 (the 清明 solar term), 劳动节 2 (5-1, 5-2), 端午 1
   (五月初五), 中秋 1 (八月十五), 国庆 3 (10-1 to 10-3) — plus weekends. Lunar dates and
   the solar term come from ``lunar-python``. Article 6 of the 办法 says a holiday of all
   citizens falling on a Saturday or Sunday is compensated by a working day off (补假):
   each such day gives the first following Monday-to-Friday that is not a holiday itself.
   The State Council's yearly arrangement (longer breaks joined by make-up working days,
   调休) cannot be foreseen, so a provisional year has none of it: a provisional due
   date may differ from the official one by a few days either way, and callers mark it
   ``provisional`` until the official schedule is loaded and the date recomputed.

No day is ever refused: a deadline must always be named, and the ``provisional`` mark
says how far to trust it.

Counting follows the administrative-law convention: the day a period starts is not
counted (期间开始之日不计算在内), so ``add_working_days(d, 1)`` is the next working day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import chinese_calendar
import yaml
from lunar_python import Lunar

# The years chinese-calendar has data for (it raises outside them).
_PACKAGE_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)


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
        for schedule in parse_schedules(data):
            years.add(schedule.year)
            days.update(schedule.days())
        return cls(days=days, years=frozenset(years))

    @classmethod
    def from_file(cls, path: str | Path) -> CalendarOverrides:
        return cls.from_mapping(read_schedule_file(path))


@dataclass(frozen=True)
class YearSchedule:
    """One year's official schedule (放假安排): days off and make-up working days (调休)."""

    year: int
    holidays: tuple[date, ...]
    workdays: tuple[date, ...]

    @classmethod
    def parse(cls, year: object, holidays: object, workdays: object) -> YearSchedule:
        """One year from its wire or stored form, checked like a schedule file."""
        [schedule] = parse_schedules({str(year): {"holidays": holidays, "workdays": workdays}})  # type: ignore[dict-item]
        return schedule

    def days(self) -> dict[date, bool]:
        days = dict.fromkeys(self.holidays, False)
        days.update(dict.fromkeys(self.workdays, True))
        return days

    def to_dict(self) -> dict[str, object]:
        return {
            "year": self.year,
            "holidays": [d.isoformat() for d in self.holidays],
            "workdays": [d.isoformat() for d in self.workdays],
        }


class ScheduleError(ValueError):
    """A schedule file that cannot be right (a day outside its year, listed twice …)."""


def parse_schedules(
    data: Mapping[int | str, Mapping[str, Iterable[object]] | None] | None,
) -> list[YearSchedule]:
    """The years of a schedule mapping (the file format above), checked."""
    if data is None:
        return []
    if not isinstance(data, Mapping):
        raise ScheduleError("a schedule maps years to {holidays: [...], workdays: [...]}")
    out: list[YearSchedule] = []
    for year_key, spec in data.items():
        try:
            year = int(year_key)
        except (TypeError, ValueError):
            raise ScheduleError(f"{year_key!r} is not a year") from None
        if not 1949 <= year <= 2200:
            raise ScheduleError(f"{year} is not a plausible year")
        spec = spec or {}
        if not isinstance(spec, Mapping):
            raise ScheduleError(f"{year}: expected holidays and workdays lists")
        unknown = set(spec) - {"holidays", "workdays"}
        if unknown:
            raise ScheduleError(f"{year}: unknown keys {sorted(map(str, unknown))}")
        holidays = _day_list(year, "holidays", spec.get("holidays"))
        workdays = _day_list(year, "workdays", spec.get("workdays"))
        both = set(holidays) & set(workdays)
        if both:
            raise ScheduleError(f"{year}: {min(both)} is listed as holiday and as workday")
        out.append(YearSchedule(year, holidays, workdays))
    return out


def read_schedule_file(path: str | Path) -> Mapping[int | str, Mapping[str, Iterable[object]]]:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ScheduleError(f"{path}: not a UTF-8 YAML file: {exc}") from exc
    return data or {}


def _day_list(year: int, key: str, raw: object) -> tuple[date, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise ScheduleError(f"{year}.{key}: expected a list of dates")
    days: set[date] = set()
    for item in raw:
        try:
            day = _as_date(item)
        except (TypeError, ValueError):
            raise ScheduleError(f"{year}.{key}: {item!r} is not a date") from None
        if day.year != year:
            raise ScheduleError(f"{year}.{key}: {day} is not in {year}")
        days.add(day)
    return tuple(sorted(days))


def _as_date(raw: object) -> date:
    if isinstance(raw, date):
        return raw
    return date.fromisoformat(str(raw))


# -- the provisional calendar (《全国年节及纪念日放假办法》, 2024 revision) -----------------


@lru_cache(maxsize=64)
def statutory_holidays(year: int) -> dict[date, str]:
    """The statutory days off of ``year`` (法定节假日), without 补假 or 调休."""
    spring = Lunar.fromYmd(year, 1, 1).getSolar()
    qingming = Lunar.fromYmd(year, 1, 1).getJieQiTable()["清明"]
    days: dict[date, str] = {date(year, 1, 1): "元旦"}
    new_year = date(spring.getYear(), spring.getMonth(), spring.getDay())
    for offset in range(-1, 3):  # 除夕 (the day before 正月初一) to 正月初三
        days[new_year + timedelta(days=offset)] = "春节"
    days[date(year, qingming.getMonth(), qingming.getDay())] = "清明节"
    days[date(year, 5, 1)] = days[date(year, 5, 2)] = "劳动节"
    for month, day, name in ((5, 5, "端午节"), (8, 15, "中秋节")):
        solar = Lunar.fromYmd(year, month, day).getSolar()
        days.setdefault(date(year, solar.getMonth(), solar.getDay()), name)
    for d in (1, 2, 3):
        days[date(year, 10, d)] = "国庆节"  # 国庆 wins when 中秋 falls on it
    return dict(sorted(days.items()))


@lru_cache(maxsize=64)
def provisional_days_off(year: int) -> dict[date, str]:
    """Statutory holidays plus 补假: a holiday on a Saturday or Sunday gives the first
    following Monday-to-Friday that is not itself a holiday (办法 Article 6)."""
    holidays = statutory_holidays(year)
    off = dict(holidays)
    for day, name in holidays.items():
        if day.weekday() < 5:
            continue
        make_up = day + timedelta(days=1)
        while make_up.weekday() >= 5 or make_up in off:
            make_up += timedelta(days=1)
        off[make_up] = f"{name}补假"
    return dict(sorted(off.items()))


@dataclass(frozen=True)
class DueDate:
    """A computed date and whether any day counted to reach it was provisional."""

    day: date
    provisional: bool


class WorkingCalendar:
    def __init__(self, overrides: CalendarOverrides | None = None) -> None:
        self.overrides = overrides or CalendarOverrides()
        self._days: dict[date, bool] = dict(self.overrides.days)
        self._years: set[int] = set(self.overrides.years)
        # Deadline arithmetic walks the calendar day by day, and a lookup through the
        # package or the lunar library is slow, so a day's answer is remembered (and
        # forgotten for a year whose official schedule is loaded).
        self._known: dict[date, bool] = {}

    # -- official schedules -------------------------------------------------------
    def load_year(self, schedule: YearSchedule) -> None:
        """Take ``schedule`` as the official one for its year (replacing a previous one)."""
        self._days = {d: w for d, w in self._days.items() if d.year != schedule.year}
        self._days.update(schedule.days())
        self._years.add(schedule.year)
        self._known = {d: w for d, w in self._known.items() if d.year != schedule.year}

    @property
    def loaded_years(self) -> frozenset[int]:
        return frozenset(self._years)

    def is_official_year(self, year: int) -> bool:
        return year in self._years or year in _PACKAGE_YEARS

    def is_provisional(self, day: date) -> bool:
        """Whether ``day`` is computed from the statutory rules, not an official schedule."""
        return not self.is_official_year(day.year)

    def span_is_provisional(self, start: date, end: date) -> bool:
        """Whether any day in (start, end] is provisional (the days a count walks)."""
        first, last = (start, end) if start <= end else (end, start)
        first += timedelta(days=1)
        return any(not self.is_official_year(y) for y in range(first.year, last.year + 1))

    # -- days -----------------------------------------------------------------------
    def is_working_day(self, day: date) -> bool:
        known = self._known.get(day)
        if known is None:
            known = self._known[day] = self._look_up(day)
        return known

    def _look_up(self, day: date) -> bool:
        if day in self._days:
            return self._days[day]
        if day.year in _PACKAGE_YEARS:
            return day in chinese_calendar.workdays or (
                day.weekday() < 5 and day not in chinese_calendar.holidays
            )
        if day.year in self._years:
            return day.weekday() < 5
        return day.weekday() < 5 and day not in provisional_days_off(day.year)

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

    def due_date(self, start: date, days: int) -> DueDate:
        """:meth:`add_working_days` with its ``provisional`` mark."""
        end = self.add_working_days(start, days)
        return DueDate(end, self.span_is_provisional(start, end))

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
