"""电子监察: the warnings a case deserves on a given day.

- ``yellow`` (黄牌预警): at most ``yellow_ratio`` of the time limit is left and the case
  still runs;
- ``red`` (红牌): the limit is passed — the case is still open on a working day after its
  due date, or it was closed after that day;
- ``step_over_limit``: one stage took longer than its own limit (e.g. 5 working days to
  decide on acceptance, 行政许可法第三十二条), and 送达 (scope ``step:delivered``) came
  more than ``delivery_limit_days`` (10) working days after the decision (第四十四条:
  "自作出决定之日起十日内…送达"; 第八十二条: the law's days are working days). The
  decision is the 决定 step, or the 办结 when no separate 决定 was reported;
- ``special_procedure_over_limit``: a 特别程序 pause (suspended → resumed, or still
  open) lasted longer than the matter's limit for it (办事指南 特别程序 时限), or the
  configured default when the matter names none;
- ``repeated_correction``: a second (or later) 补正 notice on the same case — 一次性告知
  (行政许可法第三十二条) means all missing items are named in one notice;
- ``refusal_without_reason``: 不予受理 or 退件 reported without the reasons the applicant
  is owed.

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
from services.cases.domain.stages import CLOSED_STAGES, ENDINGS, FINAL_STAGES, Stage
from services.runtime.calendar import WorkingCalendar

YELLOW = "yellow"
RED = "red"
WARNING_KINDS = (
    "yellow",
    "red",
    "step_over_limit",
    "special_procedure_over_limit",
    "repeated_correction",
    "refusal_without_reason",
)
DELIVERY_SCOPE = "step:delivered"


@dataclass(frozen=True)
class SupervisionRules:
    """Thresholds (configuration; defaults per DOMAIN §4)."""

    yellow_ratio: Fraction = Fraction(1, 5)
    # A stage's own limit, measured from entering it to the next applied step.
    step_limits: Mapping[Stage, int] = field(default_factory=lambda: {Stage.SUBMITTED: 5})
    # 送达: working days from the decision (决定, else 办结) to 送达; None turns it off.
    delivery_limit_days: int | None = 10
    # 特别程序 limit when the matter's 办事指南 names none.
    special_procedure_limit_days: int = 20


@dataclass(frozen=True)
class WarningFact:
    """预警: ``kind`` is what was found, ``level`` its colour."""

    kind: str  # one of WARNING_KINDS
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
    special_limit_days: int | None = None,
) -> list[WarningFact]:
    """Every warning that applies to the case as of ``today`` (the caller de-duplicates).

    ``known`` (kind, scope) pairs are already raised and are not worked out again;
    ``computed`` is the case's :func:`clock` if the caller has it (same ``yellow_ratio``);
    ``special_limit_days`` is the matter's 特别程序 limit (``None``: the rules' default).
    """
    rules = rules or SupervisionRules()
    found: list[WarningFact] = []
    found += _deadline(state, limits, calendar, today, rules, known, computed)
    found += _steps(state, calendar, today, rules, known, special_limit_days)
    found += _delivery(state, calendar, today, rules, known)
    found += [
        f for f in (*_refusals(state), *_corrections(state)) if (f.kind, f.scope) not in known
    ]
    return found


def closes(state: CaseState, kind: str, scope: str) -> bool:
    """Whether a raised warning ends with where the case stands: every warning ends with a
    final stage; at 办结 all but the 送达 one, which waits for the delivery."""
    if state.stage in FINAL_STAGES:
        return True
    return state.stage in CLOSED_STAGES and (kind, scope) != ("step_over_limit", DELIVERY_SCOPE)


def disproved(state: CaseState, kind: str, scope: str, computed: Clock) -> bool:
    """Whether a deadline warning raised on an incomplete history is refuted by the whole
    history: events arrive late and out of order, so the hub may have seen a case
    accepted but not yet concluded and warned; if the case in fact closed before the
    warning's day (``red_on`` / ``yellow_on``), the warning is withdrawn, not just closed —
    a department is not red-carded for a delay it did not cause."""
    if scope != "deadline" or state.closed_at is None:
        return False
    closed_on = local_date(state.closed_at)
    day = computed.red_on if kind == RED else computed.yellow_on if kind == YELLOW else None
    return day is not None and closed_on < day


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
    special_limit_days: int | None = None,
) -> list[WarningFact]:
    applied = [s for s in state.steps if s.applied]
    special = (
        special_limit_days if special_limit_days is not None else rules.special_procedure_limit_days
    )
    found = []
    for i, step in enumerate(applied):
        if step.stage is Stage.SUSPENDED:
            kind, limit, scope = "special_procedure_over_limit", special, "special"
        else:
            kind, limit, scope = "step_over_limit", rules.step_limits.get(step.stage), "step"
        if limit is None:
            continue
        nxt: Step | None = applied[i + 1] if i + 1 < len(applied) else None
        if nxt is None and state.stage in FINAL_STAGES:
            continue
        scope = f"{scope}:{step.stage.value}:{step.key[0]}:{step.key[1]}"
        if (kind, scope) in known:
            continue
        left_on = local_date(nxt.occurred_at) if nxt else today
        used = _over_limit(calendar, local_date(step.occurred_at), left_on, limit)
        if used is None:
            continue
        detail = {"stage": step.stage.value, "limit_days": limit, "used_days": used}
        found.append(WarningFact(kind, scope, RED, detail))
    return found


def _over_limit(
    calendar: WorkingCalendar, started_on: date, left_on: date, limit: int
) -> int | None:
    """Working days used in (started_on, left_on] if more than ``limit``, else ``None``."""
    # Within the limit's last day nothing can be over it: most steps stop here without
    # counting the days used (a walk up to today for the current stage).
    if left_on <= calendar.add_working_days(started_on, limit):
        return None
    used = calendar.working_days_between(started_on, left_on)
    return used if used > limit else None  # None: left on a day off just after the limit


def _delivery(
    state: CaseState,
    calendar: WorkingCalendar,
    today: date,
    rules: SupervisionRules,
    known: Collection[tuple[str, str]],
) -> list[WarningFact]:
    """送达 more than ``delivery_limit_days`` after the decision (still undelivered today)."""
    limit, decided = rules.delivery_limit_days, state.decided_at
    if limit is None or decided is None or ("step_over_limit", DELIVERY_SCOPE) in known:
        return []
    if state.delivered_at is None and state.stage in ENDINGS:
        return []  # withdrawn or returned after the decision: nothing to deliver
    left_on = local_date(state.delivered_at) if state.delivered_at else today
    used = _over_limit(calendar, local_date(decided), left_on, limit)
    if used is None:
        return []
    detail = {"stage": Stage.DELIVERED.value, "limit_days": limit, "used_days": used}
    detail["since"] = "decided" if state.decided_at != state.concluded_at else "concluded"
    return [WarningFact("step_over_limit", DELIVERY_SCOPE, RED, detail)]


def _corrections(state: CaseState) -> list[WarningFact]:
    """一次性告知: every 补正 notice after the first one on the case."""
    notices = [s for s in state.steps if s.applied and s.stage is Stage.CORRECTION_REQUESTED]
    return [
        WarningFact(
            "repeated_correction",
            f"correction:{step.key[0]}:{step.key[1]}",
            YELLOW,
            {
                "stage": step.stage.value,
                "notice": n,
                "first_notice_at": notices[0].occurred_at.isoformat(),
            },
        )
        for n, step in enumerate(notices[1:], start=2)
    ]


def _refusals(state: CaseState) -> list[WarningFact]:
    return [
        WarningFact(
            "refusal_without_reason",
            f"refusal:{step.key[0]}:{step.key[1]}",
            RED,
            {"stage": step.stage.value},
        )
        for step in state.steps
        if step.applied and step.stage in (Stage.NOT_ACCEPTED, Stage.RETURNED) and not step.reason
    ]


def step_due_date(
    state: CaseState,
    calendar: WorkingCalendar,
    rules: SupervisionRules | None = None,
    *,
    special_limit_days: int | None = None,
) -> date | None:
    """The last day the current stage, or the wait for 送达, may last (for the scan's
    index), if either has a limit."""
    rules = rules or SupervisionRules()
    if state.stage is None or state.stage_since is None or state.stage in FINAL_STAGES:
        return None
    due: list[date] = []
    if state.stage is Stage.SUSPENDED:
        limit = special_limit_days
        limit = rules.special_procedure_limit_days if limit is None else limit
    else:
        limit = rules.step_limits.get(state.stage)
    if limit is not None:
        due.append(calendar.add_working_days(local_date(state.stage_since), limit))
    if rules.delivery_limit_days is not None and state.decided_at is not None:
        due.append(
            calendar.add_working_days(local_date(state.decided_at), rules.delivery_limit_days)
        )
    return min(due, default=None)
