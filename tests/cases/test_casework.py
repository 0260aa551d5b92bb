"""Applying 办件 events against PostgreSQL: parking, idempotency, PII at rest, facts in
the outbox, the supervision scan with an injected clock, and migrations on both dialects."""

from __future__ import annotations

import random
import tempfile
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from services.cases.store.tables import CaseEventRow, CaseRow, ParkedEvent, WarningRow
from services.cases.supervisor import supervise_once
from services.runtime.messaging import PermanentEventError
from services.runtime.pii import citizen_id_ref, pii_cipher
from tests.cases.factory import (
    ORG_B,
    at,
    case_no,
    event_data,
    impl_code,
    make_citizen_id,
    matter_data,
    natural,
    stream,
)
from tests.cases.support import CasesHarness, cases_app
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory

CODE = impl_code(n=7)
DAY = date(2026, 3, 2)


@pytest.fixture
async def cases(pg: DatabaseFactory) -> CasesHarness:
    return await cases_app(pg)


async def count(h: CasesHarness, model: type) -> int:
    async with h.hub.db.sessionmaker() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def get(h: CasesHarness, number: str) -> CaseRow:
    async with h.hub.db.sessionmaker() as s:
        row = await s.get(CaseRow, number)
        assert row is not None
        return row


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
async def test_migrations_create_the_tables_on_both_dialects(
    pg: DatabaseFactory, dialect: str
) -> None:
    if dialect == "sqlite":
        url = f"sqlite+aiosqlite:///{Path(tempfile.mkdtemp()) / 'cases.db'}"
    else:
        url = await pg.create("cases_mig")
    migrate("cases", url)
    engine = create_async_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    assert {
        "cases",
        "case_events",
        "case_warnings",
        "matter_replicas",
        "parked_events",
        "outbox",
        "inbox",
    } <= names
    async with engine.connect() as conn:
        for table in ("cases", "matter_replicas"):
            columns = await conn.run_sync(lambda c, t=table: inspect(c).get_columns(t))
            assert "special_procedure_limit_days" in {c["name"] for c in columns}
    await engine.dispose()


async def test_unknown_matter_parks_events_until_it_is_published(cases: CasesHarness) -> None:
    number = case_no(CODE, DAY, 1)
    applicant = natural(make_citizen_id(1))
    first = event_data(number, "submitted", at("2026-03-02T09:00"), seq=1, applicant=applicant)
    second = event_data(number, "accepted", at("2026-03-02T10:00"), seq=2)
    assert (await cases.receive(second)).status == "parked"
    assert (await cases.receive(first)).status == "parked"
    assert await count(cases, CaseRow) == 0
    assert await count(cases, ParkedEvent) == 2
    # A withdrawn (unpublished) matter does not release them either.
    await cases.matter(matter_data(CODE, status="withdrawn"), "hub.matter.withdrawn")
    assert await count(cases, ParkedEvent) == 2
    assert await cases.matter(matter_data(CODE, version=2)) == 2
    assert await count(cases, ParkedEvent) == 0
    case = await get(cases, number)
    assert case.stage == "accepted" and case.anomaly_count == 0
    assert case.matter_name == "食品经营许可（新办）" and case.limit_days == 10
    assert [f["case_no"] for f in await cases.facts("hub.case.accepted")] == [number]


async def test_parked_event_holds_no_id_number_in_clear(cases: CasesHarness) -> None:
    id_no = make_citizen_id(2)
    number = case_no(CODE, DAY, 2)
    await cases.receive(
        event_data(number, "submitted", at("2026-03-02T09:00"), seq=1, applicant=natural(id_no))
    )
    async with cases.hub.db.sessionmaker() as s:
        raw = (await s.execute(text("SELECT data_enc FROM parked_events"))).scalar_one()
    assert id_no not in raw and "张三丰" not in raw


async def test_sweep_releases_events_parked_in_a_race_with_the_matter(
    cases: CasesHarness,
) -> None:
    number = case_no(CODE, DAY, 3)
    await cases.receive(event_data(number, "submitted", at("2026-03-02T09:00"), seq=1))
    # The matter lands without its unpark step (as when both commit at the same moment).
    async with cases.hub.db.transaction() as s:
        await s.execute(text("DELETE FROM parked_events"))
    await cases.receive(
        event_data(number, "submitted", at("2026-03-02T09:00"), seq=1, event_id="again")
    )
    await cases.matter(matter_data(impl_code(n=99)))  # another matter: nothing to release
    async with cases.hub.db.transaction() as s:
        await s.execute(
            text(
                "INSERT INTO matter_replicas (implementation_code, version, name, status, "
                "updated_at) VALUES (:c, 1, 'x', 'published', now())"
            ),
            {"c": CODE},
        )
    assert await count(cases, ParkedEvent) == 1
    await supervise_once(cases.hub.db, cases.casework, at("2026-03-02T12:00"))
    assert await count(cases, ParkedEvent) == 0
    assert (await get(cases, number)).stage == "submitted"


async def test_redelivery_and_resent_event_ids_take_effect_once(cases: CasesHarness) -> None:
    await cases.matter(matter_data(CODE))
    number = case_no(CODE, DAY, 4)
    data = event_data(number, "submitted", at("2026-03-02T09:00"), seq=1)
    accepted = event_data(number, "accepted", at("2026-03-02T10:00"), seq=2)
    assert (await cases.receive(data)).status == "applied"
    assert (await cases.receive(data, ce_id="another-cloud-event")).status == "duplicate"
    assert (await cases.receive(accepted)).status == "applied"
    assert (await cases.receive(accepted, ce_id="x")).status == "duplicate"
    assert await count(cases, CaseEventRow) == 2
    assert len(await cases.facts("hub.case.accepted")) == 1
    assert len(await cases.facts("hub.case.state.changed")) == 2


async def test_applicant_is_encrypted_and_matched_by_blind_index(cases: CasesHarness) -> None:
    await cases.matter(matter_data(CODE))
    id_no = make_citizen_id(5)
    number = case_no(CODE, DAY, 5)
    await cases.receive(
        event_data(
            number, "submitted", at("2026-03-02T09:00"), seq=1, applicant=natural(id_no, "李四")
        )
    )
    async with cases.hub.db.sessionmaker() as s:
        rows = (
            await s.execute(
                text(
                    "SELECT applicant_id_enc, applicant_name_enc, applicant_id_ref FROM cases "
                    "UNION ALL SELECT applicant_id_enc, applicant_name_enc, applicant_id_ref "
                    "FROM case_events"
                )
            )
        ).all()
    expected_ref = citizen_id_ref(pii_cipher(cases.hub.settings), id_no)
    for id_enc, name_enc, ref in rows:
        assert id_no not in id_enc and "李四" not in name_enc
        assert ref == expected_ref


async def test_conclusion_publishes_decision_certificate_and_applicant_ref(
    cases: CasesHarness,
) -> None:
    await cases.matter(matter_data(CODE, org=ORG_B))
    number = case_no(CODE, DAY, 6)
    result = {
        "decision": "approved",
        "certificate_type": "11100000000013127D001",
        "certificate_data": {"经营者名称": "某某餐饮"},
    }
    id_no = make_citizen_id(6)
    for seq, stage in enumerate(["submitted", "accepted", "decided", "concluded"], 1):
        await cases.receive(
            event_data(
                number,
                stage,
                at(f"2026-03-0{1 + seq}T10:00"),
                seq=seq,
                org=ORG_B,
                applicant=natural(id_no) if seq == 1 else None,
                result=result if stage in ("decided", "concluded") else None,
            )
        )
    [fact] = await cases.facts("hub.case.concluded")
    assert fact["decision"] == "approved"
    assert fact["certificate_type"] == "11100000000013127D001"
    assert fact["certificate_data"] == {"经营者名称": "某某餐饮"}
    assert fact["applicant"]["type"] == "natural"
    assert fact["applicant"]["id_ref"] == citizen_id_ref(pii_cipher(cases.hub.settings), id_no)
    assert fact["handler"]["org_uscc"] == ORG_B
    assert id_no not in str(await cases.facts())


async def test_case_number_not_matching_its_matter_is_refused_permanently(
    cases: CasesHarness,
) -> None:
    data = event_data(case_no(CODE, DAY, 7), "submitted", at("2026-03-02T09:00"))
    data["implementation_code"] = impl_code(n=8)
    with pytest.raises(PermanentEventError):
        await cases.receive(data)
    bad = event_data(case_no(CODE, DAY, 7), "submitted", at("2026-03-02T09:00"))
    bad["case_no"] = bad["case_no"][:31] + "20261399" + "0001"  # month 13
    with pytest.raises(PermanentEventError):
        await cases.receive(bad)


async def test_supervision_scan_raises_yellow_then_red_once_each(cases: CasesHarness) -> None:
    await cases.matter(matter_data(CODE, promised=10))
    number = case_no(CODE, DAY, 8)
    await cases.receive(
        event_data(number, "submitted", at("2026-03-02T09:00"), seq=1), now=at("2026-03-02T09:01")
    )
    await cases.receive(
        event_data(number, "accepted", at("2026-03-02T10:00"), seq=2), now=at("2026-03-02T10:01")
    )
    db, cw = cases.hub.db, cases.casework
    assert await supervise_once(db, cw, at("2026-03-11T08:00")) == 0
    assert await supervise_once(db, cw, at("2026-03-12T08:00")) == 1
    assert await supervise_once(db, cw, at("2026-03-12T18:00")) == 0
    assert await supervise_once(db, cw, at("2026-03-16T18:00")) == 0
    assert await supervise_once(db, cw, at("2026-03-17T08:00")) == 1
    assert await supervise_once(db, cw, at("2026-03-30T08:00")) == 0
    warnings = await cases.facts("hub.case.warning")
    assert [(w["kind"], w["raised_at"][:10]) for w in warnings] == [
        ("yellow", "2026-03-12"),
        ("red", "2026-03-17"),
    ]
    await cases.receive(
        event_data(number, "decided", at("2026-03-18T10:00"), seq=3), now=at("2026-03-18T10:01")
    )
    await cases.receive(
        event_data(number, "concluded", at("2026-03-18T11:00"), seq=4), now=at("2026-03-18T11:01")
    )
    async with db.sessionmaker() as s:
        rows = (await s.execute(select(WarningRow))).scalars().all()
    assert {w.kind for w in rows} == {"yellow", "red"}
    assert all(w.closed_at is not None for w in rows)
    # After 办结 only the wait for 送达 is watched: 10 working days after the decision
    # (18 Mar) is 1 Apr, so the scan looks again on 2 Apr; 送达 ends the watch.
    assert (await get(cases, number)).supervision_due == date(2026, 4, 2)
    await cases.receive(
        event_data(number, "delivered", at("2026-03-20T11:00"), seq=5), now=at("2026-03-20T11:01")
    )
    assert (await get(cases, number)).supervision_due is None


async def test_refusal_without_reason_and_slow_intake_are_flagged(cases: CasesHarness) -> None:
    await cases.matter(matter_data(CODE))
    refused = case_no(CODE, DAY, 9)
    await cases.receive(
        event_data(refused, "submitted", at("2026-03-02T09:00"), seq=1), now=at("2026-03-02T09:00")
    )
    await cases.receive(
        event_data(refused, "not_accepted", at("2026-03-02T11:00"), seq=2),
        now=at("2026-03-02T11:00"),
    )
    slow = case_no(CODE, DAY, 10)
    await cases.receive(
        event_data(slow, "submitted", at("2026-03-02T09:00"), seq=1), now=at("2026-03-02T09:00")
    )
    assert await supervise_once(cases.hub.db, cases.casework, at("2026-03-09T12:00")) == 0
    assert await supervise_once(cases.hub.db, cases.casework, at("2026-03-10T12:00")) == 1
    kinds = sorted((w["case_no"], w["kind"]) for w in await cases.facts("hub.case.warning"))
    assert kinds == sorted([(refused, "refusal_without_reason"), (slow, "step_over_limit")])


async def test_shuffled_and_duplicated_delivery_gives_identical_rows(pg: DatabaseFactory) -> None:
    rng = random.Random(5)
    events = []
    for n in range(60):
        events += stream(
            rng,
            case_no(CODE, DAY, 100 + n),
            at("2026-03-02T09:00"),
            applicant=natural(make_citizen_id(n)),
        )
    feeds = {
        "in_order": events,
        "shuffled": rng.sample(events, len(events)),
        "duplicated": rng.sample(
            events + rng.sample(events, len(events) // 5), len(events) + len(events) // 5
        ),
    }
    snapshots = {}
    for name, feed in feeds.items():
        h = await cases_app(pg)
        await h.matter(matter_data(CODE))
        for data in feed:
            await h.receive(data, ce_id=f"{name}-{rng.random()}", now=at("2026-03-20T12:00"))
        async with h.hub.db.sessionmaker() as s:
            rows = (await s.execute(select(CaseRow).order_by(CaseRow.case_no))).scalars().all()
            history = (
                await s.execute(
                    select(
                        CaseEventRow.case_no,
                        CaseEventRow.event_id,
                        CaseEventRow.applied,
                        CaseEventRow.anomaly,
                    ).order_by(CaseEventRow.case_no, CaseEventRow.event_id)
                )
            ).all()
        snapshots[name] = (
            [
                (
                    r.case_no,
                    r.stage,
                    r.accepted_at,
                    r.closed_at,
                    r.due_date,
                    r.paused,
                    r.anomaly_count,
                    r.applicant_id_ref,
                    r.decision,
                )
                for r in rows
            ],
            history,
        )
        assert len(await h.facts("hub.case.accepted")) == sum(1 for r in rows if r.accepted_at)
        await h.hub.db.dispose()
    assert snapshots["shuffled"] == snapshots["in_order"]
    assert snapshots["duplicated"] == snapshots["in_order"]
    assert len(snapshots["in_order"][0]) == 60


async def test_warnings_raised_together_in_one_batch_carry_their_own_ids(
    cases: CasesHarness,
) -> None:
    """A batch's new warnings are written by one flush before their facts are told: each
    fact must still name its own warning row, after that case's state change."""
    await cases.matter(matter_data(CODE))
    numbers = [case_no(CODE, DAY, 20 + i) for i in range(3)]
    async with cases.hub.db.transaction() as session:
        for i, number in enumerate(numbers):
            for seq, stage in enumerate(["submitted", "not_accepted"], start=1):
                data = event_data(number, stage, at("2026-03-02T09:00"), seq=seq)
                await cases.casework.receive(
                    session, data, cloud_event_id=f"ce-{i}-{seq}", now=at("2026-03-02T10:00")
                )
    async with cases.hub.db.sessionmaker() as s:
        rows = (await s.execute(select(WarningRow).order_by(WarningRow.id))).scalars().all()
    assert [(w.case_no, w.kind) for w in rows] == [(n, "refusal_without_reason") for n in numbers]
    told = [
        (f["type"], f["case_no"], f.get("warning_id"))
        for f in await cases.facts()
        if f["type"] in ("hub.case.state.changed", "hub.case.warning")
    ]
    expected = []
    for number, row in zip(numbers, rows, strict=True):
        expected += [
            ("hub.case.state.changed", number, None),
            ("hub.case.warning", number, row.id),
        ]
    assert told == expected


# -- review findings (issue 8, deliverable 9) --------------------------------------------------


async def receive_all(h: CasesHarness, number: str, *steps: tuple[str, str]) -> None:
    for seq, (stage, when) in enumerate(steps, start=1):
        await h.receive(event_data(number, stage, at(when), seq=seq), now=at(when))


async def warning_kinds(h: CasesHarness, number: str) -> list[tuple[str, str]]:
    async with h.hub.db.sessionmaker() as s:
        stmt = select(WarningRow.kind, WarningRow.level).where(WarningRow.case_no == number)
        return sorted((k, lv) for k, lv in (await s.execute(stmt)).all())


async def test_promised_case_concluded_straight_from_acceptance_is_concluded(
    cases: CasesHarness,
) -> None:
    await cases.matter(matter_data(CODE, promised=10))
    number = case_no(CODE, DAY, 20)
    await receive_all(
        cases,
        number,
        ("submitted", "2026-03-02T09:00"),
        ("accepted", "2026-03-02T10:00"),
        ("concluded", "2026-03-05T10:00"),
    )
    case = await get(cases, number)
    assert case.case_type == "2" and case.stage == "concluded" and case.anomaly_count == 0
    assert case.decided_at == case.concluded_at == at("2026-03-05T10:00")
    assert [f["case_no"] for f in await cases.facts("hub.case.concluded")] == [number]
    # After the promised limit (16 Mar): no red card, it was concluded in time. The scan
    # still waits for 送达: due 10 working days after the 5 Mar decision (19 Mar).
    assert case.supervision_due == date(2026, 3, 20)
    db, cw = cases.hub.db, cases.casework
    assert await supervise_once(db, cw, at("2026-03-20T08:00")) == 1
    assert await warning_kinds(cases, number) == [("step_over_limit", "red")]
    [fact] = await cases.facts("hub.case.warning")
    assert fact["scope"] == "step:delivered" and fact["detail"]["since"] == "concluded"
    assert (await get(cases, number)).supervision_due is None  # nothing more can arise


async def test_special_procedure_limit_comes_from_the_matter(cases: CasesHarness) -> None:
    await cases.matter(matter_data(CODE, promised=30, statutory=60, special=3))
    number = case_no(CODE, DAY, 21)
    await receive_all(
        cases,
        number,
        ("submitted", "2026-03-02T09:00"),
        ("accepted", "2026-03-02T10:00"),
        ("suspended", "2026-03-03T10:00"),
    )
    case = await get(cases, number)
    assert case.special_procedure_limit_days == 3
    # 3 working days after Tue 3 Mar is Fri 6 Mar: the scan looks again on Mon 9 Mar.
    assert case.step_due_date == date(2026, 3, 6) and case.supervision_due == date(2026, 3, 9)
    db, cw = cases.hub.db, cases.casework
    assert await supervise_once(db, cw, at("2026-03-06T18:00")) == 0
    assert await supervise_once(db, cw, at("2026-03-09T08:00")) == 1
    [fact] = await cases.facts("hub.case.warning")
    assert fact["kind"] == "special_procedure_over_limit" and fact["case_no"] == number
    assert fact["detail"] == {"stage": "suspended", "limit_days": 3, "used_days": 4}


async def test_special_procedure_default_when_the_matter_names_none(pg: DatabaseFactory) -> None:
    h = await cases_app(pg, cases_special_procedure_limit_days=2)
    await h.matter(matter_data(CODE, promised=30, statutory=60))
    number = case_no(CODE, DAY, 22)
    await receive_all(
        h,
        number,
        ("accepted", "2026-03-02T10:00"),
        ("suspended", "2026-03-03T10:00"),
        ("resumed", "2026-03-06T10:00"),  # 3 working days: one over the default of 2
    )
    assert (await get(h, number)).special_procedure_limit_days is None
    assert await warning_kinds(h, number) == [("special_procedure_over_limit", "red")]


async def test_second_correction_notice_is_flagged_once(cases: CasesHarness) -> None:
    await cases.matter(matter_data(CODE, promised=30, statutory=60))
    number = case_no(CODE, DAY, 23)
    await receive_all(
        cases,
        number,
        ("submitted", "2026-03-02T09:00"),
        ("accepted", "2026-03-02T10:00"),
        ("correction_requested", "2026-03-03T10:00"),
        ("correction_received", "2026-03-04T10:00"),
    )
    assert await warning_kinds(cases, number) == []
    await cases.receive(
        event_data(number, "correction_requested", at("2026-03-05T10:00"), seq=5),
        now=at("2026-03-05T10:00"),
    )
    await supervise_once(cases.hub.db, cases.casework, at("2026-03-05T18:00"))
    assert await warning_kinds(cases, number) == [("repeated_correction", "yellow")]


async def test_conditional_acceptance_and_return_through_casework(cases: CasesHarness) -> None:
    await cases.matter(matter_data(CODE, promised=5, statutory=20))
    number = case_no(CODE, DAY, 24)
    await receive_all(
        cases,
        number,
        ("submitted", "2026-03-02T09:00"),
        ("conditionally_accepted", "2026-03-02T10:00"),
    )
    case = await get(cases, number)
    assert case.stage == "conditionally_accepted" and case.accepted
    assert case.due_date == date(2026, 3, 9)  # the clock runs as for 受理
    assert [f["case_no"] for f in await cases.facts("hub.case.accepted")] == [number]
    await cases.receive(
        event_data(number, "returned", at("2026-03-04T10:00"), seq=3, detail={"reason": "逾期"}),
        now=at("2026-03-04T10:00"),
    )
    case = await get(cases, number)
    assert case.stage == "returned" and case.closed_at == at("2026-03-04T10:00")
    assert case.supervision_due is None and case.anomaly_count == 0
