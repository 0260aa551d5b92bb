"""全程留痕: a case's events, their canonical order, and the state they fold into.

The stages of a 办件 are a pure function of the *set* of its events: they are
deduplicated by (source system, event id), put in source order (``seq`` when every event
has one, else ``occurred_at``) and replayed through the state machine. Arrival order
cannot change them: a late event takes its place in the history, and the current stage
stays that of the last event in source order — it is never rewound to the late one.
An event the machine does not allow from where the case stands is kept in the history
as an anomaly (异常) and changes nothing.

Who the case belongs to is fixed by *arrival* order instead: the applicant (申请人) and
the handling org (承办单位) are those of the first event the hub received that names
them. Source order is what the sender claims (a back-dated event would sort first), so it
cannot decide ownership. A later event naming another applicant is an anomaly: its stage
applies, its applicant does not. A later event naming another handling org is an
anomaly and is not applied at all: one org's system does not move another org's case.
The fold's input is therefore the events *in arrival order* (duplicates included); the
state is still a pure, deterministic function of that sequence.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from services.cases.domain.stages import ACCEPTANCES, ENDINGS, RANK, CaseType, Stage, allowed_next

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
"""Deadlines are counted on the calendar of the place the case is handled."""

EventKey = tuple[str, str]
"""(source_system, event_id): the identity of an event at its source."""


def local_date(moment: datetime) -> date:
    return moment.astimezone(LOCAL_TZ).date()


@dataclass(frozen=True)
class Handler:
    """承办: the org (USCC), department and staff number handling the step."""

    org_uscc: str | None = None
    department: str | None = None
    staff_no: str | None = None


@dataclass(frozen=True)
class CaseEvent:
    """One reported step of a 办件 (the canonical event, without personal data).

    ``applicant`` is opaque to the rules (the service keeps it encrypted): a value that is
    equal for the same applicant, e.g. (type, blind index of the ID number); the fold
    chooses which event supplies it and flags events naming another.
    """

    event_id: str
    source_system: str
    stage: Stage
    occurred_at: datetime
    seq: int | None = None
    channel: str | None = None
    case_type: CaseType | None = None
    handler: Handler | None = None
    decision: str | None = None
    certificate_type: str | None = None
    reason: str | None = None
    applicant: Any = None

    @property
    def key(self) -> EventKey:
        return (self.source_system, self.event_id)


@dataclass(frozen=True)
class Step:
    """What one event did when the history was replayed."""

    key: EventKey
    stage: Stage
    occurred_at: datetime
    seq: int | None
    applied: bool
    anomaly: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Pause:
    """暂停计时: 补正 or 特别程序, from ``start`` to ``end`` (``None`` = still paused)."""

    kind: str  # "correction" | "special_procedure"
    start: datetime
    end: datetime | None = None


@dataclass(frozen=True)
class CaseState:
    """Where a 办件 stands after its whole known history."""

    stage: Stage | None = None
    accepted: bool = False
    case_type: CaseType | None = None
    submitted_at: datetime | None = None
    accepted_at: datetime | None = None
    decided_at: datetime | None = None
    concluded_at: datetime | None = None
    delivered_at: datetime | None = None
    withdrawn_at: datetime | None = None
    returned_at: datetime | None = None
    not_accepted_at: datetime | None = None
    stage_since: datetime | None = None
    last_event_at: datetime | None = None
    pauses: tuple[Pause, ...] = ()
    decision: str | None = None
    certificate_type: str | None = None
    handler: Handler | None = None
    applicant_event: EventKey | None = None
    steps: tuple[Step, ...] = field(default=(), repr=False)

    @property
    def anomalies(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.anomaly is not None)

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1].end is None

    @property
    def closed_at(self) -> datetime | None:
        """When the clock stopped for good (办结, 撤回, 退件 or 不予受理)."""
        return self.concluded_at or self.withdrawn_at or self.returned_at or self.not_accepted_at


def _unique(events: Iterable[CaseEvent]) -> dict[EventKey, CaseEvent]:
    """One event per key, keys in order of first arrival."""
    unique: dict[EventKey, CaseEvent] = {}
    for event in events:
        kept = unique.get(event.key)
        # A resent id with different content: keep one deterministically, not the first seen.
        if kept is None or _tiebreak(event) < _tiebreak(kept):
            unique[event.key] = event
    return unique


def canonical_order(events: Iterable[CaseEvent]) -> list[CaseEvent]:
    """Deduplicated events in source order (deterministic for any arrival order)."""
    return _source_order(_unique(events))


def _source_order(unique: dict[EventKey, CaseEvent]) -> list[CaseEvent]:
    chosen = list(unique.values())
    if all(e.seq is not None for e in chosen):
        return sorted(chosen, key=lambda e: (e.seq, *_tiebreak(e)))
    return sorted(chosen, key=_tiebreak)


def _tiebreak(e: CaseEvent) -> tuple[Any, ...]:
    return (
        e.occurred_at,
        -1 if e.seq is None else e.seq,
        RANK[e.stage],
        e.source_system,
        e.event_id,
        repr(e),
    )


@dataclass
class _Owner:
    """The case's applicant and handling org, fixed by the first event received naming them."""

    applicant_event: EventKey | None = None
    applicant: Any = None
    org: str | None = None

    def note(self, event: CaseEvent) -> None:
        """Take what ``event`` names if no earlier arrival named it."""
        if self.applicant_event is None and event.applicant is not None:
            self.applicant_event, self.applicant = event.key, event.applicant
        org = event.handler.org_uscc if event.handler else None
        if self.org is None and org:
            self.org = org


def _owner(unique: dict[EventKey, CaseEvent]) -> _Owner:
    owner = _Owner()
    for event in unique.values():  # in order of first arrival
        owner.note(event)
    return owner


def fold(events: Iterable[CaseEvent]) -> CaseState:
    """Replay a case's history, given in arrival order, through the state machine."""
    unique = _unique(events)
    state = _Builder(_owner(unique))
    for event in _source_order(unique):
        state.apply(event)
    return state.freeze()


class Replay:
    """A case's history held in memory, for adding events one at a time.

    Equal to :func:`fold` over every event added, at lower cost: an event that takes the
    last place in source order (the usual case: systems report in order) is applied to
    the running state; only a late event, a resent id or a change of ordering rule (the
    first event without ``seq``) replays the whole history.
    """

    def __init__(self, events: Iterable[CaseEvent] = ()) -> None:
        self._events: list[CaseEvent] = list(events)
        self._keys: set[EventKey] = {e.key for e in self._events}
        self._replay()

    def __contains__(self, key: EventKey) -> bool:
        return key in self._keys

    def add(self, event: CaseEvent) -> CaseState:
        in_order = event.key not in self._keys and self._after_last(event)
        self._events.append(event)
        self._keys.add(event.key)
        if in_order:
            # Also the last arrival: it can only name the owner if nobody did before.
            self._last = event
            self._all_seq = self._all_seq and event.seq is not None
            self._builder.owner.note(event)
            self._builder.apply(event)
            self.state = self._builder.freeze()
        else:
            self._replay()
        return self.state

    def _after_last(self, event: CaseEvent) -> bool:
        last = self._last
        if last is None:
            return True
        if self._all_seq:
            if event.seq is None:
                return False  # the ordering rule changes from seq to time: replay
            assert last.seq is not None
            if event.seq != last.seq:
                return event.seq > last.seq
        return _tiebreak(event) > _tiebreak(last)

    def _replay(self) -> None:
        unique = _unique(self._events)
        ordered = _source_order(unique)
        self._builder = _Builder(_owner(unique))
        for e in ordered:
            self._builder.apply(e)
        self._last: CaseEvent | None = ordered[-1] if ordered else None
        self._all_seq = all(e.seq is not None for e in ordered)
        self.state: CaseState = self._builder.freeze()


class _Builder:
    def __init__(self, owner: _Owner | None = None) -> None:
        self.owner = owner or _Owner()
        self.values: dict[str, Any] = {}
        self.stage: Stage | None = None
        self.accepted = False
        self.case_type: CaseType | None = None
        self.pauses: list[Pause] = []
        self.steps: list[Step] = []

    def apply(self, event: CaseEvent) -> None:
        v, owner, h = self.values, self.owner, event.handler
        org = h.org_uscc if h is not None else None
        # Another org's event about this case: recorded, never applied (the owner's org
        # is set whenever any event names one, so this compares with a real value).
        foreign_org = bool(org) and org != owner.org
        conflicts = self._conflicts(event, org) if (org or event.applicant is not None) else []
        # Descriptive facts are taken from every event the case's own org reports, even
        # one the machine refuses: the case type does not depend on the step being legal.
        if not foreign_org:
            if self.case_type is None and event.case_type is not None:
                self.case_type = event.case_type
            if h is not None:
                v["handler"] = h if org or owner.org is None else replace(h, org_uscc=owner.org)
        v["last_event_at"] = max(v.get("last_event_at", event.occurred_at), event.occurred_at)

        allowed = allowed_next(self.stage, accepted=self.accepted, case_type=self.case_type)
        if foreign_org or event.stage not in allowed:
            if event.stage not in allowed:
                where = self.stage.value if self.stage else "(no case yet)"
                conflicts.insert(0, f"{event.stage.value} is not allowed after {where}")
            self.steps.append(
                Step(
                    event.key,
                    event.stage,
                    event.occurred_at,
                    event.seq,
                    applied=False,
                    anomaly="; ".join(conflicts),
                )
            )
            return
        self.steps.append(
            Step(
                event.key,
                event.stage,
                event.occurred_at,
                event.seq,
                True,
                anomaly="; ".join(conflicts) or None,
                reason=event.reason,
            )
        )
        self._enter(event)

    def _conflicts(self, event: CaseEvent, org: str | None) -> list[str]:
        """What ``event`` says about the case's owner that contradicts the first arrival."""
        found = []
        owner = self.owner
        if (
            event.applicant is not None
            and owner.applicant_event not in (None, event.key)
            and event.applicant != owner.applicant
        ):
            found.append("applicant differs from the case's (first received): not applied")
        if org and owner.org and org != owner.org:
            found.append(f"handler org {org} is not the case's ({owner.org}): not applied")
        return found

    def _close_pause(self, at: datetime) -> None:
        if self.pauses and self.pauses[-1].end is None:
            last = self.pauses[-1]
            self.pauses[-1] = Pause(last.kind, last.start, at)

    def _enter(self, event: CaseEvent) -> None:
        v, at, stage = self.values, event.occurred_at, event.stage
        self.stage = stage
        v["stage_since"] = at
        if stage is Stage.SUBMITTED:
            v.setdefault("submitted_at", at)
        elif stage in ACCEPTANCES:
            # 容缺受理 starts the clock exactly as 受理 does.
            self.accepted = True
            v["accepted_at"] = at
        elif stage is Stage.NOT_ACCEPTED:
            v["not_accepted_at"] = at
        elif stage is Stage.CORRECTION_REQUESTED:
            self.pauses.append(Pause("correction", at))
        elif stage is Stage.SUSPENDED:
            self.pauses.append(Pause("special_procedure", at))
        elif stage in (Stage.CORRECTION_RECEIVED, Stage.RESUMED):
            # After 容缺受理 the missing items arrive without a pause to end.
            self._close_pause(at)
        elif stage in (Stage.DECIDED, Stage.CONCLUDED):
            v[f"{stage.value}_at"] = at
            if stage is Stage.CONCLUDED:
                # 办结 without a separate 决定 carries the decision: it was taken then.
                v.setdefault("decided_at", at)
            if event.decision is not None:
                v["decision"] = event.decision
            if event.certificate_type is not None:
                v["certificate_type"] = event.certificate_type
        elif stage is Stage.DELIVERED:
            v["delivered_at"] = at
        elif stage in ENDINGS:
            v[f"{stage.value}_at"] = at
            self._close_pause(at)

    def freeze(self) -> CaseState:
        return CaseState(
            stage=self.stage,
            accepted=self.accepted,
            case_type=self.case_type,
            pauses=tuple(self.pauses),
            steps=tuple(self.steps),
            applicant_event=self.owner.applicant_event,
            **self.values,
        )
