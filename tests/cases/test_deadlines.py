"""Due dates in working days across the 2026 holidays, 补正 pauses, and the day each
电子监察 warning fires (pure domain, official calendar)."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest

from services.cases.domain.deadlines import Limits, clock, remaining_working_days
from services.cases.domain.history import CaseEvent, fold
from services.cases.domain.stages import CaseType, Stage
from services.cases.domain.supervision import (
    DELIVERY_SCOPE,
    SupervisionRules,
    WarningFact,
    closes,
    disproved,
    step_due_date,
    supervise,
)
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
    # (Before the 送达 limit runs out: 10 working days after the 16 Mar decision.)
    assert kinds(late, date(2026, 3, 27), limits) == {"red"}
    assert kinds(on_time, date(2026, 3, 27), limits) == set()


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


# -- review findings: 送达 after the decision, 特别程序 limits, 一次性告知, 退件 ------------------


def warnings_of(
    events: list[CaseEvent], today: date, special: int | None = None, **rules: object
) -> dict[str, WarningFact]:
    found = supervise(
        fold(events),
        Limits(promised_days=60),
        CAL,
        today,
        SupervisionRules(**rules),  # type: ignore[arg-type]
        special_limit_days=special,
    )
    return {w.kind: w for w in found}


def test_delivery_is_measured_from_the_decision_to_delivery() -> None:
    """行政许可法第四十四条: 送达 within 10 (working) days of the decision; the old rule
    measured 决定 → 办结 under the label 送达."""
    decided = accepted_on(
        "2026-03-02", ev("decided", 3, "2026-03-16T10:00"), ev("concluded", 4, "2026-03-17T10:00")
    )
    # 10 working days after Mon 16 Mar is Mon 30 Mar.
    assert warnings_of(decided, date(2026, 3, 30)) == {}
    late = warnings_of(decided, date(2026, 3, 31))["step_over_limit"]
    assert late.scope == DELIVERY_SCOPE and late.level == "red"
    assert late.detail == {
        "stage": "delivered",
        "since": "decided",
        "limit_days": 10,
        "used_days": 11,
    }
    # Delivered in time: nothing, however late the check.
    delivered = [*decided, ev("delivered", 5, "2026-03-30T16:00")]
    assert warnings_of(delivered, date(2026, 6, 1)) == {}
    # Delivered late: flagged with the days it took.
    too_late = [*decided, ev("delivered", 5, "2026-04-01T10:00")]
    assert warnings_of(too_late, date(2026, 6, 1))["step_over_limit"].detail["used_days"] == 12
    # Without a separate 决定 the 办结 is the decision.
    direct = accepted_on("2026-03-02", ev("concluded", 3, "2026-03-16T10:00"))
    assert warnings_of(direct, date(2026, 3, 31))["step_over_limit"].detail["since"] == "concluded"
    # A long 决定 → 办结 is no longer a 送达 breach by itself once delivery is in time.
    slow_conclusion = accepted_on(
        "2026-03-02",
        ev("decided", 3, "2026-03-03T10:00"),
        ev("concluded", 4, "2026-03-09T10:00"),
        ev("delivered", 5, "2026-03-10T10:00"),
    )
    assert warnings_of(slow_conclusion, date(2026, 4, 30)) == {}
    assert warnings_of(decided, date(2026, 3, 31), delivery_limit_days=None) == {}
    # Withdrawn after the decision: nothing left to deliver.
    withdrawn = [*decided[:3], ev("withdrawn", 4, "2026-03-17T10:00")]
    assert warnings_of(withdrawn, date(2026, 4, 30)) == {}


def test_the_scan_watches_a_concluded_case_until_delivery() -> None:
    decided = accepted_on("2026-03-02", ev("concluded", 3, "2026-03-16T10:00"))
    state = fold(decided)
    assert step_due_date(state, CAL) == date(2026, 3, 30)
    assert step_due_date(fold([*decided, ev("delivered", 4, "2026-03-20T10:00")]), CAL) is None
    # At 办结 the deadline warnings end, the 送达 one waits for the delivery.
    assert closes(state, "red", "deadline")
    assert not closes(state, "step_over_limit", DELIVERY_SCOPE)
    assert closes(
        fold([*decided, ev("delivered", 4, "2026-04-20T10:00")]), "step_over_limit", DELIVERY_SCOPE
    )


def test_special_procedure_longer_than_the_matters_limit_is_flagged() -> None:
    suspended = accepted_on("2026-03-02", ev("suspended", 3, "2026-03-03T10:00"))
    # The matter allows 5 working days (4, 5, 6, 9, 10 Mar).
    in_time = [*suspended, ev("resumed", 4, "2026-03-10T10:00")]
    assert warnings_of(in_time, date(2026, 4, 1), special=5) == {}
    too_long = [*suspended, ev("resumed", 4, "2026-03-11T10:00")]
    found = warnings_of(too_long, date(2026, 4, 1), special=5)["special_procedure_over_limit"]
    assert found.detail == {"stage": "suspended", "limit_days": 5, "used_days": 6}
    assert found.scope == "special:suspended:s:e3"
    # Still suspended: flagged on the first day over the limit, not before.
    assert warnings_of(suspended, date(2026, 3, 10), special=5) == {}
    assert set(warnings_of(suspended, date(2026, 3, 11), special=5)) == {
        "special_procedure_over_limit"
    }
    assert step_due_date(fold(suspended), CAL, special_limit_days=5) == date(2026, 3, 10)
    # No limit from the matter: the configured default (20 unless configured).
    assert warnings_of(too_long, date(2026, 4, 1)) == {}
    assert "special_procedure_over_limit" in warnings_of(
        too_long, date(2026, 4, 1), special_procedure_limit_days=3
    )


def test_a_second_correction_notice_breaks_the_one_time_notice() -> None:
    once = accepted_on(
        "2026-03-02",
        ev("correction_requested", 3, "2026-03-03T10:00"),
        ev("correction_received", 4, "2026-03-04T10:00"),
    )
    assert warnings_of(once, date(2026, 3, 5)) == {}
    twice = [*once, ev("correction_requested", 5, "2026-03-05T10:00")]
    found = warnings_of(twice, date(2026, 3, 5))["repeated_correction"]
    assert found.level == "yellow" and found.scope == "correction:s:e5"
    assert found.detail["notice"] == 2
    # A notice before acceptance and one after are two notices too.
    before_and_after = [
        ev("submitted", 1, "2026-03-02T09:00"),
        ev("correction_requested", 2, "2026-03-02T10:00"),
        ev("correction_received", 3, "2026-03-03T10:00"),
        ev("accepted", 4, "2026-03-03T11:00"),
        ev("correction_requested", 5, "2026-03-04T10:00"),
    ]
    assert set(warnings_of(before_and_after, date(2026, 3, 4))) == {"repeated_correction"}


def test_return_without_reason_is_flagged_like_a_refusal() -> None:
    returned = [ev("submitted", 1, "2026-03-02T09:00"), ev("returned", 2, "2026-03-03T09:00")]
    assert set(warnings_of(returned, date(2026, 3, 3))) == {"refusal_without_reason"}
    with_reason = [returned[0], ev("returned", 2, "2026-03-03T09:00", reason="非本部门事项")]
    assert warnings_of(with_reason, date(2026, 3, 3)) == {}


def test_conditional_acceptance_runs_the_clock_as_acceptance_does() -> None:
    limits = Limits(promised_days=5, statutory_days=20)
    plain = clock(fold(accepted_on("2026-03-02")), limits, CAL)
    conditional = clock(
        fold(
            [
                ev("submitted", 1, "2026-03-02T09:00"),
                ev("conditionally_accepted", 2, "2026-03-02T10:00"),
            ]
        ),
        limits,
        CAL,
    )
    assert conditional == plain and conditional.due_date == date(2026, 3, 9)


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


def test_a_deadline_warning_raised_on_a_partial_history_is_disproved_by_a_timely_conclusion() -> (
    None
):
    limits = Limits(promised_days=10)
    partial = fold(accepted_on("2026-03-02"))
    # Seen without its 办结, the case is overdue long after its limit: red.
    found = supervise(partial, limits, CAL, date(2026, 4, 30))
    assert [w.kind for w in found] == ["red"]
    whole = fold(accepted_on("2026-03-02", ev("concluded", 3, "2026-03-10T10:00")))
    c = clock(whole, limits, CAL)
    assert disproved(whole, "red", "deadline", c) and disproved(whole, "yellow", "deadline", c)
    # A case concluded after its due date was late indeed: the red card stands.
    late = fold(accepted_on("2026-03-02", ev("concluded", 3, "2026-03-20T10:00")))
    assert not disproved(late, "red", "deadline", clock(late, limits, CAL))
    # Other warnings, and open cases, are never "disproved".
    assert not disproved(whole, "step_over_limit", "step:submitted:a:1", c)
    assert not disproved(partial, "red", "deadline", clock(partial, limits, CAL))
