"""An official holiday schedule (``hub.calendar.year_loaded``) recounts the provisional
deadlines of open rectifications, is stored, and counts for a restarted app."""

from __future__ import annotations

import datetime as dt
import secrets

from services.eval.app import create_app
from services.eval.service import calendar, handling, rating
from services.eval.service.context import EvalContext
from services.eval.store import repository as repo
from services.runtime.auth import Principal
from services.runtime.calendar import WorkingCalendar, YearSchedule
from tests.eval.harness import ORG, eval_app
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory

SCHEDULE = {"year": 2027, "holidays": ["2027-01-01", "2027-01-04", "2027-01-05"], "workdays": []}


async def test_year_loaded_recounts_provisional_deadlines(pg: DatabaseFactory) -> None:
    h = await eval_app(pg)
    me = secrets.token_hex(16)
    rated = dt.datetime(2026, 12, 21, 2, tzinfo=dt.UTC)
    case_no = await h.concluded(("natural", me), ended=rated - dt.timedelta(hours=1))
    person = Principal(subject="np", subject_type="natural", id_ref=me, acr="L3")
    ev = await rating.submit(
        h.ctx,
        h.hub.db,
        person,
        case_no=case_no,
        channel="pc",
        level=1,
        indicators={},
        categories=["other"],
        comment="x",
        anonymous=True,
        contact_phone=None,
        now=rated,
    )
    async with h.hub.db.sessionmaker() as s:
        row = await repo.rectification_of_evaluation(s, ev.id)
    assert row is not None
    staff = Principal(
        subject="s", subject_type="staff", uscc=ORG, acr="L4", roles=frozenset({"eval-handler"})
    )
    row = await handling.step(h.ctx, h.hub.db, staff, row.id, "verify", "属实", None, now=rated)
    assert row.due_provisional and row.rectify_due is not None
    before = row.rectify_due
    async with h.hub.db.transaction() as s:
        assert await calendar.year_loaded(h.ctx, s, SCHEDULE) == 1
    async with h.hub.db.sessionmaker() as s:
        after = await repo.rectification(s, row.id)
    assert after is not None and not after.due_provisional
    official = WorkingCalendar()
    official.load_year(YearSchedule.parse(2027, SCHEDULE["holidays"], []))
    assert after.rectify_due == official.add_working_days(dt.date(2026, 12, 21), 15) != before
    facts = await h.facts("hub.eval.rectification_changed")
    assert [f["action"] for f in facts] == ["open", "verify", "recount"]
    assert facts[-1]["due_provisional"] is False
    # a new app on the same database counts on the stored schedule from its start
    again = create_app(h.ctx.settings)
    async with serve(again):
        ctx: EvalContext = again.state.hub.extras["eval"]
        assert 2027 in ctx.calendar.loaded_years
        assert not ctx.calendar.is_working_day(dt.date(2027, 1, 4))
