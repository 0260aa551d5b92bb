"""Provisional due dates in the casework (real PostgreSQL, no broker): a schedule another
process of the service stored is taken by the supervision pass, which recomputes the
cases it covers; a schedule that cannot be right is a permanent error, not a retry."""

from __future__ import annotations

from datetime import date

import pytest

from services.cases.store.tables import CalendarYearRow, CaseRow
from services.cases.supervisor import supervise_once
from services.runtime.messaging import PermanentEventError
from tests.cases.factory import at, case_no, event_data, impl_code, matter_data
from tests.cases.support import cases_app
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer

CODE = impl_code(n=2027)


async def test_supervision_pass_takes_a_stored_schedule_and_recomputes(
    pg: DatabaseFactory,
) -> None:
    h = await cases_app(pg)
    await h.matter(matter_data(CODE, promised=10, statutory=20))
    covered, beyond = case_no(CODE, date(2027, 1, 28), 1), case_no(CODE, date(2027, 12, 15), 2)
    for number, day in ((covered, "2027-01-28"), (beyond, "2027-12-15")):
        await h.receive(event_data(number, "submitted", at(f"{day}T09:00"), seq=1))
        await h.receive(event_data(number, "accepted", at(f"{day}T10:00"), seq=2))
    async with h.hub.db.sessionmaker() as s:
        row = await s.get(CaseRow, covered)
        assert row is not None and row.due_date == date(2027, 2, 17) and row.due_date_provisional

    # Stored by another process of the service (its consumer got the event).
    async with h.hub.db.transaction() as s:
        s.add(
            CalendarYearRow(
                year=2027,
                holidays=[f"2027-02-{d:02d}" for d in range(5, 13)],
                workdays=["2027-01-31"],
                loaded_at=at("2027-01-29T08:00"),
            )
        )
    await supervise_once(h.hub.db, h.casework, at("2027-01-29T09:00"))
    async with h.hub.db.sessionmaker() as s:
        first = await s.get(CaseRow, covered)
        second = await s.get(CaseRow, beyond)
    assert first is not None and second is not None
    assert first.due_date == date(2027, 2, 18) and not first.due_date_provisional
    # Accepted 15 Dec 2027: its 20-day statutory date reaches 2028, still provisional.
    assert second.due_date_provisional and second.statutory_due_date is not None
    assert second.statutory_due_date.year == 2028
    changed = [f for f in await h.facts("hub.case.state.changed") if f["from_stage"] == "accepted"]
    assert [(f["case_no"], f["due_date"]) for f in changed] == [(covered, "2027-02-18")]
    # A second pass finds nothing new to tell.
    await supervise_once(h.hub.db, h.casework, at("2027-01-29T09:05"))
    again = [f for f in await h.facts("hub.case.state.changed") if f["from_stage"] == "accepted"]
    assert len(again) == 1


@pytest.mark.parametrize(
    "data",
    [
        {"year": 2027, "holidays": ["2028-01-01"], "workdays": []},
        {"year": 2027, "holidays": ["2027-02-08"], "workdays": ["2027-02-08"]},
        {"year": "twenty", "holidays": [], "workdays": []},
    ],
)
async def test_an_impossible_schedule_is_a_permanent_error(
    pg: DatabaseFactory, data: dict[str, object]
) -> None:
    h = await cases_app(pg)
    with pytest.raises(PermanentEventError):
        async with h.hub.db.transaction() as s:
            await h.casework.calendar_loaded(s, data)
    async with h.hub.db.sessionmaker() as s:
        assert await s.get(CalendarYearRow, 2027) is None
    assert h.casework.calendar.is_provisional(date(2027, 2, 8))


async def test_staff_page_through_their_provisional_due_dates(pg: DatabaseFactory) -> None:
    issuer = TestIssuer()
    h = await cases_app(pg, issuer)
    await h.matter(matter_data(CODE, promised=10, statutory=20))
    numbers = [case_no(CODE, date(2027, 3, 1), n) for n in (1, 2, 3)]
    for number in numbers:
        await h.receive(event_data(number, "submitted", at("2027-03-01T09:00"), seq=1))
        await h.receive(event_data(number, "accepted", at("2027-03-01T10:00"), seq=2))
    official = case_no(CODE, date(2026, 3, 2), 4)  # counted on 2026: not listed
    await h.receive(event_data(official, "accepted", at("2026-03-02T10:00"), seq=1))
    staff = bearer(issuer.staff(CODE[:18], ["window"], scope="cases:read"))
    async with serve(h.app) as client:
        first = (
            await client.get("/v1/supervision/provisional", params={"limit": 2}, headers=staff)
        ).json()
        assert [c["case_no"] for c in first["items"]] == numbers[:2]
        assert first["items"][0]["due_date"] == "2027-03-15"
        assert first["items"][0]["due_date_provisional"] is True
        second = (
            await client.get(
                "/v1/supervision/provisional",
                params={"limit": 2, "cursor": first["next_cursor"]},
                headers=staff,
            )
        ).json()
        assert [c["case_no"] for c in second["items"]] == numbers[2:]
        assert second["next_cursor"] is None
        bad = await client.get("/v1/supervision/provisional", params={"cursor": "x"}, headers=staff)
        assert bad.status_code == 400
        assert bad.headers["content-type"].startswith("application/problem+json")
        anonymous = await client.get("/v1/supervision/provisional")
        assert anonymous.status_code == 401
