"""Due dates in working days across the 2026 holidays, 补正 pauses, and the day each
电子监察 warning fires (pure domain, official calendar)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from services.cases.domain.deadlines import Limits, clock, remaining_working_days
from services.cases.domain.history import CaseEvent, fold
from services.cases.domain.stages import CaseType, Stage
from services.cases.domain.supervision import SupervisionRules, supervise
from services.runtime.calendar import WorkingCalendar, YearSchedule
from tests.cases.factory import at

CAL = WorkingCalendar()


def ev(stage: str, seq: int, when: str, **kw: object) -> CaseEvent:
    return CaseEvent(
        event_id=f"e{seq}",
        source_system="s",
        stage=Stage(stage),
        occurred_at=at(when),
        seq=seq,
        **kw,
    )  # type: ignore[arg-type]


def accepted_on(day: str, *more: CaseEvent, **kw: object) -> list[CaseEvent]:
    return [ev("submitted", 1, f"{day}T09:00", **kw), ev("accepted", 2, f"{day}T10:00"), *more]


def test_spring_festival_2026_is_skipped() -> None:
    # Accepted Fri 13 Feb 2026; 14 Feb (Sat) is a make-up working day (调休), 15-23 Feb off.
    state = fold(accepted_on("2026-02-13"))
    c = clock(state, Limits(promised_days=5, statutory_days=20), CAL)
    # 14 Feb (1), 24 (2), 25 (3), 26 (4), 27 (5)
    assert c.due_date == date(2026, 2, 27)
    # 20 working days: 14 Feb, 24-28 Feb (28 is a make-up day), 2-6, 9-13, 16-19 Mar
    assert c.statutory_due_date == date(2026, 3, 19)


def test_national_day_2026_is_skipped() -> None:
    # Accepted Wed 30 Sep 2026; 1-7 Oct off, Sat 10 Oct is a make-up working day.
    state = fold(accepted_on("2026-09-30"))
    c = clock(state, Limits(promised_days=3), CAL)
    assert c.due_date == date(2026, 10, 10)  # 8 (1), 9 (2), 10 (3)


def test_correction_pause_moves_the_due_date_by_the_paused_working_days() -> None:
    events = accepted_on(
        "2026-02-10",
        ev("correction_requested", 3, "2026-02-12T15:00"),
        ev("correction_received", 4, "2026-02-26T09:30"),
    )
    c = clock(fold(events), Limits(promised_days=10), CAL)
    # Used before the pause: 11, 12 Feb (2). Paused (12 Feb, 26 Feb]: 13, 14, 24, 25, 26.
    # Then 27, 28 Feb, 2-6 Mar, 9 Mar → the 10th working day is 9 Mar.
    assert c.paused_working_days == 5
    assert c.due_date == date(2026, 3, 9)
    no_pause = clock(fold(accepted_on("2026-02-10")), Limits(promised_days=10), CAL)
    assert no_pause.due_date == date(2026, 3, 2)


def test_open_pause_has_no_due_date_and_freezes_remaining_days() -> None:
    events = accepted_on("2026-03-02", ev("suspended", 3, "2026-03-04T10:00"))
    state = fold(events)
    c = clock(state, Limits(promised_days=10), CAL)
    assert c.paused and c.due_date is None
    limits = Limits(promised_days=10)
    assert remaining_working_days(state, limits, CAL, date(2026, 3, 5)) == 8
    assert remaining_working_days(state, limits, CAL, date(2026, 4, 30)) == 8


def test_immediate_case_is_due_on_acceptance_day() -> None:
    state = fold(accepted_on("2026-03-02", case_type=CaseType.IMMEDIATE))
    c = clock(state, Limits(promised_days=10), CAL)
    assert c.limit_days == 0 and c.due_date == date(2026, 3, 2) and c.yellow_on is None


def kinds(
    events: list[CaseEvent], today: date, limits: Limits, rules: SupervisionRules | None = None
) -> set[str]:
    return {w.kind for w in supervise(fold(events), limits, CAL, today, rules)}


def test_yellow_and_red_fire_on_the_right_working_day() -> None:
    # 10 working days from Mon 2 Mar 2026 → due Mon 16 Mar; yellow when ≤ 2 are left,
    # i.e. once 8 are used: Thu 12 Mar. Red on the first working day after the due date.
    limits = Limits(promised_days=10)
    events = accepted_on("2026-03-02")
    c = clock(fold(events), limits, CAL)
    assert (c.yellow_on, c.due_date, c.red_on) == (
        date(2026, 3, 12),
        date(2026, 3, 16),
        date(2026, 3, 17),
    )
    assert kinds(events, date(2026, 3, 11), limits) == set()
    assert kinds(events, date(2026, 3, 12), limits) == {"yellow"}
    assert kinds(events, date(2026, 3, 16), limits) == {"yellow"}
    assert kinds(events, date(2026, 3, 17), limits) == {"red"}


def test_yellow_threshold_is_configurable() -> None:
    limits = Limits(promised_days=10)
    events = accepted_on("2026-03-02")
    rules = SupervisionRules(yellow_ratio=Fraction(1, 2))
    assert clock(fold(events), limits, CAL, yellow_ratio=rules.yellow_ratio).yellow_on == date(
        2026, 3, 9
    )
    assert kinds(events, date(2026, 3, 9), limits, rules) == {"yellow"}


def test_case_concluded_late_gets_a_red_card_and_on_time_does_not() -> None:
    limits = Limits(promised_days=10)
    late = accepted_on(
        "2026-03-02", ev("decided", 3, "2026-03-16T10:00"), ev("concluded", 4, "2026-03-17T10:00")
    )
    on_time = accepted_on(
        "2026-03-02", ev("decided", 3, "2026-03-16T10:00"), ev("concluded", 4, "2026-03-16T16:00")
    )
    assert kinds(late, date(2026, 4, 1), limits) == {"red"}
    assert kinds(on_time, date(2026, 4, 1), limits) == set()


def test_step_over_its_own_limit_and_refusal_without_reason() -> None:
    limits = Limits(promised_days=20)
    slow_intake = [ev("submitted", 1, "2026-03-02T09:00"), ev("accepted", 2, "2026-03-10T09:00")]
    assert "step_over_limit" in kinds(slow_intake, date(2026, 3, 10), limits)
    waiting = [ev("submitted", 1, "2026-03-02T09:00")]
    assert kinds(waiting, date(2026, 3, 9), limits) == set()  # 5 working days used
    assert kinds(waiting, date(2026, 3, 10), limits) == {"step_over_limit"}
    refused = [ev("submitted", 1, "2026-03-02T09:00"), ev("not_accepted", 2, "2026-03-03T09:00")]
    assert kinds(refused, date(2026, 3, 3), limits) == {"refusal_without_reason"}
    with_reason = [refused[0], ev("not_accepted", 2, "2026-03-03T09:00", reason="材料不全")]
    assert kinds(with_reason, date(2026, 3, 3), limits) == set()


@pytest.mark.parametrize("limit", [1, 3, 5, 7, 10, 15, 20, 60])
def test_yellow_means_at_most_a_fifth_left(limit: int) -> None:
    limits = Limits(promised_days=limit)
    events = accepted_on("2026-03-02")
    c = clock(fold(events), limits, CAL)
    assert c.yellow_on is not None and c.due_date is not None
    left = remaining_working_days(fold(events), limits, CAL, c.yellow_on)
    assert left is not None and left * 5 <= limit
    state = fold(events)
    previous = c.yellow_on.fromordinal(c.yellow_on.toordinal() - 1)
    while not CAL.is_working_day(previous):
        previous = previous.fromordinal(previous.toordinal() - 1)
    if previous > date(2026, 3, 2):
        left_before = remaining_working_days(state, limits, CAL, previous)
        assert left_before is not None and left_before * 5 > limit


def test_dates_counted_into_2027_are_provisional_until_the_official_schedule() -> None:
    # 2027 has no official data: 除夕 5 – 初三 8 Feb plus 补假 9, 10 Feb (Sat/Sun holidays).
    state = fold(accepted_on("2027-01-28"))
    limits = Limits(promised_days=10, statutory_days=20)
    c = clock(state, limits, CAL)
    assert c.due_date == date(2027, 2, 17) and c.provisional
    # Counted only over official 2026 days: not provisional, even with the red day in 2027.
    inside = clock(fold(accepted_on("2026-12-01")), Limits(promised_days=5), CAL)
    assert inside.due_date == date(2026, 12, 8) and not inside.provisional
    edge = clock(fold(accepted_on("2026-12-24")), Limits(promised_days=5), CAL)
    assert edge.due_date == date(2026, 12, 31) and edge.red_on == date(2027, 1, 4)
    assert edge.provisional  # its red day (the 6th working day) is counted on 2027
    official = WorkingCalendar()
    official.load_year(
        YearSchedule(2027, tuple(date(2027, 2, d) for d in range(5, 13)), (date(2027, 1, 31),))
    )
    again = clock(state, limits, official)
    assert again.due_date == date(2027, 2, 18) and not again.provisional
    # Not yet accepted, or no limit: nothing to mark.
    assert not clock(fold([ev("submitted", 1, "2027-01-28T09:00")]), limits, CAL).provisional
