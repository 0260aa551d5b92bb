"""The certificate state machine, 年检, and which changes flip which status-list bits.

Each change is applied to real status lists and read back with the spec decoder."""

from __future__ import annotations

import datetime as dt

import pytest

from services.certs.domain.lifecycle import (
    TERMINAL,
    CertState,
    CertStatus,
    LifecycleError,
    StatusChange,
    Transition,
    apply,
    evaluate,
    initial_state,
    record_inspection,
)
from services.certs.domain.status_list import StatusList, StatusPurpose
from tests.certs.support import spec_decode_bit

AT = dt.datetime(2027, 1, 2, 9, 30, tzinfo=dt.UTC)
INDEX = 77_777


class Lists:
    """An issuer's two lists; applies a change's bits at the certificate's index."""

    def __init__(self) -> None:
        self.lists = {p: StatusList(p) for p in StatusPurpose}

    def apply(self, change: StatusChange) -> None:
        for bit in change.bits:
            self.lists[bit.purpose].set(INDEX, bit.value)

    def read(self) -> tuple[bool, bool]:
        """(revoked, suspended) as an independent verifier sees them."""
        return (
            spec_decode_bit(self.lists[StatusPurpose.REVOCATION].encode(), INDEX),
            spec_decode_bit(self.lists[StatusPurpose.SUSPENSION].encode(), INDEX),
        )


def fresh(annual: bool = False) -> CertState:
    return initial_state(dt.date(2026, 3, 15), dt.date(2031, 3, 14), annual_inspection=annual)


def test_suspend_resume_flips_the_suspension_bit_both_ways() -> None:
    lists = Lists()
    change = apply(fresh(), Transition.SUSPEND, AT, "挂失: 证照遗失")
    lists.apply(change)
    assert change.after.status is CertStatus.SUSPENDED
    assert change.after.suspension_reason == "挂失: 证照遗失"
    assert lists.read() == (False, True)
    back = apply(change.after, Transition.RESUME, AT, "已找回")
    lists.apply(back)
    assert back.after.status is CertStatus.VALID and back.after.suspension_reason is None
    assert lists.read() == (False, False)
    assert (back.transition, back.reason, back.at) == (Transition.RESUME, "已找回", AT)


@pytest.mark.parametrize(
    ("transition", "status"),
    [
        (Transition.CANCEL, CertStatus.CANCELLED),
        (Transition.REVOKE, CertStatus.REVOKED),
        (Transition.SUPERSEDE, CertStatus.SUPERSEDED),
    ],
)
def test_terminal_changes_set_the_revocation_bit(
    transition: Transition, status: CertStatus
) -> None:
    lists = Lists()
    suspended = apply(fresh(), Transition.SUSPEND, AT, "暂停")
    lists.apply(suspended)
    if transition is Transition.SUPERSEDE:  # 变更 needs a valid certificate
        resumed = apply(suspended.after, Transition.RESUME, AT, "恢复")
        lists.apply(resumed)
        change = apply(resumed.after, transition, AT, "经营场所变更")
    else:
        change = apply(suspended.after, transition, AT, "依法吊销")
    lists.apply(change)
    assert change.after.status is status
    assert lists.read() == (True, False)  # one reason only: revoked, suspension cleared
    for again in Transition:
        with pytest.raises(LifecycleError) as err:
            apply(change.after, again, AT, "再来一次")
        assert err.value.reason == "not_allowed"


def test_supersede_is_not_allowed_while_suspended() -> None:
    suspended = apply(fresh(), Transition.SUSPEND, AT, "暂停").after
    with pytest.raises(LifecycleError) as err:
        apply(suspended, Transition.SUPERSEDE, AT, "变更")
    assert err.value.reason == "not_allowed"


@pytest.mark.parametrize("transition", [Transition.SUSPEND, Transition.CANCEL, Transition.REVOKE])
@pytest.mark.parametrize("reason", [None, "", "   "])
def test_people_must_say_why(transition: Transition, reason: str | None) -> None:
    with pytest.raises(LifecycleError) as err:
        apply(fresh(), transition, AT, reason)
    assert err.value.reason == "reason_required"


def test_resume_of_a_valid_certificate_and_apply_inspect_are_refused() -> None:
    for transition in (Transition.RESUME, Transition.INSPECT):
        with pytest.raises(LifecycleError) as err:
            apply(fresh(annual=True), transition, AT, "x")
        assert err.value.reason == "not_allowed"


def test_expiry_is_automatic_and_flips_no_bit() -> None:
    state = fresh()
    assert evaluate(state, dt.date(2031, 3, 14), AT) is None  # last valid day
    change = evaluate(state, dt.date(2031, 3, 15), AT)
    assert change is not None and change.after.status is CertStatus.EXPIRED
    assert change.bits == ()
    assert evaluate(change.after, dt.date(2040, 1, 1), AT) is None
    # A penalty may still land on an expired licence; nothing else may.
    assert apply(change.after, Transition.REVOKE, AT, "吊销").after.status is CertStatus.REVOKED
    with pytest.raises(LifecycleError):
        apply(change.after, Transition.SUSPEND, AT, "暂停")


def test_a_suspended_certificate_still_expires() -> None:
    lists = Lists()
    suspended = apply(fresh(), Transition.SUSPEND, AT, "暂停")
    lists.apply(suspended)
    change = evaluate(suspended.after, dt.date(2032, 1, 1), AT)
    assert change is not None and change.after.status is CertStatus.EXPIRED
    lists.apply(change)
    assert lists.read() == (False, True)


def test_no_expiry_for_long_term_certificates() -> None:
    state = initial_state(dt.date(2026, 3, 15), None, annual_inspection=False)
    assert evaluate(state, dt.date(2099, 12, 31), AT) is None


def test_annual_inspection_due_suspends_and_only_inspection_lifts_it() -> None:
    lists = Lists()
    state = fresh(annual=True)
    assert state.inspection_due == dt.date(2027, 3, 15)
    assert evaluate(state, dt.date(2027, 3, 15), AT) is None
    overdue = evaluate(state, dt.date(2027, 3, 16), AT)
    assert overdue is not None
    lists.apply(overdue)
    assert overdue.after.status is CertStatus.SUSPENDED
    assert overdue.after.inspection_failed and overdue.after.suspension_reason is None
    assert (overdue.transition, overdue.reason) == (Transition.INSPECT, "overdue")
    assert lists.read() == (False, True)
    assert evaluate(overdue.after, dt.date(2027, 3, 17), AT) is None  # once, not every day
    with pytest.raises(LifecycleError) as err:
        apply(overdue.after, Transition.RESUME, AT, "想恢复")
    assert err.value.reason == "inspection_required"
    at = dt.datetime(2027, 4, 1, tzinfo=dt.UTC)
    passed = record_inspection(overdue.after, True, at)
    lists.apply(passed)
    assert passed.after.status is CertStatus.VALID
    assert passed.after.inspection_due == dt.date(2028, 4, 1)
    assert (passed.transition, passed.reason) == (Transition.INSPECT, "passed")
    assert lists.read() == (False, False)


def test_inspection_of_a_valid_certificate_moves_the_due_date_only() -> None:
    change = record_inspection(fresh(annual=True), True, AT)
    assert change.after.status is CertStatus.VALID
    assert change.after.inspection_due == dt.date(2028, 1, 2)
    assert change.bits == ()


def test_failed_inspection_suspends() -> None:
    lists = Lists()
    change = record_inspection(fresh(annual=True), False, AT)
    lists.apply(change)
    assert change.after.status is CertStatus.SUSPENDED
    assert lists.read() == (False, True)


def test_loss_and_inspection_are_independent_causes() -> None:
    """Finding a lost licence does not excuse a failed 年检, nor does 年检 undo a 挂失."""
    lists = Lists()
    lost = apply(fresh(annual=True), Transition.SUSPEND, AT, "挂失")
    lists.apply(lost)
    failed = record_inspection(lost.after, False, AT)
    assert failed.bits == () and failed.after.status is CertStatus.SUSPENDED
    found = apply(failed.after, Transition.RESUME, AT, "已找回")
    assert found.after.status is CertStatus.SUSPENDED and found.bits == ()
    assert found.after.suspension_reason is None and found.after.inspection_failed
    # The other order: inspection passes while still lost.
    passed = record_inspection(failed.after, True, AT)
    assert passed.after.status is CertStatus.SUSPENDED and passed.bits == ()
    assert passed.after.suspension_reason == "挂失"
    resumed = apply(passed.after, Transition.RESUME, AT, "已找回")
    lists.apply(resumed)
    assert resumed.after.status is CertStatus.VALID
    assert lists.read() == (False, False)
    # A person may add a 暂停 on top of a 年检 suspension, and the bit is already set.
    inspection_only = record_inspection(fresh(annual=True), False, AT).after
    paused = apply(inspection_only, Transition.SUSPEND, AT, "立案调查")
    assert paused.bits == () and paused.after.suspension_reason == "立案调查"
    with pytest.raises(LifecycleError):
        apply(paused.after, Transition.SUSPEND, AT, "again")


def test_inspection_rules() -> None:
    with pytest.raises(LifecycleError) as err:
        record_inspection(fresh(annual=False), True, AT)
    assert err.value.reason == "no_inspection"
    revoked = apply(fresh(annual=True), Transition.REVOKE, AT, "吊销").after
    with pytest.raises(LifecycleError):
        record_inspection(revoked, True, AT)
    assert evaluate(revoked, dt.date(2099, 1, 1), AT) is None


def test_leap_day_inspection() -> None:
    state = initial_state(dt.date(2028, 2, 29), None, annual_inspection=True)
    assert state.inspection_due == dt.date(2029, 2, 28)


def test_terminal_set() -> None:
    assert CertStatus.VALID not in TERMINAL and CertStatus.SUSPENDED not in TERMINAL
    assert len(TERMINAL) == 4
