"""Applying 办件 events: park or apply, replay the history, recompute deadlines, raise
电子监察 warnings and publish the facts — all in the caller's transaction.

The consumer runs this inside its inbox transaction, so an event's effect, its inbox
row and the facts it causes commit together or not at all.

Speed: the consumer applies a partition's whole batch (up to 500 events) in one
transaction. A case is read (and row-locked) once per transaction; its history stays in
memory (``session.info``) for the batch's later events, which are folded in
incrementally (:class:`Replay`) rather than re-read and replayed. Matters are read once
per transaction too. The advisory lock is taken only on the way to parking. The case
rows and new history rows join the session only when the transaction commits (a
``before_commit`` hook), so a batch writes each case once and its history rows in one
multi-row INSERT, instead of an UPDATE and an INSERT per event. The deadlines (a pure
function of the state), facts and 电子监察 of each case the transaction changed are
settled once, at that same moment (new warnings in one flush), on
its state after the whole batch: ``state.changed`` goes from the stage the case had
before the transaction to the one it commits with (a stage that existed only inside an
uncommitted batch was never visible to anyone), and a case whose later steps are in the
batch is not warned about for the time an earlier step seemed to take.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from sqlalchemy import delete, event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.util import await_only

from services.cases.domain.deadlines import Clock, Limits, clock
from services.cases.domain.history import CaseState, EventKey, Replay, local_date
from services.cases.domain.stages import CLOSED_STAGES, FINAL_STAGES
from services.cases.domain.supervision import (
    SupervisionRules,
    closes,
    disproved,
    step_due_date,
    supervise,
)
from services.cases.events import facts
from services.cases.settings import CasesSettings
from services.cases.store import repository as repo
from services.cases.store.tables import (
    CaseEventRow,
    CaseRow,
    MatterReplica,
    ParkedEvent,
    WarningRow,
)
from services.runtime.calendar import WorkingCalendar, YearSchedule, calendar_from_settings
from services.runtime.crypto import FieldCipher
from services.runtime.db import utcnow
from services.runtime.identifiers import InvalidIdentifier, parse_case_no
from services.runtime.masking import mask_name
from services.runtime.messaging import PermanentEventError
from services.runtime.messaging.outbox import outbox_batch
from services.runtime.pii import citizen_id_ref, pii_cipher

log = logging.getLogger("hub.cases")

Publish = Callable[..., Awaitable[str]]
# A fact to publish once the warnings it may name have their ids (see _tell).
_Fact = Callable[[], Awaitable[None]]

_CASES = "cases.loaded"
_MATTERS = "cases.matters"
_NEW_ROWS = "cases.new_rows"
_HOOKED = "cases.hooked"
_CASEWORK = "cases.casework"
_ASYNC_SESSION = "cases.session"


def _write_at_commit(session: Session) -> None:
    """Before the commit's final flush: supervise the cases the transaction changed,
    then hand their rows and the new history rows to the flush. (Runs inside the async
    session's greenlet, so it may await.)"""
    info = session.info
    if _CASES not in info:
        return
    casework: Casework = info[_CASEWORK]
    await_only(casework._settle(info[_ASYNC_SESSION], info[_CASES]))
    loaded: dict[str, _Loaded | None] = info[_CASES]
    session.add_all([item.case for item in loaded.values() if item is not None])
    session.add_all(info[_NEW_ROWS])
    _forget(session)


def _forget(session: Session) -> None:
    """The working set lives for one transaction (its row locks end with it)."""
    for key in (_CASES, _MATTERS, _NEW_ROWS, _CASEWORK, _ASYNC_SESSION):
        session.info.pop(key, None)


@dataclass
class _Loaded:
    """A case as the current transaction knows it: its row (locked), its history (rows
    by event key, and the running :class:`Replay`) and its warnings."""

    case: CaseRow
    rows: dict[EventKey, CaseEventRow] = field(default_factory=dict)
    replay: Replay = field(default_factory=Replay)
    warnings: list[WarningRow] = field(default_factory=list)
    # The committed stage, and (when an event was applied in this transaction) when:
    # deadlines, facts and 电子监察 are settled at commit.
    stage_before: str | None = None
    changed_at: datetime | None = None
    # Set when only the calendar changed (official schedule loaded): the dates before, so
    # a fact is told if they move although the stage does not.
    dates_before: tuple[date | None, date | None, bool] | None = None


@dataclass
class Outcome:
    """What receiving one event did: ``applied``, ``duplicate`` or ``parked``."""

    status: str
    case_no: str
    stage: str | None = None


class Casework:
    """办件 handling of one process (settings, calendar, cipher and the outbox)."""

    def __init__(
        self,
        settings: CasesSettings,
        publish: Publish,
        calendar: WorkingCalendar | None = None,
    ) -> None:
        self.settings = settings
        self.publish = publish
        self.calendar = calendar or calendar_from_settings(settings.calendar_overrides_file)
        self.rules: SupervisionRules = settings.supervision_rules()
        self.cipher: FieldCipher = pii_cipher(settings)
        self._calendar_version: tuple[int, datetime | None] = (0, None)

    def _batch(self, session: AsyncSession) -> dict[str, Any]:
        """This transaction's working set (in ``session.info``), set up on first use."""
        info = session.info
        if _CASES not in info:
            info[_CASES], info[_MATTERS], info[_NEW_ROWS] = {}, {}, []
            info[_CASEWORK], info[_ASYNC_SESSION] = self, session
            if not info.get(_HOOKED):
                info[_HOOKED] = True
                sync = session.sync_session
                event.listen(sync, "before_commit", _write_at_commit)
                event.listen(sync, "after_rollback", _forget)
        return info

    async def _settle(self, session: AsyncSession, cases: dict[str, _Loaded | None]) -> None:
        later: list[_Fact] = []
        for loaded in cases.values():
            if loaded is None or loaded.changed_at is None:
                continue
            case, now = loaded.case, loaded.changed_at
            computed = self._deadlines(case, loaded.replay.state)
            dates = (case.due_date, case.statutory_due_date, case.due_date_provisional)
            if case.stage != loaded.stage_before:
                later.append(
                    partial(
                        facts.state_changed, self.publish, session, case, loaded.stage_before, now
                    )
                )
            elif loaded.dates_before is not None and loaded.dates_before != dates:
                # Recomputed on the official calendar: same stage, new due date.
                later.append(
                    partial(facts.state_changed, self.publish, session, case, case.stage, now)
                )
            loaded.dates_before = None
            self._once(later, session, case, "accepted", case.accepted_at is not None, now)
            self._once(later, session, case, "concluded", case.concluded_at is not None, now)
            self._supervise(later, session, loaded, loaded.replay.state, now, computed)
            loaded.stage_before, loaded.changed_at = case.stage, None
        await _tell(session, later)

    # -- intake -------------------------------------------------------------------
    async def receive(
        self,
        session: AsyncSession,
        data: dict[str, Any],
        *,
        cloud_event_id: str,
        now: datetime | None = None,
    ) -> Outcome:
        """Apply a canonical ``hub.case.event.received`` payload, or park it."""
        now = now or utcnow()
        case_no, code = _check_identity(data)
        if _CASES not in session.info:  # once per transaction: schedules loaded meanwhile
            await self.refresh_calendar(session)
        loaded = await self._load(session, case_no)
        matter = await self._matter(session, code)
        if loaded is None and (matter is None or matter.status != "published"):
            # About to park: take the code's lock and look again (the matter may be
            # committing right now), so parking and unparking cannot miss each other.
            await repo.lock_matter_code(session, code)
            matter = await repo.get_matter(session, code)
            if matter is not None:
                await session.refresh(matter)
            self._batch(session)[_MATTERS][code] = matter
        if loaded is None and (matter is None or matter.status != "published"):
            reason = "unknown matter" if matter is None else f"matter {matter.status}"
            session.add(
                ParkedEvent(
                    implementation_code=code,
                    case_no=case_no,
                    cloud_event_id=cloud_event_id,
                    data_enc=self.cipher.encrypt(
                        json.dumps(data, ensure_ascii=False), context="parked_events.data"
                    ),
                    reason=reason,
                    parked_at=now,
                )
            )
            log.info("case %s parked: %s %s", case_no, reason, code)
            return Outcome("parked", case_no)
        key = (data["source_system"], data["event_id"])
        if loaded is not None and key in loaded.rows:
            return Outcome("duplicate", case_no, loaded.case.stage)
        if loaded is None:
            assert matter is not None
            loaded = _Loaded(self._new_case(case_no, code, matter, now))
            self._batch(session)[_CASES][case_no] = loaded
        row = self._history_row(case_no, data, cloud_event_id, now)
        self._batch(session)[_NEW_ROWS].append(row)
        loaded.rows[key] = row
        state = loaded.replay.add(repo.to_domain(row))
        await self._recompute(session, loaded, state, now)
        return Outcome("applied", case_no, loaded.case.stage)

    async def _load(self, session: AsyncSession, case_no: str) -> _Loaded | None:
        """The case with its history, locked; read once per transaction."""
        cache: dict[str, _Loaded | None] = self._batch(session)[_CASES]
        if case_no in cache:
            return cache[case_no]
        case = await repo.lock_case(session, case_no)
        loaded = None
        if case is not None:  # a case row exists only with its history
            # Out of the session until commit: its changes are written once per batch.
            session.expunge(case)
            rows = await repo.history(session, case_no)
            loaded = _Loaded(
                case,
                {(r.source_system, r.event_id): r for r in rows},
                Replay(repo.to_domain(r) for r in rows),
                list(await repo.case_warnings(session, case_no)),
                stage_before=case.stage,
            )
        cache[case_no] = loaded
        return loaded

    async def _matter(self, session: AsyncSession, code: str) -> MatterReplica | None:
        """The replica of one 事项, read once per transaction (kept referenced: the
        session's identity map alone would let it go)."""
        cache: dict[str, MatterReplica | None] = self._batch(session)[_MATTERS]
        if code not in cache:
            cache[code] = await repo.get_matter(session, code)
        return cache[code]

    def _new_case(self, case_no: str, code: str, matter: MatterReplica, now: datetime) -> CaseRow:
        return CaseRow(
            case_no=case_no,
            implementation_code=code,
            matter_name=matter.name,
            matter_version=matter.version,
            promised_limit_days=matter.promised_limit_days,
            statutory_limit_days=matter.statutory_limit_days,
            special_procedure_limit_days=matter.special_procedure_limit_days,
            handler_org_uscc=matter.department_uscc or code[:18],
            handler_department=matter.department_name,
            certificate_type=None,
            accepted=False,
            paused=False,
            paused_working_days=0,
            due_date_provisional=False,
            anomaly_count=0,
            published=[],
            created_at=now,
            updated_at=now,
        )

    def _history_row(
        self, case_no: str, data: dict[str, Any], cloud_event_id: str, now: datetime
    ) -> CaseEventRow:
        handler = data.get("handler") or {}
        result = data.get("result") or {}
        detail = data.get("detail") or None
        applicant = data.get("applicant") or None
        row = CaseEventRow(
            case_no=case_no,
            source_system=data["source_system"],
            event_id=data["event_id"],
            cloud_event_id=cloud_event_id,
            stage=data["stage"],
            # In UTC as the column gives it back, so the state is the same before and
            # after a round trip through the database.
            occurred_at=datetime.fromisoformat(data["occurred_at"]).astimezone(UTC),
            seq=data.get("seq"),
            channel=data.get("channel"),
            case_type=data.get("case_type"),
            handler_org_uscc=handler.get("org_uscc") or None,
            handler_department=handler.get("department") or None,
            handler_staff_no=handler.get("staff_no") or None,
            decision=result.get("decision"),
            certificate_type=result.get("certificate_type"),
            reason=_reason(detail),
            detail=detail,
            applied=True,
            received_at=now,
        )
        if result.get("certificate_data") is not None:
            row.certificate_data_enc = self.cipher.encrypt(
                json.dumps(result["certificate_data"], ensure_ascii=False),
                context="certificate_data",
            )
        if applicant:
            row.applicant_type = applicant["type"]
            row.applicant_id_type = applicant["id_type"]
            id_no = applicant["id_no"].strip().upper()
            row.applicant_id_enc = self.cipher.encrypt(id_no, context="applicant_id")
            row.applicant_id_ref = (
                citizen_id_ref(self.cipher, id_no) if applicant["type"] == "natural" else id_no
            )
            row.applicant_name_enc = self.cipher.encrypt(
                applicant["name"], context="applicant_name"
            )
            row.applicant_name_masked = mask_name(applicant["name"])
        return row

    # -- derived state --------------------------------------------------------------
    async def _recompute(
        self, session: AsyncSession, loaded: _Loaded, state: CaseState, now: datetime
    ) -> None:
        case, by_key = loaded.case, loaded.rows
        for step in state.steps:
            row = by_key[step.key]
            if row.applied != step.applied or row.anomaly != step.anomaly:
                row.applied, row.anomaly = step.applied, step.anomaly
        self._copy_state(case, state, by_key)
        case.updated_at = now
        # Deadlines, facts and 电子监察 at commit (_settle), on the batch's last state.
        loaded.changed_at = now

    def _deadlines(self, case: CaseRow, state: CaseState) -> Clock:
        """The case's clock (期限) from its state: a pure function of the state, so it is
        computed once per case per transaction, not once per event."""
        limits = Limits(case.promised_limit_days, case.statutory_limit_days)
        c = clock(state, limits, self.calendar, yellow_ratio=self.rules.yellow_ratio)
        case.limit_days = c.limit_days
        case.due_date, case.statutory_due_date = c.due_date, c.statutory_due_date
        case.yellow_on, case.red_on = c.yellow_on, c.red_on
        case.paused, case.paused_working_days = c.paused, c.paused_working_days
        case.due_date_provisional = c.provisional
        case.step_due_date = step_due_date(
            state, self.calendar, self.rules, special_limit_days=case.special_procedure_limit_days
        )
        return c

    def _copy_state(
        self, case: CaseRow, state: CaseState, by_key: dict[tuple[str, str], CaseEventRow]
    ) -> None:
        case.stage = state.stage.value if state.stage else None
        case.accepted = state.accepted
        case.case_type = state.case_type.value if state.case_type else None
        case.submitted_at, case.accepted_at = state.submitted_at, state.accepted_at
        case.decided_at, case.concluded_at = state.decided_at, state.concluded_at
        case.delivered_at, case.closed_at = state.delivered_at, state.closed_at
        case.stage_since, case.last_event_at = state.stage_since, state.last_event_at
        case.decision = state.decision
        case.certificate_type = state.certificate_type
        case.anomaly_count = len(state.anomalies)
        if state.handler is not None and state.handler.org_uscc:
            case.handler_org_uscc = state.handler.org_uscc
        if state.handler is not None and state.handler.department:
            case.handler_department = state.handler.department
        # The result data of the last applied decided/concluded step that carried one.
        for step in reversed(state.steps):
            row = by_key[step.key]
            if step.applied and row.certificate_data_enc:
                case.certificate_data_enc = row.certificate_data_enc
                break
        if state.applicant_event is not None:
            src = by_key[state.applicant_event]
            case.applicant_type, case.applicant_id_type = src.applicant_type, src.applicant_id_type
            case.applicant_id_enc, case.applicant_id_ref = (
                src.applicant_id_enc,
                src.applicant_id_ref,
            )
            case.applicant_name_enc = src.applicant_name_enc
            case.applicant_name_masked = src.applicant_name_masked

    def _once(
        self,
        later: list[_Fact],
        session: AsyncSession,
        case: CaseRow,
        fact: str,
        due: bool,
        now: datetime,
    ) -> None:
        if not due or fact in (case.published or []):
            return
        case.published = [*(case.published or []), fact]
        if fact == "accepted":
            later.append(partial(facts.accepted, self.publish, session, case, now))
        else:
            data = self._certificate_data(case)
            later.append(partial(facts.concluded, self.publish, session, case, data, now))

    def _certificate_data(self, case: CaseRow) -> dict[str, Any] | None:
        if not case.certificate_data_enc:
            return None
        plain = self.cipher.decrypt(case.certificate_data_enc, context="certificate_data")
        return json.loads(plain)  # type: ignore[no-any-return]

    # -- 电子监察 ----------------------------------------------------------------------
    def _supervise(
        self,
        later: list[_Fact],
        session: AsyncSession,
        loaded: _Loaded,
        state: CaseState,
        now: datetime,
        computed: Clock | None = None,
    ) -> int:
        """Raise the warnings now due (added to the session; their facts go to ``later``,
        told by :func:`_tell` after one flush gives every new warning its id)."""
        case = loaded.case
        today = local_date(now)
        limits = Limits(case.promised_limit_days, case.statutory_limit_days)
        known = {(w.kind, w.scope) for w in loaded.warnings}
        found = supervise(
            state,
            limits,
            self.calendar,
            today,
            self.rules,
            known=known,
            computed=computed,
            special_limit_days=case.special_procedure_limit_days,
        )
        raised = 0
        for fact in found:
            if (fact.kind, fact.scope) in known:
                continue
            warning = WarningRow(
                case_no=case.case_no,
                org_uscc=case.handler_org_uscc,
                kind=fact.kind,
                scope=fact.scope,
                level=fact.level,
                detail=fact.detail,
                raised_at=now,
            )
            session.add(warning)
            loaded.warnings.append(warning)
            known.add((fact.kind, fact.scope))
            later.append(partial(facts.warning, self.publish, session, case, warning))
            raised += 1
        if state.stage in CLOSED_STAGES:
            whole = computed or clock(
                state, limits, self.calendar, yellow_ratio=self.rules.yellow_ratio
            )
            for warning in loaded.warnings:
                if disproved(state, warning.kind, warning.scope, whole) and not (
                    warning.detail or {}
                ).get("withdrawn"):
                    # Raised on a history a late event refuted: withdrawn, with the reason.
                    warning.detail = {
                        **(warning.detail or {}),
                        "withdrawn": "disproved-by-late-event",
                    }
                    warning.closed_at = warning.closed_at or now
                elif warning.closed_at is None and closes(state, warning.kind, warning.scope):
                    warning.closed_at = now
        case.supervision_due = self._next_check(case, state, today)
        return raised

    def _next_check(self, case: CaseRow, state: CaseState, today: date) -> date | None:
        """The next day something may newly apply (the scan's index); ``None`` when done."""
        if state.stage in FINAL_STAGES:
            return None
        # After 办结 only the wait for 送达 is still watched (step_due_date).
        candidates = [] if state.stage in CLOSED_STAGES else [case.yellow_on, case.red_on]
        if case.step_due_date is not None:
            candidates.append(self.calendar.add_working_days(case.step_due_date, 1))
        future = [d for d in candidates if d is not None and d > today]
        return min(future, default=None)

    async def scan(
        self, session: AsyncSession, now: datetime, *, batch: int = 500
    ) -> tuple[int, int]:
        """One supervision batch: (cases evaluated, warnings raised). Every evaluated case
        moves its check day past today, so repeated batches drain the due set."""
        today = local_date(now)
        raised = 0
        due = await repo.due_for_supervision(session, today, batch)
        later: list[_Fact] = []
        for case_no in due:
            loaded = await self._load(session, case_no)
            if loaded is None:
                continue
            raised += self._supervise(later, session, loaded, loaded.replay.state, now)
        await _tell(session, later)
        return len(due), raised

    # -- working-day calendar ------------------------------------------------------------
    async def refresh_calendar(self, session: AsyncSession) -> bool:
        """Take the official schedules stored in this service's table (another process of
        the service may have stored one); ``True`` when something new was taken."""
        version = await repo.calendar_version(session)
        if version == self._calendar_version:
            return False
        for row in await repo.calendar_years(session):
            self.calendar.load_year(_schedule(row.year, row.holidays, row.workdays))
        self._calendar_version = version
        return True

    async def calendar_loaded(
        self, session: AsyncSession, data: dict[str, Any], now: datetime | None = None
    ) -> int:
        """An official holiday schedule (``hub.calendar.year_loaded``): store it, count on
        it from now on, and recompute the cases whose dates it makes official. Returns
        the number of cases recomputed."""
        now = now or utcnow()
        schedule = _schedule(data["year"], data.get("holidays"), data.get("workdays"))
        await repo.save_calendar_year(
            session,
            schedule.year,
            [d.isoformat() for d in schedule.holidays],
            [d.isoformat() for d in schedule.workdays],
            now,
        )
        await self.refresh_calendar(session)
        self.calendar.load_year(schedule)
        count = await self.recompute_provisional(session, now)
        log.info("calendar %d loaded: %d cases recomputed", schedule.year, count)
        return count

    async def recompute_provisional(self, session: AsyncSession, now: datetime) -> int:
        """Recompute every case with provisional dates that the official schedules now
        cover (new dates, flag cleared, a state fact told); the facts and 电子监察 follow
        at commit like any change."""
        count = 0
        for case_no, accepted_at, *dates in await repo.provisional_case_dates(session):
            known = [d for d in dates if d is not None]
            if (
                accepted_at is not None
                and known
                and self.calendar.span_is_provisional(local_date(accepted_at), max(known))
            ):
                continue  # still counted over days no official schedule covers
            loaded = await self._load(session, case_no)
            if loaded is None or loaded.changed_at is not None:
                continue
            case = loaded.case
            loaded.dates_before = (
                case.due_date,
                case.statutory_due_date,
                case.due_date_provisional,
            )
            case.updated_at = loaded.changed_at = now
            count += 1
        return count

    # -- matters replica and parked events --------------------------------------------
    async def matter_event(
        self,
        session: AsyncSession,
        event_type: str,
        data: dict[str, Any],
        now: datetime | None = None,
    ) -> int:
        """Keep the replica of one 事项; returns how many parked events were re-applied."""
        now = now or utcnow()
        code = data["implementation_code"]
        await repo.lock_matter_code(session, code)
        replica = await repo.get_matter(session, code)
        if replica is not None and data["version"] < replica.version:
            return 0  # an older version arriving late changes nothing
        if replica is None:
            replica = MatterReplica(implementation_code=code)
            session.add(replica)
        self._batch(session)[_MATTERS][code] = replica
        department = data.get("department") or {}
        result = data.get("result") or {}
        replica.version = data["version"]
        replica.name = data["name"]
        replica.status = "withdrawn" if event_type == "hub.matter.withdrawn" else data["status"]
        replica.department_name = department.get("name")
        replica.department_uscc = department.get("uscc")
        replica.division_code = data.get("division_code")
        replica.statutory_limit_days = data.get("statutory_limit_days")
        replica.promised_limit_days = data.get("promised_limit_days")
        replica.special_procedure_limit_days = data.get("special_procedure_limit_days")
        replica.certificate_type = result.get("certificate_type")
        replica.updated_at = now
        await session.flush()
        if replica.status != "published":
            return 0
        return await self.unpark(session, code, now)

    async def unpark(self, session: AsyncSession, code: str, now: datetime | None = None) -> int:
        """Re-apply the events parked for ``code`` (in arrival order) and drop them."""
        now = now or utcnow()
        count = 0
        while True:
            parked = await repo.parked_for(session, code, self.settings.cases_park_batch)
            if not parked:
                return count
            for item in parked:
                data = json.loads(self.cipher.decrypt(item.data_enc, context="parked_events.data"))
                await session.execute(delete(ParkedEvent).where(ParkedEvent.id == item.id))
                outcome = await self.receive(
                    session, data, cloud_event_id=item.cloud_event_id, now=now
                )
                if outcome.status == "parked":  # cannot happen for a published matter
                    raise RuntimeError(f"event for {code} parked again")
                count += 1

    async def unpark_ready(self, session: AsyncSession, now: datetime | None = None) -> int:
        """Sweep: parked events whose matter arrived in a race with their parking."""
        count = 0
        for code in await repo.parked_with_published_matter(session, 100):
            count += await self.unpark(session, code, now)
        return count


async def _tell(session: AsyncSession, later: list[_Fact]) -> None:
    """Publish the facts gathered while settling, in the order they arose. One flush
    first gives every new warning its id (a warning fact carries it): one multi-row
    INSERT for the whole batch instead of a flush per warning."""
    if not later:
        return
    if session.new:
        await session.flush()
    async with outbox_batch(session):  # one multi-row outbox INSERT for all of them
        for fact in later:
            await fact()


def _schedule(year: object, holidays: object, workdays: object) -> YearSchedule:
    """One year's schedule from its wire or stored form (checked like a schedule file)."""
    try:
        return YearSchedule.parse(year, holidays, workdays)
    except ValueError as exc:
        raise PermanentEventError(f"invalid holiday schedule: {exc}") from exc


def _check_identity(data: dict[str, Any]) -> tuple[str, str]:
    try:
        case_no = parse_case_no(data["case_no"])
    except InvalidIdentifier as exc:
        raise PermanentEventError(f"invalid 办件编号: {exc}") from exc
    code = data["implementation_code"]
    if case_no.implementation_code.code != code:
        raise PermanentEventError(
            f"办件编号 {case_no.case_no} does not start with the 实施编码 {code}"
        )
    return case_no.case_no, code


def _reason(detail: dict[str, Any] | None) -> str | None:
    """不予受理 reasons as the systems send them: ``reason`` or a list ``reasons``."""
    if not detail:
        return None
    value = detail.get("reason") or detail.get("reasons")
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value if v)
    text = str(value).strip() if value else ""
    return text or None
