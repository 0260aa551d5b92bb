"""Invitations and ratings through the API, on PostgreSQL: only the applicant rates, once
per channel; 追评 once; the 默认评价 after the window; bad input is problem+json."""

from __future__ import annotations

import datetime as dt
import secrets

import httpx
from sqlalchemy import select

from contracts import default_contracts
from services.eval.service import rating
from services.eval.service.rating import give_default_ratings
from services.eval.store.tables import EvaluationRow
from services.runtime.auth import Principal
from tests.eval.harness import ORG, eval_app
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer

COMPANY = "91440203MA4UP12340"


def ref() -> str:
    return secrets.token_hex(16)


def good(case_no: str, channel: str = "pc", **extra: object) -> dict[str, object]:
    return {
        "case_no": case_no,
        "channel": channel,
        "level": 5,
        "indicators": {"overall": 5},
    } | extra


def assert_problem(r: httpx.Response, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["status"] == status


async def test_only_the_applicant_is_invited_and_may_rate(pg: DatabaseFactory) -> None:
    issuer = TestIssuer()
    h = await eval_app(pg, issuer)
    me, other = ref(), ref()
    case_no = await h.concluded(("natural", me))
    company_case = await h.concluded(("legal", COMPANY), outcome="not_accepted")
    mine, theirs = bearer(issuer.citizen(me)), bearer(issuer.citizen(other))
    async with serve(h.app) as client:
        inv = (await client.get("/v1/me/invitations", headers=mine)).json()["items"]
        assert [(i["case_no"], i["open"], i["rated_channels"]) for i in inv] == [
            (case_no, True, [])
        ]
        assert (await client.get("/v1/me/invitations", headers=theirs)).json()["items"] == []
        # the company and its agent (a legal token acting through a natural person)
        agent = bearer(issuer.company(COMPANY, act={"sub": "np-agent", "sub_type": "natural"}))
        got = (await client.get("/v1/me/invitations", headers=agent)).json()["items"]
        assert [(i["case_no"], i["outcome"]) for i in got] == [(company_case, "not_accepted")]

        # L2 is not enough for personal data; staff do not rate
        low = bearer(issuer.citizen(me, acr="L2"))
        assert_problem(await client.get("/v1/me/invitations", headers=low), 403)
        staff = bearer(issuer.staff(ORG, ["eval-handler"]))
        assert_problem(await client.post("/v1/evaluations", json=good(case_no), headers=staff), 403)

        assert_problem(
            await client.post("/v1/evaluations", json=good(case_no), headers=theirs), 404
        )
        assert_problem(
            await client.post("/v1/evaluations", json=good(company_case), headers=mine), 404
        )
        r = await client.post("/v1/evaluations", json=good(case_no), headers=mine)
        assert r.status_code == 201, r.text
        assert r.json()["level"] == 5 and r.json()["is_bad"] is False
        again = await client.post("/v1/evaluations", json=good(case_no, level=4), headers=mine)
        assert_problem(again, 409)
        assert again.json()["type"].endswith("already-rated")
        window = good(case_no, "window", indicators={"service_attitude": 4}, level=4)
        assert (await client.post("/v1/evaluations", json=window, headers=mine)).status_code == 201
        r = await client.post("/v1/evaluations", json=good(company_case), headers=agent)
        assert r.status_code == 201
        listed = (await client.get("/v1/me/evaluations", headers=mine)).json()["items"]
        assert sorted(e["channel"] for e in listed) == ["pc", "window"]
        inv = (await client.get("/v1/me/invitations", headers=mine)).json()["items"]
        assert inv[0]["rated_channels"] == ["pc", "window"]

    async with h.hub.db.sessionmaker() as s:
        agent_row = await s.scalar(
            select(EvaluationRow).where(EvaluationRow.case_no == company_case)
        )
    assert agent_row is not None and agent_row.evaluator_sub == "np-agent"
    submitted = await h.facts("hub.eval.submitted")
    assert len(submitted) == 3
    contract = default_contracts().get("hub.eval.submitted")
    for fact in submitted:
        assert contract.errors({k: v for k, v in fact.items() if k != "type"}) == []
        assert me not in str(fact) and COMPANY not in str(fact) and "np-agent" not in str(fact)


async def test_follow_up_once(pg: DatabaseFactory) -> None:
    issuer = TestIssuer()
    h = await eval_app(pg, issuer)
    me = ref()
    case_no = await h.concluded(("natural", me))
    mine = bearer(issuer.citizen(me))
    async with serve(h.app) as client:
        ev = (await client.post("/v1/evaluations", json=good(case_no), headers=mine)).json()
        url = f"/v1/evaluations/{ev['id']}/follow-up"
        other = bearer(issuer.citizen(ref()))
        assert_problem(await client.post(url, json={"comment": "x"}, headers=other), 404)
        r = await client.post(url, json={"comment": "后来又补办了, 很顺利"}, headers=mine)
        assert r.status_code == 200 and r.json()["follow_up"] == "后来又补办了, 很顺利"
        assert_problem(await client.post(url, json={"comment": "again"}, headers=mine), 409)


async def test_default_rating_after_the_window(pg: DatabaseFactory) -> None:
    issuer = TestIssuer()
    h = await eval_app(pg, issuer)
    me = ref()
    ended = dt.datetime(2026, 3, 2, 2, tzinfo=dt.UTC)
    silent = await h.concluded(("natural", me), ended=ended)
    rated = await h.concluded(("natural", me), ended=ended)
    mine = bearer(issuer.citizen(me))
    async with serve(h.app) as client:
        # the real clock is long past 2026-03-09: this window has closed
        r = await client.post("/v1/evaluations", json=good(rated), headers=mine)
        assert_problem(r, 409)
    # rated in time, with the clock set by the test
    person = Principal(subject="np-1", subject_type="natural", id_ref=me, acr="L3")
    await rating.submit(
        h.ctx,
        h.hub.db,
        person,
        case_no=rated,
        channel="app",
        level=4,
        indicators={},
        categories=[],
        comment=None,
        anonymous=False,
        contact_phone=None,
        now=ended + dt.timedelta(days=2),
    )
    # just before the window closes nothing happens; after it, one 默认评价 (基本满意)
    assert (
        await give_default_ratings(h.ctx, h.hub.db, ended + dt.timedelta(days=7, seconds=-1)) == 0
    )
    assert await give_default_ratings(h.ctx, h.hub.db, ended + dt.timedelta(days=7)) == 1
    assert await give_default_ratings(h.ctx, h.hub.db, ended + dt.timedelta(days=8)) == 0
    async with h.hub.db.sessionmaker() as s:
        rows = list((await s.execute(select(EvaluationRow))).scalars())
    assert sorted((r.case_no, r.channel, r.level, r.is_default) for r in rows) == sorted(
        [(silent, "default", 3, True), (rated, "app", 4, False)]
    )
    async with serve(h.app) as client:
        listed = (await client.get("/v1/me/evaluations", headers=mine)).json()["items"]
        assert sorted(e["is_default"] for e in listed) == [False, True]
        figures = (await client.get("/v1/statistics", params={"group_by": "org"})).json()
        group = figures["groups"][0]
        assert group["counts"]["total"] == 2 and group["counts"]["bad"] == 0
        assert group["proactive_rate"] == 0.5 and group["satisfaction_rate"] == 1.0


async def test_bad_input_is_a_problem_never_a_500(pg: DatabaseFactory) -> None:
    issuer = TestIssuer()
    h = await eval_app(pg, issuer)
    me = ref()
    case_no = await h.concluded(("natural", me))
    mine = bearer(issuer.citizen(me))
    bodies: list[object] = [
        {},
        {"case_no": case_no},
        good(case_no, level=2),  # 差评 without category and text
        good(case_no, level=1, categories=["attitude"]),  # no text
        good(case_no, level=2, categories=["nope"], comment="x"),
        good(case_no, channel="default"),
        good(case_no, channel="fax"),
        good(case_no, level="five"),
        good(case_no, level=9),
        good(case_no, indicators={"service_attitude": 5}),  # on-site indicator online
        good(case_no, indicators={"overall": "x"}),
        good(case_no, contact_phone="12345"),
        good(case_no, anonymous=True, contact_phone="13800000000"),
        good("short"),
        good(case_no, unexpected=True),
        good(case_no, comment="nul \u0000 byte"),
        good(case_no, level=1, categories=["other"], comment="\u0000"),
        good(case_no, indicators={"over\u0000all": 5}),
        [1, 2],
        "not an object",
    ]
    async with serve(h.app) as client:
        for body in bodies:
            assert_problem(await client.post("/v1/evaluations", json=body, headers=mine), 422)
        r = await client.post(
            "/v1/evaluations",
            content=b"{not json",
            headers=mine | {"content-type": "application/json"},
        )
        assert_problem(r, 400)
        assert_problem(await client.post("/v1/evaluations", json=good(case_no)), 401)
        assert_problem(
            await client.post("/v1/evaluations/xyz/follow-up", json={"comment": "a"}, headers=mine),
            422,
        )
        assert_problem(await client.get("/v1/statistics", params={"group_by": "evaluator"}), 422)
        assert_problem(await client.get("/v1/statistics", params={"period_from": "2026-13"}), 422)
        assert_problem(await client.get("/v1/statistics", params={"channel": "p\u0000c"}), 422)
        assert_problem(await client.get("/v1/statistics", params={"org": "x"}), 422)
    async with h.hub.db.sessionmaker() as s:
        assert list((await s.execute(select(EvaluationRow))).scalars()) == []
