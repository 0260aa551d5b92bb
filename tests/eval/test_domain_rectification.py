"""差评 handling: the state machine and its working-day deadlines (no I/O)."""

from __future__ import annotations

import datetime as dt

import pytest

from services.eval.domain.rectification import (
    Action,
    Deadlines,
    State,
    TransitionError,
    apply,
    division_of_org,
    is_rectified,
    open_rectification,
    overdue,
    recount,
)
from services.runtime.calendar import WorkingCalendar, YearSchedule

CAL = WorkingCalendar()
D = Deadlines()
ORG = "11440200MB2C12345W"  # division 440200


def test_the_whole_path_reported_to_closed() -> None:
    today = dt.date(2026, 3, 2)  # a Monday
    r = open_rectification(today, D, CAL)
    assert r.state is State.REPORTED and r.verify_due == dt.date(2026, 3, 5)
    r = apply(r, Action.VERIFY, today, D, CAL, "440200")
    assert r.state is State.RECTIFYING
    assert r.rectify_due == dt.date(2026, 3, 23)  # 15 working days: three weeks
    r = apply(r, Action.RECTIFY, dt.date(2026, 3, 10), D, CAL, "440200")
    assert r.state is State.RETURN_VISIT and is_rectified(r.state)
    assert r.visit_due == dt.date(2026, 3, 17)
    r = apply(r, Action.RETURN_VISIT, dt.date(2026, 3, 11), D, CAL, "440200")
    assert r.state is State.CLOSED


def test_the_rectify_deadline_crosses_national_day() -> None:
    # verified on Tue 2026-09-29, just before the 国庆 break (10-01…10-07 off).
    day = dt.date(2026, 9, 29)
    r = apply(open_rectification(day, D, CAL), Action.VERIFY, day, D, CAL, None)
    expected = day
    counted = 0
    while counted < 15:  # independent count over the package's own day list
        expected += dt.timedelta(days=1)
        if CAL.is_working_day(expected):
            counted += 1
    assert r.rectify_due == expected
    assert (r.rectify_due - day).days > 21  # a plain weekday count would end by 10-20
    assert not any(CAL.is_working_day(dt.date(2026, 10, d)) for d in range(1, 8))


def test_region_deadline_longest_prefix_wins() -> None:
    d = Deadlines(rectify_by_region={"44": 10, "4402": 5})
    assert division_of_org(ORG) == "440200"
    assert d.rectify_days("440200") == 5
    assert d.rectify_days("440300") == 10
    assert d.rectify_days("110000") == 15
    r = apply(
        open_rectification(dt.date(2026, 3, 2), d, CAL),
        Action.VERIFY,
        dt.date(2026, 3, 2),
        d,
        CAL,
        "440200",
    )
    assert r.rectify_due == dt.date(2026, 3, 9)


def test_appeal_upheld_and_rejected() -> None:
    today = dt.date(2026, 3, 2)
    r = open_rectification(today, D, CAL)
    appealed = apply(r, Action.APPEAL, today, D, CAL, None)
    assert appealed.state is State.APPEALED
    assert apply(appealed, Action.UPHOLD, today, D, CAL, None).state is State.APPEAL_UPHELD
    back = apply(appealed, Action.REJECT, today, D, CAL, None)
    assert back.state is State.RECTIFYING and back.rectify_due is not None


@pytest.mark.parametrize(
    ("state", "action"),
    [
        (State.REPORTED, Action.RECTIFY),
        (State.REPORTED, Action.UPHOLD),
        (State.RECTIFYING, Action.RETURN_VISIT),
        (State.CLOSED, Action.APPEAL),
        (State.APPEAL_UPHELD, Action.REJECT),
        (State.RETURN_VISIT, Action.APPEAL),
    ],
)
def test_steps_out_of_order_are_refused(state: State, action: Action) -> None:
    from services.eval.domain.rectification import Rectification

    with pytest.raises(TransitionError):
        apply(Rectification(state), action, dt.date(2026, 3, 2), D, CAL, None)


def test_overdue_only_after_the_deadline() -> None:
    r = open_rectification(dt.date(2026, 3, 2), D, CAL)
    assert overdue(r, dt.date(2026, 3, 5)) is None  # the due day itself is in time
    assert overdue(r, dt.date(2026, 3, 6)) == ("verify", dt.date(2026, 3, 5))
    closed = apply(
        apply(
            apply(r, Action.VERIFY, dt.date(2026, 3, 2), D, CAL, None),
            Action.RECTIFY,
            dt.date(2026, 3, 3),
            D,
            CAL,
            None,
        ),
        Action.RETURN_VISIT,
        dt.date(2026, 3, 4),
        D,
        CAL,
        None,
    )
    assert overdue(closed, dt.date(2027, 1, 1)) is None


def test_a_deadline_into_a_year_without_schedule_is_provisional_and_recounted() -> None:
    # 2027 has no official schedule in the package: counted from the statutory rules.
    cal = WorkingCalendar()
    day = dt.date(2026, 12, 21)
    r = apply(open_rectification(day, D, cal), Action.VERIFY, day, D, cal, None)
    assert r.provisional and r.due_from == day and r.rectify_due is not None
    assert r.rectify_due.year == 2027
    # the official schedule arrives: two more days off in the count
    cal.load_year(YearSchedule.parse(2027, ["2027-01-01", "2027-01-04", "2027-01-05"], []))
    again = recount(r, D, cal, None)
    assert not again.provisional
    assert again.rectify_due == cal.add_working_days(day, 15)
    assert again.rectify_due is not None and again.rectify_due > r.rectify_due
    assert recount(again, D, cal, None) == again  # nothing provisional left


def test_official_deadlines_are_not_recounted() -> None:
    day = dt.date(2026, 3, 2)
    r = open_rectification(day, D, CAL)
    assert not r.provisional and recount(r, D, CAL, None) is r
