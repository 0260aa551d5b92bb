"""GB/T 39735 figures at the public ``/v1/statistics``, from a generated month of ratings,
against a count made independently here."""

from __future__ import annotations

import datetime as dt
import random
import secrets
from collections import Counter, defaultdict
from typing import Any

from services.eval.service import handling, rating
from services.eval.service.rating import give_default_ratings
from services.runtime.auth import Principal
from tests.eval.harness import eval_app
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory

ORGS = ["11440200MB2C12345W", "11440203MB2C22222Y", "11440204MB2C33333Z"]
ONLINE = ["pc", "app", "h5", "sms", "qr"]
ON_SITE = ["window", "kiosk", "hotline_12345"]


def expected(records: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    """Plain counting, straight from the definitions."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for r in records:
        if r["excluded"]:
            continue
        c = counts[r[key]]
        c["total"] += 1
        c["satisfied"] += r["level"] >= 3
        is_bad = r["level"] <= 2 and not r["default"]
        c["bad"] += is_bad
        c["bad_rectified"] += is_bad and r["rectified"]
        c["named_bad"] += is_bad and r["named"]
        c["named_bad_visited"] += is_bad and r["named"] and r["visited"]
        c["proactive"] += not r["default"]
    out = {}
    for k, c in counts.items():
        out[k] = {
            "satisfaction_rate": round(c["satisfied"] / c["total"], 4),
            "bad_rate": round(c["bad"] / c["total"], 4),
            "rectification_rate": round(c["bad_rectified"] / c["bad"], 4) if c["bad"] else None,
            "return_visit_rate": (
                round(c["named_bad_visited"] / c["named_bad"], 4) if c["named_bad"] else None
            ),
            "proactive_rate": round(c["proactive"] / c["total"], 4),
            "total": c["total"],
        }
    return out


async def test_figures_of_a_generated_month(pg: DatabaseFactory) -> None:
    rnd = random.Random(11)
    h = await eval_app(pg)
    march: list[dict[str, Any]] = []
    silent: list[dict[str, Any]] = []
    for n in range(70):
        org = rnd.choice(ORGS)
        code = f"{org}{rnd.choice(['0000000000001', '0000000000002'])}"
        ended = dt.datetime(2026, 3, 1, 2, tzinfo=dt.UTC) + dt.timedelta(
            hours=rnd.randrange(0, 14 * 24)
        )
        me = secrets.token_hex(16)
        case_no = await h.concluded(("natural", me), org=org, code=code, ended=ended)
        base = {
            "org": org,
            "matter": code,
            "default": False,
            "excluded": False,
            "rectified": False,
            "visited": False,
        }
        if n % 7 == 0:  # never rated: a 默认评价
            silent.append(base | {"channel": "default", "level": 3, "named": False})
            continue
        person = Principal(subject=f"np-{n}", subject_type="natural", id_ref=me, acr="L3")
        for channel in rnd.sample(ONLINE + ON_SITE, rnd.choice([1, 1, 2])):
            level = rnd.choice([1, 2, 3, 4, 5, 5, 5])
            named = rnd.random() < 0.6
            ev = await rating.submit(
                h.ctx,
                h.hub.db,
                person,
                case_no=case_no,
                channel=channel,
                level=level,
                indicators={},
                categories=["other"] if level <= 2 else [],
                comment="不满意" if level <= 2 else None,
                anonymous=not named,
                contact_phone="13800138000" if named else None,
                now=ended + dt.timedelta(hours=5),
            )
            rec = base | {"channel": channel, "level": level, "named": named}
            if ev.is_bad:
                await progress(
                    h, ev.id, org, rnd.choice(["open", "rectified", "visited", "upheld"]), rec
                )
            march.append(rec)
    given = await give_default_ratings(h.ctx, h.hub.db, dt.datetime(2026, 3, 25, tzinfo=dt.UTC))
    assert given == len(silent)
    march += [s | {"default": True} for s in silent]
    # a rating of April stays out of March's figures
    april = await h.concluded(
        ("natural", "x" * 32), org=ORGS[0], ended=dt.datetime(2026, 4, 2, tzinfo=dt.UTC)
    )
    await rating.submit(
        h.ctx,
        h.hub.db,
        Principal(subject="np-a", subject_type="natural", id_ref="x" * 32, acr="L3"),
        case_no=april,
        channel="pc",
        level=1,
        indicators={},
        categories=["other"],
        comment="x",
        anonymous=True,
        contact_phone=None,
        now=dt.datetime(2026, 4, 3, tzinfo=dt.UTC),
    )
    assert any(r["level"] <= 2 and not r["excluded"] for r in march)
    assert any(r["excluded"] for r in march) and any(r["visited"] for r in march)
    params = {"period_from": "2026-03", "period_to": "2026-03"}
    async with serve(h.app) as client:
        for group_by, key in (("org", "org"), ("matter", "matter"), ("channel", "channel")):
            r = await client.get("/v1/statistics", params=params | {"group_by": group_by})
            assert r.status_code == 200
            got = {
                g["key"]: {
                    k: g[k]
                    for k in (
                        "satisfaction_rate",
                        "bad_rate",
                        "rectification_rate",
                        "return_visit_rate",
                        "proactive_rate",
                    )
                }
                | {"total": g["counts"]["total"]}
                for g in r.json()["groups"]
            }
            assert got == expected(march, key), group_by
        one = await client.get(
            "/v1/statistics", params=params | {"group_by": "channel", "org": ORGS[1]}
        )
        assert one.status_code == 200
        assert {g["key"]: g["counts"]["total"] for g in one.json()["groups"]} == {
            k: v["total"]
            for k, v in expected([m for m in march if m["org"] == ORGS[1]], "channel").items()
        }
        whole = await client.get("/v1/statistics", params={"group_by": "period"})
        totals = {g["key"]: g["counts"]["total"] for g in whole.json()["groups"]}
        assert totals == {"2026-03": sum(not m["excluded"] for m in march), "2026-04": 1}
        assert "np-" not in whole.text and "13800138000" not in whole.text


async def progress(h: Any, evaluation_id: str, org: str, how: str, rec: dict[str, Any]) -> None:
    from services.eval.store import repository as repo

    async with h.hub.db.sessionmaker() as s:
        row = await repo.rectification_of_evaluation(s, evaluation_id)
    staff = Principal(
        subject="s",
        subject_type="staff",
        uscc=org,
        acr="L4",
        roles=frozenset({"eval-rectifier", "eval-reviewer"}),
    )
    steps = {
        "open": [],
        "rectified": ["verify", "rectify"],
        "visited": ["verify", "rectify", "return_visit"],
        "upheld": ["appeal", "uphold"],
    }[how]
    for action in steps:
        await handling.step(h.ctx, h.hub.db, staff, row.id, action, "n", ["e"])
    rec["rectified"] = how in ("rectified", "visited")
    rec["visited"] = how == "visited"
    rec["excluded"] = how == "upheld"
