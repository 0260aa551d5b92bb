"""电子监察: the warnings a case deserves on a given day.

- ``yellow`` (黄牌预警): at most ``yellow_ratio`` of the time limit is left and the case
  still runs;
- ``red`` (红牌): the limit is passed — the case is still open on a working day after its
  due date, or it was closed after that day;
- ``step_over_limit``: one stage took longer than its own limit (e.g. 5 working days to
  decide on acceptance, 行政许可法第三十二条; 10 to deliver after the decision, 第四十四条);
- ``refusal_without_reason``: 不予受理 reported without the reasons the applicant is owed.

Each warning has a ``scope`` that makes it unique per case, so raising is idempotent.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from services.cases.domain.deadlines import Clock, Limits, clock, remaining_working_days
from services.cases.domain.history import CaseState, Step, local_date
from services.cases.domain.stages import CLOSED_STAGES, Stage
from services.runtime.calendar import WorkingCalendar

YELLOW = "yellow"
RED = "red"


@dataclass(frozen=True)
class SupervisionRules:
    """Thresholds (configuration; defaults per DOMAIN §4)."""

    yellow_ratio: Fraction = Fraction(1, 5)
    step_limits: Mapping[Stage, int] = field(
        default_factory=lambda: {Stage.SUBMITTED: 5, Stage.DECIDED: 10}
    )


@dataclass(frozen=True)
class WarningFact:
    """预警: ``kind`` is what was found, ``level`` its colour."""

    kind: str  # yellow | red | step_over_limit | refusal_without_reason
    scope: str
    level: str  # yellow | red
    detail: dict[str, Any]


def supervise(
    state: CaseState,
    limits: Limits,
    calendar: WorkingCalendar,
    today: date,
    rules: SupervisionRules | None = None,
    *,
    known: Collection[tuple[str, str]] = (),
    computed: Clock | None = None,
) -> list[WarningFact]:
    """Every warning that applies to the case as of ``today`` (the caller de-duplicates).

    ``known`` (kind, scope) pairs are already raised and are not worked out again;
    ``computed`` is the case's :func:`clock` if the caller has it (same ``yellow_ratio``).
    """
    rules = rules or SupervisionRules()
    found: list[WarningFact] = []
    found += _deadline(state, limits, calendar, today, rules, known, computed)
    found += _steps(state, calendar, today, rules, known)
    found += [f for f in _refusals(state) if (f.kind, f.scope) not in known]
    return found


def _deadline(
    state: CaseState,
    limits: Limits,
    calendar: WorkingCalendar,
    today: date,
    rules: SupervisionRules,
    known: Collection[tuple[str, str]],
    computed: Clock | None,
) -> list[WarningFact]:
    if state.accepted_at is None or state.not_accepted_at is not None:
        return []
    c = computed or clock(state, limits, calendar, yellow_ratio=rules.yellow_ratio)
    if c.limit_days is None:
        return []
    # The clock's days say when the limit is passed (red_on: limit + 1 working days used)
    # or nearly used (yellow_on); counting the days used up to today is only needed for
    # the warning's detail. Used days stop counting when the case closes.
    end = today if state.closed_at is None else min(today, local_date(state.closed_at))
    if c.red_on is not None and end >= c.red_on:
        kind = RED
    elif (
        state.stage not in CLOSED_STAGES
        and c.limit_days > 0
        and c.yellow_on is not None
        and end >= c.yellow_on
    ):
        kind = YELLOW
    else:
        return []
    if (kind, "deadline") in known:
        return []
    remaining = remaining_working_days(state, limits, calendar, today)
    detail = {
        "limit_days": c.limit_days,
        "remaining_days": remaining,
        "due_date": c.due_date.isoformat() if c.due_date else None,
    }
    return [WarningFact(kind, "deadline", kind, detail)]


def _steps(
    state: CaseState,
    calendar: WorkingCalendar,
    today: date,
    rules: SupervisionRules,
    known: Collection[tuple[str, str]] = (),
) -> list[WarningFact]:
    applied = [s for s in state.steps if s.applied]
    found = []
    for i, step in enumerate(applied):
        limit = rules.step_limits.get(step.stage)
        if limit is None:
            continue
        nxt: Step | None = applied[i + 1] if i + 1 < len(applied) else None
        if nxt is None and state.stage in (Stage.NOT_ACCEPTED, Stage.WITHDRAWN):
            continue
        scope = f"step:{step.stage.value}:{step.key[0]}:{step.key[1]}"
        if ("step_over_limit", scope) in known:
            continue
        started_on = local_date(step.occurred_at)
        left_on = local_date(nxt.occurred_at) if nxt else today
        # Within the limit's last day nothing can be over it: most steps stop here without
        # counting the days used (a walk up to today for the current stage).
        if left_on <= calendar.add_working_days(started_on, limit):
            continue
        used = calendar.working_days_between(started_on, left_on)
        if used <= limit:  # left on a day off just after the limit's last day
            continue
        found.append(
            WarningFact(
                "step_over_limit",
                scope,
                RED,
                {"stage": step.stage.value, "limit_days": limit, "used_days": used},
            )
        )
    return found


def _refusals(state: CaseState) -> list[WarningFact]:
    return [
        WarningFact(
            "refusal_without_reason",
            f"refusal:{step.key[0]}:{step.key[1]}",
            RED,
            {"stage": Stage.NOT_ACCEPTED.value},
        )
        for step in state.steps
        if step.applied and step.stage is Stage.NOT_ACCEPTED and not step.reason
    ]


def step_due_date(
    state: CaseState, calendar: WorkingCalendar, rules: SupervisionRules | None = None
) -> date | None:
    """The last day the current stage may last (for the scan's index), if it has a limit."""
    rules = rules or SupervisionRules()
    if state.stage is None or state.stage_since is None:
        return None
    limit = rules.step_limits.get(state.stage)
    if limit is None:
        return None
    return calendar.add_working_days(local_date(state.stage_since), limit)
