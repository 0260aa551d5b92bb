"""差评 handling through the API, on PostgreSQL: verify → rectify (working-day deadline,
across a holiday) → return visit → closed; appeal upheld and rejected; overdue → warning;
staff never see who rated; only eval-rectifier reads the contact, audited."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import httpx
from sqlalchemy import func, select

from contracts import default_contracts
from services.eval.service import handling, rating
from services.eval.store.tables import IdentityAccessRow
from services.runtime.auth import Principal
from services.runtime.calendar import WorkingCalendar
from tests.eval.harness import ORG, OTHER_ORG, EvalHarness, eval_app
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer

PHONE = "13912345678"


def bad(case_no: str, **extra: object) -> dict[str, object]:
    return {
        "case_no": case_no,
        "channel": "app",
        "level": 1,
        "categories": ["efficiency", "repeat_visits"],
        "comment": "材料交了三次还没办好",
        "contact_phone": PHONE,
    } | extra


async def rectification_of(client: httpx.AsyncClient, staff: dict[str, str]) -> dict[str, Any]:
    items = (await client.get("/v1/rectifications", headers=staff)).json()["items"]
    assert len(items) == 1
    return items[0]  # type: ignore[no-any-return]


async def step(
    client: httpx.AsyncClient, rid: str, headers: dict[str, str], action: str, **body: object
) -> httpx.Response:
    return await client.post(
        f"/v1/rectifications/{rid}/steps", json={"action": action, **body}, headers=headers
    )


async def test_the_whole_handling_and_who_sees_what(pg: DatabaseFactory) -> None:
    issuer = TestIssuer()
    h = await eval_app(pg, issuer)
    me = secrets.token_hex(16)
    case_no = await h.concluded(("natural", me))
    mine = bearer(issuer.citizen(me))
    handler = bearer(issuer.staff(ORG, ["eval-handler"]))
    rectifier = bearer(issuer.staff(ORG, ["eval-rectifier"]))
    foreign = bearer(issuer.staff(OTHER_ORG, ["eval-rectifier"]))
    async with serve(h.app) as client:
        ev = await client.post("/v1/evaluations", json=bad(case_no), headers=mine)
        assert ev.status_code == 201 and ev.json()["rectification_state"] == "reported"
        r = await rectification_of(client, handler)
        rid = r["id"]
        assert (await client.get("/v1/rectifications", headers=foreign)).json()["items"] == []
        assert (await client.get(f"/v1/rectifications/{rid}", headers=foreign)).status_code == 404
        seen = await client.get(f"/v1/rectifications/{rid}", headers=handler)
        assert seen.status_code == 200
        assert seen.json()["evaluation"]["named"] is True
        for secret in (me, PHONE, "np-"):
            assert secret not in seen.text  # no evaluator identity in staff views

        # the contact: for the return visit only, for eval-rectifier only
        contact = f"/v1/rectifications/{rid}/contact"
        assert (await client.get(contact, headers=rectifier)).status_code == 409
        assert (await step(client, rid, handler, "rectify", notes="x")).status_code == 409
        assert (await step(client, rid, foreign, "verify")).status_code == 404
        verified = await step(client, rid, handler, "verify", notes="属实")
        assert verified.status_code == 200 and verified.json()["state"] == "rectifying"
        assert (await step(client, rid, handler, "rectify")).status_code == 422  # no notes
        assert (await step(client, rid, handler, "rectify", notes="\u0000")).status_code == 422
        assert (await step(client, rid, handler, "fix", notes="x")).status_code == 422
        done = await step(client, rid, handler, "rectify", notes="已一次性告知材料清单")
        assert done.json()["state"] == "return_visit"
        assert (await client.get(contact, headers=handler)).status_code == 403
        assert (await client.get(contact, headers=foreign)).status_code == 404
        got = await client.get(contact, headers=rectifier)
        assert got.status_code == 200 and got.json()["phone"] == PHONE
        closed = await step(client, rid, rectifier, "return_visit", notes="已电话回访, 申请人认可")
        body = closed.json()
        assert body["state"] == "closed"
        assert [s["action"] for s in body["steps"]] == ["open", "verify", "rectify", "return_visit"]
        assert all(s["at"] for s in body["steps"])
        assert body["steps"][-1]["notes"] == "已电话回访, 申请人认可"
        assert body["steps"][1]["actor_org"] == ORG

        # no route lets staff edit or delete a rating
        for method in ("PUT", "PATCH", "DELETE"):
            r = await client.request(
                method, f"/v1/evaluations/{ev.json()['id']}", json={"level": 5}, headers=handler
            )
            assert r.status_code in (404, 405)
        # the evaluator rates the rectification, once
        url = f"/v1/evaluations/{ev.json()['id']}/rectification-rating"
        assert (await client.post(url, json={"level": 4}, headers=mine)).status_code == 200
        assert (await client.post(url, json={"level": 5}, headers=mine)).status_code == 409
        listed = (await client.get("/v1/me/evaluations", headers=mine)).json()["items"]
        assert listed[0]["level"] == 1 and listed[0]["comment"] == "材料交了三次还没办好"
        assert listed[0]["rectification_state"] == "closed"
        assert listed[0]["rectification_rating"] == 4

        figures = (await client.get("/v1/statistics")).json()["groups"][0]
        assert figures["rectification_rate"] == 1.0 and figures["return_visit_rate"] == 1.0

    async with h.hub.db.sessionmaker() as s:
        audited = await s.scalar(select(func.count()).select_from(IdentityAccessRow))
    assert audited == 1
    changes = await h.facts("hub.eval.rectification_changed")
    assert [c["action"] for c in changes] == ["open", "verify", "rectify", "return_visit"]
    contract = default_contracts().get("hub.eval.rectification_changed")
    for fact in changes:
        assert contract.errors({k: v for k, v in fact.items() if k != "type"}) == []
        assert me not in str(fact) and PHONE not in str(fact)


async def test_appeal_upheld_and_rejected(pg: DatabaseFactory) -> None:
    issuer = TestIssuer()
    h = await eval_app(pg, issuer)
    me = secrets.token_hex(16)
    first, second = await h.concluded(("natural", me)), await h.concluded(("natural", me))
    mine = bearer(issuer.citizen(me))
    handler = bearer(issuer.staff(ORG, ["eval-handler"]))
    reviewer = bearer(issuer.staff("11440000MB2C00000A", ["eval-reviewer"]))
    async with serve(h.app) as client:
        for case_no in (first, second):
            r = await client.post(
                "/v1/evaluations",
                json=bad(case_no, anonymous=True, contact_phone=None),
                headers=mine,
            )
            assert r.status_code == 201
        items = (await client.get("/v1/rectifications", headers=handler)).json()["items"]
        by_case = {i["case_no"]: i["id"] for i in items}
        upheld, rejected = by_case[first], by_case[second]
        assert (await step(client, upheld, handler, "appeal")).status_code == 422  # no evidence
        for rid in (upheld, rejected):
            r = await step(client, rid, handler, "appeal", evidence=["窗口录像 2026-03-02 10:00"])
            assert r.json()["state"] == "appealed"
        assert (await step(client, upheld, handler, "uphold", notes="x")).status_code == 403
        r = await step(client, upheld, reviewer, "uphold", notes="录像显示材料当日已一次性告知")
        assert r.json()["state"] == "appeal_upheld"
        assert r.json()["evaluation"]["excluded"] is True
        r = await step(client, rejected, reviewer, "reject", notes="证据不足")
        assert r.json()["state"] == "rectifying" and r.json()["rectify_due"]
        assert (await step(client, upheld, handler, "verify")).status_code == 409
        # the evaluator is told; the upheld rating has left the figures
        states = {
            e["case_no"]: e["rectification_state"]
            for e in (await client.get("/v1/me/evaluations", headers=mine)).json()["items"]
        }
        assert states == {first: "appeal_upheld", second: "rectifying"}
        group = (await client.get("/v1/statistics")).json()["groups"][0]
        assert group["counts"]["total"] == 1 and group["counts"]["bad"] == 1
        assert group["counts"]["named_bad"] == 0 and group["return_visit_rate"] is None


async def _bad_rating(h: EvalHarness, me: str, now: dt.datetime) -> str:
    case_no = await h.concluded(("natural", me), ended=now - dt.timedelta(days=1))
    person = Principal(subject="np-1", subject_type="natural", id_ref=me, acr="L3")
    ev = await rating.submit(
        h.ctx,
        h.hub.db,
        person,
        case_no=case_no,
        channel="pc",
        level=2,
        indicators={},
        categories=["attitude"],
        comment="态度差",
        anonymous=False,
        contact_phone=None,
        now=now,
    )
    async with h.hub.db.sessionmaker() as s:
        from services.eval.store import repository as repo

        row = await repo.rectification_of_evaluation(s, ev.id)
    assert row is not None
    return row.id


async def test_deadline_across_a_holiday_and_overdue_warnings(pg: DatabaseFactory) -> None:
    issuer = TestIssuer()
    h = await eval_app(pg, issuer, eval_rectify_days_by_region={"4402": 5})
    me = secrets.token_hex(16)
    # the clock is the test's: a 差评 on Mon 2026-09-28, verified Tue 09-29, just before the
    # 国庆 break; 5 working days (the region's rule) cannot end before the break is over.
    rated = dt.datetime(2026, 9, 28, 2, tzinfo=dt.UTC)
    rid = await _bad_rating(h, me, rated)
    staff = Principal(
        subject="s-1", subject_type="staff", roles=frozenset({"eval-handler"}), uscc=ORG, acr="L4"
    )
    row = await handling.step(
        h.ctx, h.hub.db, staff, rid, "verify", "属实", None, now=rated + dt.timedelta(days=1)
    )
    cal = WorkingCalendar()
    day, counted = dt.date(2026, 9, 29), 0
    while counted < 5:
        day += dt.timedelta(days=1)
        counted += cal.is_working_day(day)
    assert row.rectify_due == day
    assert row.rectify_due is not None and row.rectify_due >= dt.date(2026, 10, 9)
    # overdue: nothing on the due day, one warning after it, never twice
    due = dt.datetime.combine(row.rectify_due, dt.time(12), tzinfo=dt.UTC)
    assert await handling.raise_warnings(h.ctx, h.hub.db, due) == 0
    assert await handling.raise_warnings(h.ctx, h.hub.db, due + dt.timedelta(days=1)) == 1
    assert await handling.raise_warnings(h.ctx, h.hub.db, due + dt.timedelta(days=2)) == 0
    async with serve(h.app) as client:
        ours = bearer(issuer.staff(ORG, ["eval-handler"]))
        theirs = bearer(issuer.staff(OTHER_ORG, ["eval-handler"]))
        citizen = bearer(issuer.citizen(me))
        listed = (await client.get("/v1/warnings", headers=ours)).json()["items"]
        assert [(w["rectification_id"], w["step"], w["due"]) for w in listed] == [
            (rid, "rectify", row.rectify_due.isoformat())
        ]
        assert (await client.get("/v1/warnings", headers=theirs)).json()["items"] == []
        assert (await client.get("/v1/warnings", headers=citizen)).status_code == 403
