"""Progress API: applicants see their own cases, staff their org's, everyone else a 404;
personal data only with scope ``cases:read``, at L3 or above, with a token still active."""

from __future__ import annotations

import pytest

from services.runtime.pii import citizen_id_ref, pii_cipher
from tests.cases.factory import (
    ORG_A,
    ORG_B,
    at,
    case_no,
    event_data,
    impl_code,
    legal,
    make_citizen_id,
    make_uscc,
    matter_data,
    natural,
)
from tests.cases.support import CasesHarness, cases_app
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer

CODE = impl_code(ORG_A, 3)
ALICE_ID = make_citizen_id(11)
BOB_ID = make_citizen_id(12)
COMPANY = make_uscc(77, prefix="91440300")
DAY = at("2026-03-02T09:00").date()
READ = "cases:read"


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


async def seeded(pg: DatabaseFactory, issuer: TestIssuer) -> tuple[CasesHarness, dict[str, str]]:
    h = await cases_app(pg, issuer)
    h.hub.extras["token_introspector"] = issuer.introspector()
    await h.matter(matter_data(CODE, promised=10))
    numbers = {}
    for i, (who, applicant) in enumerate(
        [
            ("alice", natural(ALICE_ID, "王小明")),
            ("bob", natural(BOB_ID)),
            ("company", legal(COMPANY)),
        ]
    ):
        number = case_no(CODE, DAY, i + 1)
        numbers[who] = number
        await h.receive(
            event_data(number, "submitted", at("2026-03-02T09:00"), seq=1, applicant=applicant),
            now=at("2026-03-02T09:00"),
        )
        await h.receive(
            event_data(number, "accepted", at("2026-03-02T10:00"), seq=2),
            now=at("2026-03-02T10:00"),
        )
    await h.receive(
        event_data(numbers["alice"], "not_accepted", at("2026-03-03T10:00"), seq=3),
        now=at("2026-03-03T10:00"),
    )  # an anomaly after acceptance
    return h, numbers


def ref(h: CasesHarness, id_no: str) -> str:
    return citizen_id_ref(pii_cipher(h.hub.settings), id_no)


async def test_applicant_sees_own_case_with_stages_due_dates_and_clear_id(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h, numbers = await seeded(pg, issuer)
    async with serve(h.app) as client:
        r = await client.get(
            f"/v1/cases/{numbers['alice']}",
            headers=bearer(issuer.citizen(ref(h, ALICE_ID), scope=READ)),
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["stage"] == "accepted"
        assert body["due_date"] == "2026-03-16" and body["limit_days"] == 10
        assert body["applicant"]["id_no"] == ALICE_ID and body["applicant"]["name"] == "王小明"
        assert [s["stage"] for s in body["stages"]] == ["submitted", "accepted", "not_accepted"]
        assert body["stages"][2]["applied"] is False
        assert "anomaly" not in body["stages"][2] and "warnings" not in body
        assert body["accepted_at"].endswith("+08:00")

        r = await client.get(
            "/v1/me/cases", headers=bearer(issuer.citizen(ref(h, ALICE_ID), scope=READ))
        )
        assert [c["case_no"] for c in r.json()["items"]] == [numbers["alice"]]
        r = await client.get("/v1/me/cases", headers=bearer(issuer.company(COMPANY, scope=READ)))
        assert [c["case_no"] for c in r.json()["items"]] == [numbers["company"]]
        r = await client.get(
            f"/v1/cases/{numbers['company']}", headers=bearer(issuer.company(COMPANY, scope=READ))
        )
        assert r.status_code == 200 and r.json()["applicant"]["id_no"] == COMPANY


@pytest.mark.parametrize("who", ["other_citizen", "other_org_staff", "client", "company"])
async def test_anyone_else_gets_404_not_403(
    pg: DatabaseFactory, issuer: TestIssuer, who: str
) -> None:
    h, numbers = await seeded(pg, issuer)
    tokens = {
        "other_citizen": issuer.citizen(ref(h, BOB_ID), scope=READ),
        "other_org_staff": issuer.staff(ORG_B, ["window"], scope=READ),
        # Even with cases:read, a client token names no applicant and no org: nothing.
        "client": issuer.client("county-440305", "cases:push cases:read"),
        "company": issuer.company(make_uscc(78, prefix="91440300"), scope=READ),
    }
    async with serve(h.app) as client:
        r = await client.get(f"/v1/cases/{numbers['alice']}", headers=bearer(tokens[who]))
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        missing = await client.get(f"/v1/cases/{CODE}202603029999", headers=bearer(tokens[who]))
        assert missing.status_code == 404 and missing.json()["detail"].replace(
            missing.json()["detail"].split()[2], "X"
        ) == r.json()["detail"].replace(
            r.json()["detail"].split()[2], "X"
        )  # same answer whether or not it exists
        r = await client.get("/v1/me/cases", headers=bearer(tokens[who]))
        assert numbers["alice"] not in r.text


async def test_staff_see_their_org_cases_masked_with_anomalies_and_warnings(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h, numbers = await seeded(pg, issuer)
    staff = bearer(issuer.staff(ORG_A, ["window"], scope=READ))
    async with serve(h.app) as client:
        r = await client.get(f"/v1/cases/{numbers['alice']}", headers=staff)
        assert r.status_code == 200
        body = r.json()
        assert body["applicant"]["id_no"] != ALICE_ID
        assert body["applicant"]["id_no"][:4] == ALICE_ID[:4] and "*" in body["applicant"]["id_no"]
        assert body["stages"][2]["anomaly"] and body["anomaly_count"] == 1
        assert ALICE_ID not in r.text

        first = await client.get("/v1/me/cases", params={"limit": 2}, headers=staff)
        page1 = first.json()
        assert len(page1["items"]) == 2 and page1["next_cursor"]
        second = await client.get(
            "/v1/me/cases", params={"limit": 2, "cursor": page1["next_cursor"]}, headers=staff
        )
        page2 = second.json()
        seen = [c["case_no"] for c in page1["items"] + page2["items"]]
        assert sorted(seen) == sorted(numbers.values()) and page2["next_cursor"] is None
        bad = await client.get("/v1/me/cases", params={"cursor": "%%%"}, headers=staff)
        assert bad.status_code == 400
        assert (
            await client.get("/v1/me/cases", params={"limit": 1000}, headers=staff)
        ).status_code == 422


async def test_supervision_list_for_staff_of_the_org_only(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h, numbers = await seeded(pg, issuer)
    from services.cases.supervisor import supervise_once

    # All three stay live (alice's refusal after acceptance was an anomaly).
    assert await supervise_once(h.hub.db, h.casework, at("2026-03-12T09:00")) == 3
    assert await supervise_once(h.hub.db, h.casework, at("2026-03-17T09:00")) == 3
    staff = bearer(issuer.staff(ORG_A, ["supervisor"], scope=READ))
    async with serve(h.app) as client:
        r = await client.get("/v1/supervision/warnings", params={"level": "red"}, headers=staff)
        assert r.status_code == 200
        items = r.json()["items"]
        assert {w["case_no"] for w in items} == set(numbers.values())
        assert all(w["level"] == "red" and w["status"] == "open" for w in items)
        r = await client.get(
            "/v1/supervision/warnings", params={"status": "open", "limit": 4}, headers=staff
        )
        assert len(r.json()["items"]) == 4 and r.json()["next_cursor"]
        r2 = await client.get(
            "/v1/supervision/warnings",
            params={"status": "open", "limit": 4, "cursor": r.json()["next_cursor"]},
            headers=staff,
        )
        assert len(r2.json()["items"]) == 2 and r2.json()["next_cursor"] is None
        ids = [w["id"] for w in r.json()["items"] + r2.json()["items"]]
        assert len(set(ids)) == 6
        other = await client.get(
            "/v1/supervision/warnings",
            headers=bearer(issuer.staff(ORG_B, ["supervisor"], scope=READ)),
        )
        assert other.status_code == 200 and other.json()["items"] == []
        citizen = await client.get(
            "/v1/supervision/warnings", headers=bearer(issuer.citizen(ref(h, BOB_ID), scope=READ))
        )
        assert citizen.status_code == 404
        assert (await client.get("/v1/supervision/warnings")).status_code == 401
        bad = await client.get("/v1/supervision/warnings", params={"level": "green"}, headers=staff)
        assert bad.status_code == 422


async def test_back_dated_and_foreign_org_events_do_not_take_over_a_case(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    """Issue 8, hole 3: a back-dated event naming another applicant does not hand the case
    to them, and an event naming another handling org neither moves the case out of its
    org's view nor concludes it; both are anomalies in the staff view."""
    h, numbers = await seeded(pg, issuer)
    number = numbers["alice"]
    mallory_id = make_citizen_id(66)
    forged_applicant = event_data(
        number,
        "submitted",
        at("2026-03-01T08:00"),  # before the real submission, and a lower seq
        seq=0,
        source="rogue-system",
        applicant=natural(mallory_id, "马洛里"),
    )
    assert (await h.receive(forged_applicant, now=at("2026-03-03T11:00"))).status == "applied"
    forged_org = event_data(
        number,
        "concluded",
        at("2026-03-03T12:00"),
        seq=9,
        source="rogue-system",
        org=ORG_B,
        result={
            "decision": "approved",
            "certificate_type": "11100000000013127D001",
            "certificate_data": {"经营者名称": "冒名公司"},
        },
    )
    await h.receive(forged_org, now=at("2026-03-03T12:01"))
    alice = bearer(issuer.citizen(ref(h, ALICE_ID), scope=READ))
    async with serve(h.app) as client:
        r = await client.get(f"/v1/cases/{number}", headers=alice)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["applicant"]["name"] == "王小明" and body["applicant"]["id_no"] == ALICE_ID
        assert body["stage"] == "accepted" and body["concluded_at"] is None
        assert body["certificate_type"] is None and body["decision"] is None
        for token in (
            issuer.citizen(ref(h, mallory_id), scope=READ),
            issuer.staff(ORG_B, ["window"], scope=READ),
        ):
            r = await client.get(f"/v1/cases/{number}", headers=bearer(token))
            assert r.status_code == 404
            r = await client.get("/v1/me/cases", headers=bearer(token))
            assert number not in r.text

        staff = bearer(issuer.staff(ORG_A, ["window"], scope=READ))
        r = await client.get(f"/v1/cases/{number}", headers=staff)
        assert r.status_code == 200
        body = r.json()
        assert body["handler"]["org_uscc"] == ORG_A
        by_event = {s["event_id"]: s for s in body["stages"]}
        backdated = by_event[forged_applicant["event_id"]]
        assert backdated["applied"] is True and "applicant" in backdated["anomaly"]
        foreign = by_event[forged_org["event_id"]]
        assert foreign["applied"] is False and ORG_B in foreign["anomaly"]
        # The refusal after acceptance (seeded), the two conflicts, and the real 收件: the
        # back-dated one's stage applied first in source order, so a second is refused.
        assert body["anomaly_count"] == 4
        assert [s["stage"] for s in body["stages"] if s["anomaly"]] == [
            "submitted",
            "submitted",
            "not_accepted",
            "concluded",
        ]
        assert body["stages"][0]["event_id"] == forged_applicant["event_id"]  # source order
        assert mallory_id not in r.text
    assert await h.facts("hub.case.concluded") == []


async def test_below_l3_is_told_to_step_up_and_sees_no_personal_data(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h, numbers = await seeded(pg, issuer)
    low = {
        "citizen": issuer.citizen(ref(h, ALICE_ID), acr="L2", scope=READ),
        "company": issuer.company(COMPANY, acr="L2", scope=READ),
        "staff": issuer.staff(ORG_A, ["window"], scope=READ, acr="L2"),
        "no_acr": issuer.token(sub="np-x", sub_type="natural", id_ref=ref(h, ALICE_ID), scope=READ),
    }
    async with serve(h.app) as client:
        for who, token in low.items():
            for path in (f"/v1/cases/{numbers['alice']}", "/v1/me/cases"):
                r = await client.get(path, headers=bearer(token))
                assert r.status_code == 403, (who, path, r.text)
                assert r.headers["content-type"].startswith("application/problem+json")
                assert r.json()["type"].endswith("/insufficient-assurance")
                assert "L3" in r.json()["detail"]
                challenge = r.headers["www-authenticate"]
                assert 'error="insufficient_user_authentication"' in challenge
                assert 'acr_values="L3"' in challenge
                assert ALICE_ID not in r.text and "王小明" not in r.text
        staff = await client.get("/v1/supervision/warnings", headers=bearer(low["staff"]))
        assert staff.status_code == 403
    # The rule itself, not only the route: an L2 principal matches nothing.
    from services.cases import progress
    from services.runtime.auth import Principal

    l2 = Principal(
        subject="np-1", subject_type="natural", id_ref=ref(h, ALICE_ID), acr="L2",
        scopes=frozenset({READ}),
    )  # fmt: skip
    assert progress._visible(l2) is None


async def test_missing_scope_is_refused_before_anything_is_read(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h, numbers = await seeded(pg, issuer)
    calls = issuer.introspections
    async with serve(h.app) as client:
        for token in (
            issuer.citizen(ref(h, ALICE_ID), scope="openid profile"),
            issuer.staff(ORG_A, ["window"]),
        ):
            r = await client.get(f"/v1/cases/{numbers['alice']}", headers=bearer(token))
            assert r.status_code == 403 and r.json()["type"].endswith("/insufficient-scope")
            assert 'error="insufficient_scope", scope="cases:read"' in r.headers["www-authenticate"]
            r = await client.get("/v1/me/cases", headers=bearer(token))
            assert r.status_code == 403 and ALICE_ID not in r.text
    assert issuer.introspections == calls  # refused locally, identity not asked


async def test_delegated_token_sees_the_company_cases_only_with_cases_read(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h, numbers = await seeded(pg, issuer)
    act = {"sub": "np-agent", "sub_type": "natural"}
    without = issuer.company(COMPANY, scope="openid profile", act=act)
    granted = issuer.company(COMPANY, scope=f"openid {READ}", act=act)
    async with serve(h.app) as client:
        for path in (f"/v1/cases/{numbers['company']}", "/v1/me/cases"):
            r = await client.get(path, headers=bearer(without))
            assert r.status_code == 403 and r.json()["type"].endswith("/insufficient-scope")
            assert "applicant" not in r.text and "items" not in r.text
        r = await client.get("/v1/me/cases", headers=bearer(granted))
        assert [c["case_no"] for c in r.json()["items"]] == [numbers["company"]]
        r = await client.get(f"/v1/cases/{numbers['company']}", headers=bearer(granted))
        assert r.status_code == 200 and r.json()["applicant"]["id_no"] == COMPANY


async def test_a_revoked_token_is_refused_on_its_next_use(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h, numbers = await seeded(pg, issuer)
    token = issuer.citizen(ref(h, ALICE_ID), scope=READ)
    async with serve(h.app) as client:
        assert (await client.get("/v1/me/cases", headers=bearer(token))).status_code == 200
        issuer.revoke(token)
        r = await client.get(f"/v1/cases/{numbers['alice']}", headers=bearer(token))
        assert r.status_code == 401 and "revoked" in r.json()["detail"]
        assert ALICE_ID not in r.text
        calls = issuer.introspections
        assert (await client.get("/v1/me/cases", headers=bearer(token))).status_code == 401
        assert issuer.introspections == calls  # a revoked token is remembered as such


async def test_tokens_revoked_at_the_real_issuer_are_refused_at_once(pg: DatabaseFactory) -> None:
    """Identity issues the tokens (code + PKCE, L3) and the cases app asks its /introspect
    with its own client: after RFC 7009 revoke, and after logout, the very next read is
    401 — no cache window."""
    import json

    import httpx

    from services.identity import accounts, clients
    from services.identity.clients import ClientSpec
    from services.runtime.auth import TokenIntrospector
    from tests.identity.support import (
        CITIZEN_ID,
        CITIZEN_PASSWORD,
        ISSUER,
        browser,
        identity_env,
        user_tokens,
    )

    async with identity_env(await pg.create("cases_identity")) as env:
        async with env.core.db.transaction() as session:
            _, secret = await clients.create_client(
                session,
                ClientSpec(
                    client_id="cases-service",
                    name="办件服务",
                    grant_types=["client_credentials"],
                    scopes=[],
                    can_introspect=True,
                ),
            )
            citizen = await accounts.find_by_username(session, env.core, CITIZEN_ID)
            assert citizen is not None
            citizen.level = "L3"  # as after 实名核验
        h = await cases_app(pg, auth_jwks=json.dumps(env.core.keys.jwks), auth_issuer=ISSUER)
        await h.matter(matter_data(CODE, promised=10))
        number = case_no(CODE, DAY, 9)
        await h.receive(
            event_data(number, "submitted", at("2026-03-02T09:00"), seq=1,
                       applicant=natural(CITIZEN_ID, "张三")),
            now=at("2026-03-02T09:00"),
        )  # fmt: skip
        http = httpx.AsyncClient(transport=env.transport())
        h.hub.extras["token_introspector"] = TokenIntrospector(
            url=f"{ISSUER}/introspect",
            client_id="cases-service",
            client_secret=secret or "",
            http=http,
        )
        async with serve(h.app) as cases, browser(env) as b:
            tokens = await user_tokens(
                env, b, CITIZEN_ID, CITIZEN_PASSWORD, scope="openid cases:read"
            )
            auth = bearer(tokens["access_token"])
            r = await cases.get(f"/v1/cases/{number}", headers=auth)
            assert r.status_code == 200, r.text
            assert r.json()["applicant"]["id_no"] == CITIZEN_ID
            assert (await cases.get("/v1/me/cases", headers=auth)).status_code == 200

            revoked = await b.post(
                f"{ISSUER}/revoke",
                data={"token": tokens["access_token"], "client_id": "portal"},
            )
            assert revoked.status_code == 200
            r = await cases.get(f"/v1/cases/{number}", headers=auth)
            assert r.status_code == 401 and CITIZEN_ID not in r.text
            assert 'error="invalid_token"' in r.headers["www-authenticate"]

            # Logout (same SSO session, new tokens): the next read is refused too.
            again = await user_tokens(
                env, b, CITIZEN_ID, CITIZEN_PASSWORD, scope="openid cases:read"
            )
            auth = bearer(again["access_token"])
            assert (await cases.get("/v1/me/cases", headers=auth)).status_code == 200
            out = await b.get(f"{ISSUER}/logout")
            assert out.status_code == 200
            assert (await cases.get("/v1/me/cases", headers=auth)).status_code == 401
        await http.aclose()


async def test_concurrent_reads_with_one_token_share_one_introspection(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    import asyncio

    h, _ = await seeded(pg, issuer)
    token = bearer(issuer.citizen(ref(h, ALICE_ID), scope=READ))
    issuer.introspection_delay = 0.3
    try:
        async with serve(h.app) as client:
            calls = issuer.introspections
            answers = await asyncio.gather(
                *(client.get("/v1/me/cases", headers=token) for _ in range(8))
            )
            assert [r.status_code for r in answers] == [200] * 8
            assert issuer.introspections == calls + 1  # single flight
            # No cache by default: the next read asks again.
            assert (await client.get("/v1/me/cases", headers=token)).status_code == 200
            assert issuer.introspections == calls + 2
    finally:
        issuer.introspection_delay = 0.0
