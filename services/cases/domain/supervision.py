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

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from fractions import Fraction
from typing import Any

from services.cases.domain.deadlines import Limits, clock, remaining_working_days
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
) -> list[WarningFact]:
    """Every warning that applies to the case as of ``today`` (the caller de-duplicates)."""
    rules = rules or SupervisionRules()
    found: list[WarningFact] = []
    found += _deadline(state, limits, calendar, today, rules)
    found += _steps(state, calendar, today, rules)
    found += _refusals(state)
    return found


def _deadline(
    state: CaseState,
    limits: Limits,
    calendar: WorkingCalendar,
    today: date,
    rules: SupervisionRules,
) -> list[WarningFact]:
    if state.accepted_at is None or state.not_accepted_at is not None:
        return []
    c = clock(state, limits, calendar, yellow_ratio=rules.yellow_ratio)
    remaining = remaining_working_days(state, limits, calendar, today)
    if c.limit_days is None or remaining is None:
        return []
    detail = {
        "limit_days": c.limit_days,
        "remaining_days": remaining,
        "due_date": c.due_date.isoformat() if c.due_date else None,
    }
    if remaining < 0:
        return [WarningFact(RED, "deadline", RED, detail)]
    live = state.stage not in CLOSED_STAGES
    if live and c.limit_days > 0 and remaining <= c.limit_days * rules.yellow_ratio:
        return [WarningFact(YELLOW, "deadline", YELLOW, detail)]
    return []


def _steps(
    state: CaseState, calendar: WorkingCalendar, today: date, rules: SupervisionRules
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
        left_on = local_date(nxt.occurred_at) if nxt else today
        used = calendar.working_days_between(local_date(step.occurred_at), left_on)
        if used > limit:
            found.append(
                WarningFact(
                    "step_over_limit",
                    f"step:{step.stage.value}:{step.key[0]}:{step.key[1]}",
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
