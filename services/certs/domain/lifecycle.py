"""The certificate lifecycle (证照生命周期) as a pure state machine.

States of one certificate version::

    valid ──挂失/暂停 suspend──▶ suspended ──恢复 resume──▶ valid
      │  ╲                          │
      │   ╲ 变更 supersede          ├─ 注销 cancel / 吊销 revoke / 过期 expire
      │    ▶ superseded             ▼
      ├─ 注销 cancel ──▶ cancelled   (terminal)
      ├─ 吊销 revoke ──▶ revoked     (terminal)
      └─ 过期 expire ──▶ expired     (terminal but for 吊销: a penalty still lands on it)

A certificate is suspended for up to two independent causes: a person's decision (挂失/暂停,
with its reason, lifted by ``resume``) and 年检 (a failed or overdue annual inspection, lifted
only by a passed inspection). It is valid again once neither holds, so finding a lost licence
does not excuse a missed inspection, nor does an inspection undo a 挂失.

Status-list bits (see :mod:`status_list`): entering ``suspended`` sets the suspension bit,
leaving it for ``valid`` clears it; cancel, revoke and supersede set the revocation bit
(irreversible) and clear the suspension bit so a verifier sees one reason; expiry flips
nothing, since the validity dates are in the signed certificate and the QR payload. Who/when/
why of each change is kept by the caller with the :class:`StatusChange` it gets back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import StrEnum

from services.certs.domain.status_list import StatusPurpose

__all__ = [
    "INSPECTION_REASON",
    "TERMINAL",
    "BitChange",
    "CertState",
    "CertStatus",
    "LifecycleError",
    "StatusChange",
    "Transition",
    "apply",
    "evaluate",
    "initial_state",
    "record_inspection",
]


class CertStatus(StrEnum):
    """证照状态."""

    VALID = "valid"  # 有效
    SUSPENDED = "suspended"  # 挂失/暂停 (or 年检 not passed)
    CANCELLED = "cancelled"  # 注销
    REVOKED = "revoked"  # 吊销
    EXPIRED = "expired"  # 过期
    SUPERSEDED = "superseded"  # 已变更 (a newer version replaced it)


class Transition(StrEnum):
    """A lifecycle change; values are stable event strings."""

    SUSPEND = "suspend"  # 挂失/暂停
    RESUME = "resume"  # 恢复
    CANCEL = "cancel"  # 注销
    REVOKE = "revoke"  # 吊销
    EXPIRE = "expire"  # 过期 (automatic)
    SUPERSEDE = "supersede"  # 变更 (a new version is issued)
    INSPECT = "inspect"  # 年检 result (see record_inspection), or 年检 overdue (evaluate)


TERMINAL: frozenset[CertStatus] = frozenset(
    {CertStatus.CANCELLED, CertStatus.REVOKED, CertStatus.EXPIRED, CertStatus.SUPERSEDED}
)

_TERMINAL_BY: dict[Transition, CertStatus] = {
    Transition.CANCEL: CertStatus.CANCELLED,
    Transition.REVOKE: CertStatus.REVOKED,
    Transition.EXPIRE: CertStatus.EXPIRED,
    Transition.SUPERSEDE: CertStatus.SUPERSEDED,
}

# Transitions a person decides must say why (kept with who and when, GB/T 36902 audit).
_NEEDS_REASON = frozenset(
    {Transition.SUSPEND, Transition.RESUME, Transition.CANCEL, Transition.REVOKE}
)
INSPECTION_REASON = "inspection"
_INSPECTION_INTERVAL_YEARS = 1


class LifecycleError(ValueError):
    """A change is not allowed; ``reason``: ``not_allowed``, ``reason_required``,
    ``inspection_required``, ``no_inspection``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class BitChange:
    """Set (``value=True``) or clear one status-list bit at the certificate's index."""

    purpose: StatusPurpose
    value: bool


@dataclass(frozen=True, slots=True)
class CertState:
    """What the lifecycle needs of a certificate version.

    ``suspension_reason`` is the reason of a person's 挂失/暂停 (None if there is none);
    ``inspection_failed`` is True while a 年检 is failed or overdue. ``status`` is
    ``suspended`` exactly when one of them holds (and the version is not terminal).
    """

    status: CertStatus
    valid_until: dt.date | None
    annual_inspection: bool = False
    inspection_due: dt.date | None = None  # next 年检 deadline, for types that need it
    suspension_reason: str | None = None
    inspection_failed: bool = False


@dataclass(frozen=True, slots=True)
class StatusChange:
    """Result of a change: the new state, the bits to flip, and the facts to record."""

    before: CertState
    after: CertState
    transition: Transition
    reason: str | None
    at: dt.datetime
    bits: tuple[BitChange, ...]


def _add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def initial_state(
    issued_on: dt.date, valid_until: dt.date | None, *, annual_inspection: bool
) -> CertState:
    """State of a newly issued version; 年检 types are due one year after issue."""
    due = _add_years(issued_on, _INSPECTION_INTERVAL_YEARS) if annual_inspection else None
    return CertState(
        status=CertStatus.VALID,
        valid_until=valid_until,
        annual_inspection=annual_inspection,
        inspection_due=due,
    )


def _bits(before: CertStatus, after: CertStatus) -> tuple[BitChange, ...]:
    if after is CertStatus.SUSPENDED and before is CertStatus.VALID:
        return (BitChange(StatusPurpose.SUSPENSION, True),)
    if after is CertStatus.VALID and before is CertStatus.SUSPENDED:
        return (BitChange(StatusPurpose.SUSPENSION, False),)
    if after in (CertStatus.CANCELLED, CertStatus.REVOKED, CertStatus.SUPERSEDED):
        clear = (
            (BitChange(StatusPurpose.SUSPENSION, False),) if before is CertStatus.SUSPENDED else ()
        )
        return (BitChange(StatusPurpose.REVOCATION, True), *clear)
    return ()


def _settle(
    before: CertState,
    transition: Transition,
    at: dt.datetime,
    reason: str | None,
    **fields: object,
) -> StatusChange:
    """Apply field changes to a live (valid/suspended) state and derive the status from them."""
    after = replace(before, **fields)  # type: ignore[arg-type]
    suspended = after.suspension_reason is not None or after.inspection_failed
    after = replace(after, status=CertStatus.SUSPENDED if suspended else CertStatus.VALID)
    return StatusChange(before, after, transition, reason, at, _bits(before.status, after.status))


def _refuse(state: CertState, transition: Transition) -> LifecycleError:
    return LifecycleError(
        "not_allowed", f"cannot {transition} a certificate that is {state.status}"
    )


def apply(
    state: CertState, transition: Transition, at: dt.datetime, reason: str | None = None
) -> StatusChange:
    """Apply one change, or raise :class:`LifecycleError` if the state machine forbids it.

    ``INSPECT`` is not applied here: use :func:`record_inspection`.
    """
    if transition in _NEEDS_REASON and not (reason and reason.strip()):
        raise LifecycleError("reason_required", f"{transition} needs a reason")
    if state.status in TERMINAL:
        # Only a penalty still lands on an expired certificate.
        if state.status is CertStatus.EXPIRED and transition is Transition.REVOKE:
            return _terminal(state, transition, at, reason)
        raise _refuse(state, transition)
    if transition is Transition.SUSPEND:
        if state.suspension_reason is not None:
            raise _refuse(state, transition)
        return _settle(state, transition, at, reason, suspension_reason=reason)
    if transition is Transition.RESUME:
        if state.suspension_reason is None:
            if state.inspection_failed:
                raise LifecycleError(
                    "inspection_required", "suspended for 年检: only a passed inspection lifts it"
                )
            raise _refuse(state, transition)
        return _settle(state, transition, at, reason, suspension_reason=None)
    if transition is Transition.SUPERSEDE and state.status is CertStatus.SUSPENDED:
        # 变更 of a suspended certificate would hand out a clean new version: resume first.
        raise _refuse(state, transition)
    if transition in _TERMINAL_BY:
        return _terminal(state, transition, at, reason)
    raise _refuse(state, transition)


def _terminal(
    state: CertState, transition: Transition, at: dt.datetime, reason: str | None
) -> StatusChange:
    target = _TERMINAL_BY[transition]
    after = replace(state, status=target)
    return StatusChange(state, after, transition, reason, at, _bits(state.status, target))


def record_inspection(state: CertState, passed: bool, at: dt.datetime) -> StatusChange:
    """A 年检 result. Passed: the next one is due a year from ``at`` and a 年检 suspension is
    lifted (a 挂失 stays). Failed: the certificate is suspended until an inspection passes."""
    if not state.annual_inspection:
        raise LifecycleError("no_inspection", "this certificate type has no 年检")
    if state.status in TERMINAL:
        raise _refuse(state, Transition.INSPECT)
    if passed:
        due = _add_years(at.date(), _INSPECTION_INTERVAL_YEARS)
        return _settle(
            state, Transition.INSPECT, at, "passed", inspection_failed=False, inspection_due=due
        )
    return _settle(state, Transition.INSPECT, at, "failed", inspection_failed=True)


def evaluate(state: CertState, today: dt.date, at: dt.datetime) -> StatusChange | None:
    """The automatic change due on ``today``, if any: 过期 after the last valid day, else a
    年检 suspension once the due date has passed. Run by the service's daily sweep."""
    if state.status in TERMINAL:
        return None
    if state.valid_until is not None and today > state.valid_until:
        return apply(state, Transition.EXPIRE, at)
    overdue = state.inspection_due is not None and today > state.inspection_due
    if overdue and not state.inspection_failed:
        return _settle(state, Transition.INSPECT, at, "overdue", inspection_failed=True)
    return None
