"""办理时限: due dates in working days (工作日), with the clock paused by 补正 and 特别程序.

Counting follows the administrative-law convention of the calendar: the day of
acceptance is not counted, so with a limit of *n* working days the case is due on the
*n*-th working day after acceptance. A pause that starts on day A and ends on day B
removes the days in (A, B] from the count — the day the notice goes out was already
spent, the day the materials arrive is not. An open pause stops the clock: no due date
can be named until it ends, but the days used so far are known.

A 即办件 has a limit of 0: it is due on the day it is accepted.

Dates counted over days of a year without an official holiday schedule are
``provisional`` (暂定, see :mod:`services.runtime.calendar`): they are recomputed when the
official schedule is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction

from services.cases.domain.history import CaseState, Pause, local_date
from services.cases.domain.stages import CaseType
from services.runtime.calendar import WorkingCalendar

_HORIZON_DAYS = 3 * 366
"""A limit can never stretch further than this; it guards against a bad limit value."""


@dataclass(frozen=True)
class Limits:
    """The matter's 承诺时限 and 法定时限 in working days (``None`` = not set)."""

    promised_days: int | None = None
    statutory_days: int | None = None


@dataclass(frozen=True)
class Clock:
    """Where a case stands against its time limit."""

    limit_days: int | None
    due_date: date | None  # last working day of the limit (None: no limit, or paused)
    statutory_due_date: date | None
    yellow_on: date | None  # first day the yellow warning applies
    red_on: date | None  # first day the limit is passed
    paused: bool
    paused_working_days: int
    # Some date above was counted over provisional days (no official schedule yet).
    provisional: bool = False


def _paused_ranges(pauses: tuple[Pause, ...]) -> list[tuple[date, date | None]]:
    return [(local_date(p.start), local_date(p.end) if p.end else None) for p in pauses]


def _is_paused(day: date, ranges: list[tuple[date, date | None]]) -> bool:
    return any(start < day and (end is None or day <= end) for start, end in ranges)


def used_working_days(
    calendar: WorkingCalendar, accepted_on: date, today: date, pauses: tuple[Pause, ...]
) -> int:
    """Working days counted against the limit in (accepted_on, today]."""
    ranges = _paused_ranges(pauses)
    if not ranges:
        return max(0, calendar.working_days_between(accepted_on, today))
    used, day = 0, accepted_on
    while day < today:
        day += timedelta(days=1)
        if calendar.is_working_day(day) and not _is_paused(day, ranges):
            used += 1
    return used


def day_when_used(
    calendar: WorkingCalendar, accepted_on: date, n: int, pauses: tuple[Pause, ...]
) -> date | None:
    """The day on which ``n`` working days have been used; ``None`` if a pause is open first."""
    ranges = _paused_ranges(pauses)
    open_from = next((start for start, end in ranges if end is None), None)
    used, day = 0, accepted_on
    for _ in range(_HORIZON_DAYS):
        if used >= n:
            return day
        day += timedelta(days=1)
        if open_from is not None and day > open_from:
            return None
        if calendar.is_working_day(day) and not _is_paused(day, ranges):
            used += 1
    raise ValueError(f"a limit of {n} working days does not end within {_HORIZON_DAYS} days")


def yellow_threshold_days(limit: int, yellow_ratio: Fraction) -> int:
    """Used days after which at most ``yellow_ratio`` of the limit is left."""
    used = limit * (1 - yellow_ratio)
    return used.numerator // used.denominator + (1 if used.numerator % used.denominator else 0)


def clock(
    state: CaseState,
    limits: Limits,
    calendar: WorkingCalendar,
    *,
    yellow_ratio: Fraction = Fraction(1, 5),
) -> Clock:
    limit = _effective_limit(state, limits)
    paused = state.paused
    if state.accepted_at is None:
        return Clock(limit, None, None, None, None, paused, 0)
    accepted_on = local_date(state.accepted_at)
    pauses = state.pauses
    paused_days = _paused_working_days(calendar, pauses)

    def at(n: int | None) -> date | None:
        return None if n is None else day_when_used(calendar, accepted_on, n, pauses)

    yellow = None
    if limit:  # a 即办件 (limit 0) has no time to warn about
        yellow = at(yellow_threshold_days(limit, yellow_ratio))
    due, statutory = at(limit), at(limits.statutory_days)
    red = at(None if limit is None else limit + 1)
    last = max((d for d in (due, statutory, red) if d is not None), default=None)
    return Clock(
        limit_days=limit,
        due_date=due,
        statutory_due_date=statutory,
        yellow_on=yellow,
        red_on=red,
        paused=paused,
        paused_working_days=paused_days,
        provisional=last is not None and calendar.span_is_provisional(accepted_on, last),
    )


def _effective_limit(state: CaseState, limits: Limits) -> int | None:
    if state.case_type is CaseType.IMMEDIATE:
        return 0
    if limits.promised_days is not None:
        return limits.promised_days
    return limits.statutory_days


def _paused_working_days(calendar: WorkingCalendar, pauses: tuple[Pause, ...]) -> int:
    total = 0
    for start, end in _paused_ranges(pauses):
        if end is None:
            continue
        total += max(0, calendar.working_days_between(start, end))
    return total


def remaining_working_days(
    state: CaseState, limits: Limits, calendar: WorkingCalendar, today: date
) -> int | None:
    """Working days left on ``today`` (negative when overdue); ``None`` without a limit."""
    limit = _effective_limit(state, limits)
    if limit is None or state.accepted_at is None:
        return None
    end = today
    if state.closed_at is not None:
        end = min(today, local_date(state.closed_at))
    return limit - used_working_days(calendar, local_date(state.accepted_at), end, state.pauses)
