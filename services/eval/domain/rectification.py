"""差评 handling (差评整改) as a state machine with working-day deadlines.

差评 (reported) → 核实 verify → 整改 rectifying (deadline in working days, default 15,
per region) → 回访 return visit → closed. 申诉: the department appeals with evidence
from reported or rectifying; a reviewer upholds it (the rating leaves the figures) or
rejects it (back to 整改). Pure: deadlines come from the calendar given."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Protocol


class State(StrEnum):
    REPORTED = "reported"  # 差评, 待核实
    RECTIFYING = "rectifying"  # 整改
    RETURN_VISIT = "return_visit"  # 待回访
    CLOSED = "closed"  # 办结
    APPEALED = "appealed"  # 申诉中
    APPEAL_UPHELD = "appeal_upheld"  # 申诉成立: the rating leaves the figures


class Action(StrEnum):
    VERIFY = "verify"  # 核实
    RECTIFY = "rectify"  # 整改完成
    RETURN_VISIT = "return_visit"  # 回访并答复
    APPEAL = "appeal"  # 申诉
    UPHOLD = "uphold"  # 申诉成立
    REJECT = "reject"  # 申诉驳回


STAFF_ACTIONS = frozenset({Action.VERIFY, Action.RECTIFY, Action.RETURN_VISIT, Action.APPEAL})
REVIEW_ACTIONS = frozenset({Action.UPHOLD, Action.REJECT})

_MOVES: dict[Action, tuple[frozenset[State], State]] = {
    Action.VERIFY: (frozenset({State.REPORTED}), State.RECTIFYING),
    Action.RECTIFY: (frozenset({State.RECTIFYING}), State.RETURN_VISIT),
    Action.RETURN_VISIT: (frozenset({State.RETURN_VISIT}), State.CLOSED),
    Action.APPEAL: (frozenset({State.REPORTED, State.RECTIFYING}), State.APPEALED),
    Action.UPHOLD: (frozenset({State.APPEALED}), State.APPEAL_UPHELD),
    Action.REJECT: (frozenset({State.APPEALED}), State.RECTIFYING),
}

FINAL = frozenset({State.CLOSED, State.APPEAL_UPHELD})


class Calendar(Protocol):
    def add_working_days(self, start: dt.date, days: int) -> dt.date: ...

    def span_is_provisional(self, start: dt.date, end: dt.date) -> bool: ...


@dataclass(frozen=True)
class Deadlines:
    """Working days per step; ``rectify_by_region``: 行政区划 prefix → days (longest wins)."""

    verify: int = 3
    rectify: int = 15
    return_visit: int = 5
    rectify_by_region: Mapping[str, int] | None = None

    def rectify_days(self, division: str | None) -> int:
        best: tuple[int, int] | None = None
        for prefix, days in (self.rectify_by_region or {}).items():
            if division and division.startswith(prefix) and (best is None or len(prefix) > best[0]):
                best = (len(prefix), days)
        return best[1] if best else self.rectify


def division_of_org(uscc: str | None) -> str | None:
    """登记管理机关行政区划码: characters 3–8 of a USCC (GB 32100)."""
    return uscc[2:8] if uscc and len(uscc) == 18 else None


@dataclass(frozen=True)
class Rectification:
    state: State
    verify_due: dt.date | None = None
    rectify_due: dt.date | None = None
    visit_due: dt.date | None = None
    # The day the latest deadline was counted from, and whether that count crossed days no
    # official holiday schedule covers yet (暂定: recounted when the schedule is loaded).
    due_from: dt.date | None = None
    provisional: bool = False


class TransitionError(ValueError):
    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def open_rectification(today: dt.date, deadlines: Deadlines, cal: Calendar) -> Rectification:
    """A new 差评: to be verified within ``deadlines.verify`` working days."""
    due = cal.add_working_days(today, deadlines.verify)
    return Rectification(
        State.REPORTED,
        verify_due=due,
        due_from=today,
        provisional=cal.span_is_provisional(today, due),
    )


def apply(
    current: Rectification,
    action: Action,
    today: dt.date,
    deadlines: Deadlines,
    cal: Calendar,
    division: str | None,
) -> Rectification:
    """The rectification after ``action`` on ``today``, or :class:`TransitionError`."""
    sources, target = _MOVES[action]
    if current.state not in sources:
        raise TransitionError(f"cannot {action} a rectification in state {current.state}")
    nxt = replace(current, state=target)
    if target is State.RECTIFYING and current.rectify_due is None:
        due = cal.add_working_days(today, deadlines.rectify_days(division))
        nxt = replace(
            nxt, rectify_due=due, due_from=today, provisional=cal.span_is_provisional(today, due)
        )
    if target is State.RETURN_VISIT:
        due = cal.add_working_days(today, deadlines.return_visit)
        nxt = replace(
            nxt, visit_due=due, due_from=today, provisional=cal.span_is_provisional(today, due)
        )
    return nxt


def recount(
    r: Rectification, deadlines: Deadlines, cal: Calendar, division: str | None
) -> Rectification:
    """The latest deadline counted again (an official schedule was loaded); unchanged when
    it was not provisional or the rectification is over."""
    if not r.provisional or r.due_from is None or r.state in FINAL:
        return r
    start = r.due_from
    if r.visit_due is not None:
        due = cal.add_working_days(start, deadlines.return_visit)
        r = replace(r, visit_due=due)
    elif r.rectify_due is not None:
        due = cal.add_working_days(start, deadlines.rectify_days(division))
        r = replace(r, rectify_due=due)
    else:
        due = cal.add_working_days(start, deadlines.verify)
        r = replace(r, verify_due=due)
    return replace(r, provisional=cal.span_is_provisional(start, due))


def current_due(r: Rectification) -> tuple[str, dt.date] | None:
    """The step the rectification waits for and its deadline."""
    if r.state is State.REPORTED and r.verify_due:
        return "verify", r.verify_due
    if r.state is State.RECTIFYING and r.rectify_due:
        return "rectify", r.rectify_due
    if r.state is State.RETURN_VISIT and r.visit_due:
        return "return_visit", r.visit_due
    return None


def overdue(r: Rectification, today: dt.date) -> tuple[str, dt.date] | None:
    """The step that is overdue on ``today`` (its deadline passed), like 电子监察."""
    due = current_due(r)
    return due if due is not None and today > due[1] else None


def is_rectified(state: State) -> bool:
    """差评整改: the department reported the rectification done."""
    return state in (State.RETURN_VISIT, State.CLOSED)
