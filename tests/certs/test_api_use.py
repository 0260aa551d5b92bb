"""授权用证: an org's system uses a certificate only under the holder's active authorisation;
every attempt (allowed or refused) is in the holder's use log; BOLA and bad input."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pypdfium2 as pdfium
import pytest
from sqlalchemy import update

from services.certs.domain.types import (
    FOOD_LICENCE,
    SHAOGUAN_EDUCATION_USCC,
    SHAOGUAN_MARKET_USCC,
    TEACHER_QUALIFICATION,
)
from services.certs.store.tables import AuthorizationRow, FileLinkRow
from services.runtime.pii import citizen_id_ref
from tests.certs.harness import certs_app, citizen_id, teacher_face
from tests.certs.support import OPERATOR_USCC, _uscc, food_face
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer

SCHOOL = _uscc("12440203MB0A00012")  # the school hiring the teacher (made up)
OTHER = _uscc("12440203MB0A00034")  # another org with a registered system
CAUSE = "教师招聘资格审查"


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


def _system(issuer: TestIssuer, orgs: list[str] | None, scope: str = "certs:use") -> dict[str, str]:
    claims: dict[str, Any] = {} if orgs is None else {"orgs": orgs}
    return bearer(issuer.client(f"sys-{'-'.join(orgs or ['none'])}", scope, **claims))


def _is_problem(r: Any, status: int) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")


async def test_use_under_authorisation_logged_for_the_holder(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h = await certs_app(pg, issuer)
    h.hub.extras["token_introspector"] = issuer.introspector()
    alice_id, bob_id = citizen_id(41), citizen_id(42)
    alice = bearer(issuer.citizen(citizen_id_ref(h.ctx.cipher, alice_id)))
    bob = bearer(issuer.citizen(citizen_id_ref(h.ctx.cipher, bob_id)))
    staff = bearer(issuer.staff(SHAOGUAN_EDUCATION_USCC, ["certs-issuer"]))
    school, other = _system(issuer, [SCHOOL]), _system(issuer, [OTHER])
    async with serve(h.app) as client:
        r = await client.post(
            "/v1/certificates",
            json={"type_code": TEACHER_QUALIFICATION.type_code, "face": teacher_face(alice_id)},
            headers=staff,
        )
        cid = r.json()["certificate_id"]
        use_url = f"/v1/use/certificates/{cid}"

        # No authorisation yet: refused (404, no existence oracle), and logged.
        r = await client.get(use_url, params={"use_cause": CAUSE}, headers=school)
        _is_problem(r, 404)
        r = await client.get(
            "/v1/use/certificates/1.2.156.3005.2.nope", params={"use_cause": CAUSE}, headers=school
        )
        _is_problem(r, 404)

        r = await client.post(
            "/v1/me/authorizations",
            json={"org_uscc": SCHOOL, "use_cause": CAUSE, "certificate_id": cid},
            headers=alice,
        )
        assert r.status_code == 201, r.text
        grant = r.json()
        assert grant["state"] == "active"
        # Bob cannot authorise for Alice's certificate, nor see or revoke her grants.
        r = await client.post(
            "/v1/me/authorizations",
            json={"org_uscc": OTHER, "use_cause": CAUSE, "certificate_id": cid},
            headers=bob,
        )
        _is_problem(r, 404)
        assert (await client.get("/v1/me/authorizations", headers=bob)).json()["items"] == []
        _is_problem(await client.delete(f"/v1/me/authorizations/{grant['id']}", headers=bob), 404)

        r = await client.get(use_url, params={"use_cause": CAUSE}, headers=school)
        assert r.status_code == 200, r.text
        assert r.json()["document"]["face"]["citizen_id"] == alice_id

        # Another org's system: refused and logged. A system naming an org it is not
        # registered for, one registered for none, one without the scope: refused, not logged.
        _is_problem(await client.get(use_url, params={"use_cause": CAUSE}, headers=other), 404)
        r = await client.get(
            use_url, params={"use_cause": CAUSE, "org_uscc": SCHOOL}, headers=other
        )
        _is_problem(r, 403)
        assert r.json()["type"].endswith("client-not-registered-for-org")
        _is_problem(
            await client.get(use_url, params={"use_cause": CAUSE}, headers=_system(issuer, None)),
            403,
        )
        r = await client.get(
            use_url, params={"use_cause": CAUSE}, headers=_system(issuer, [SCHOOL], "cases:push")
        )
        _is_problem(r, 403)
        _is_problem(await client.get(use_url, params={"use_cause": CAUSE}, headers=alice), 403)

        # By holder ID + type, the ID in the body.
        lookup = {
            "holder_id_type": "citizen_id",
            "holder_id": alice_id,
            "type_code": TEACHER_QUALIFICATION.type_code,
            "use_cause": CAUSE,
        }
        r = await client.post("/v1/use/lookup", json=lookup, headers=school)
        assert r.status_code == 200, r.text
        assert [c["certificate_id"] for c in r.json()["items"]] == [cid]
        _is_problem(await client.post("/v1/use/lookup", json=lookup, headers=other), 404)

        # Revoked: the next fetch is refused.
        r = await client.delete(f"/v1/me/authorizations/{grant['id']}", headers=alice)
        assert r.status_code == 204
        _is_problem(await client.get(use_url, params={"use_cause": CAUSE}, headers=school), 404)
        items = (await client.get("/v1/me/authorizations", headers=alice)).json()["items"]
        assert [a["state"] for a in items] == ["revoked"]

        # Expired: a grant whose period has run out (moved into the past in the store).
        r = await client.post(
            "/v1/me/authorizations",
            json={
                "org_uscc": SCHOOL,
                "use_cause": CAUSE,
                "type_code": TEACHER_QUALIFICATION.type_code,
            },
            headers=alice,
        )
        assert r.status_code == 201, r.text
        async with h.hub.db.transaction() as session:
            past = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
            await session.execute(
                update(AuthorizationRow)
                .where(AuthorizationRow.id == r.json()["id"])
                .values(valid_from=past - dt.timedelta(days=2), valid_until=past)
            )
        _is_problem(await client.get(use_url, params={"use_cause": CAUSE}, headers=school), 404)

        uses = (await client.get(f"/v1/me/certificates/{cid}/uses", headers=alice)).json()
        log = [(u["org_uscc"], u["outcome"], u["reason"]) for u in reversed(uses["items"])]
        assert log == [
            (SCHOOL, "refused", "no-authorisation"),
            (SCHOOL, "allowed", "authorised"),
            (OTHER, "refused", "no-authorisation"),
            (SCHOOL, "allowed", "authorised"),
            (OTHER, "refused", "no-authorisation"),
            (SCHOOL, "refused", "authorisation-revoked"),
            (SCHOOL, "refused", "authorisation-expired"),
        ]
        first = uses["items"][-2]
        assert first["use_cause"] == CAUSE and first["system"] == "sys-" + SCHOOL
        assert first["version"] == 1 and first["authorization_id"] == grant["id"]
        _is_problem(await client.get(f"/v1/me/certificates/{cid}/uses", headers=bob), 404)

    used = await h.facts("hub.cert.used")
    assert [(f["user_org_uscc"], f["use_cause"]) for f in used] == [(SCHOOL, CAUSE)] * 2
    assert alice_id not in str(used)


async def test_bad_input_is_problem_json(pg: DatabaseFactory, issuer: TestIssuer) -> None:
    h = await certs_app(pg, issuer)
    h.hub.extras["token_introspector"] = issuer.introspector()
    alice = bearer(issuer.citizen(citizen_id_ref(h.ctx.cipher, citizen_id(43))))
    company = bearer(issuer.company(OPERATOR_USCC, acr="L2"))
    school = _system(issuer, [SCHOOL])
    two_orgs = _system(issuer, [SCHOOL, OTHER])
    type_code = TEACHER_QUALIFICATION.type_code
    now = dt.datetime.now(dt.UTC)
    bad_grants = [
        {"org_uscc": "91440203MA4UP12340", "use_cause": CAUSE, "type_code": type_code},
        {"org_uscc": SCHOOL, "use_cause": "", "type_code": type_code},
        {"org_uscc": SCHOOL, "use_cause": CAUSE},
        {"org_uscc": SCHOOL, "use_cause": CAUSE, "type_code": type_code, "certificate_id": "x"},
        {"org_uscc": SCHOOL, "use_cause": CAUSE, "type_code": "bad"},
        {"org_uscc": SCHOOL, "use_cause": CAUSE, "type_code": type_code, "extra": 1},
        {
            "org_uscc": SCHOOL,
            "use_cause": CAUSE,
            "type_code": type_code,
            "valid_until": (now - dt.timedelta(hours=1)).isoformat(),
        },
        {
            "org_uscc": SCHOOL,
            "use_cause": CAUSE,
            "type_code": type_code,
            "valid_until": (now + dt.timedelta(days=400)).isoformat(),
        },
    ]
    async with serve(h.app) as client:
        for body in bad_grants:
            _is_problem(await client.post("/v1/me/authorizations", json=body, headers=alice), 422)
        broken = alice | {"Content-Type": "application/json"}
        _is_problem(await client.post("/v1/me/authorizations", content=b"{", headers=broken), 400)
        ok = {"org_uscc": SCHOOL, "use_cause": CAUSE, "type_code": type_code}
        _is_problem(await client.post("/v1/me/authorizations", json=ok, headers=company), 403)
        _is_problem(await client.post("/v1/me/authorizations", json=ok), 401)
        _is_problem(await client.delete("/v1/me/authorizations/NOT-HEX", headers=alice), 422)
        _is_problem(await client.delete("/v1/me/authorizations/abc", headers=alice), 404)

        url = "/v1/use/certificates/1.2.156.3005.2.x"
        _is_problem(await client.get(url, headers=school), 422)  # no use_cause
        _is_problem(await client.get(url, params={"use_cause": ""}, headers=school), 422)
        _is_problem(await client.get(url, params={"use_cause": CAUSE}, headers=two_orgs), 422)
        lookup: dict[str, Any] = {
            "holder_id_type": "citizen_id",
            "holder_id": "440203199001011230",  # wrong check digit
            "type_code": type_code,
            "use_cause": CAUSE,
        }
        r = await client.post("/v1/use/lookup", json=lookup, headers=school)
        _is_problem(r, 422)
        assert "440203199001011230" not in r.text
        lookup |= {"holder_id_type": "passport", "holder_id": "E1234567"}
        _is_problem(await client.post("/v1/use/lookup", json=lookup, headers=school), 422)


async def test_file_links_are_single_use_expiring_and_watermarked(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h = await certs_app(pg, issuer)
    h.hub.extras["token_introspector"] = issuer.introspector()
    alice_id = citizen_id(44)
    alice = bearer(issuer.citizen(citizen_id_ref(h.ctx.cipher, alice_id)))
    staff = bearer(issuer.staff(SHAOGUAN_EDUCATION_USCC, ["certs-issuer"]))
    school, other = _system(issuer, [SCHOOL]), _system(issuer, [OTHER])
    async with serve(h.app) as client:
        r = await client.post(
            "/v1/certificates",
            json={"type_code": TEACHER_QUALIFICATION.type_code, "face": teacher_face(alice_id)},
            headers=staff,
        )
        cid = r.json()["certificate_id"]
        r = await client.post(
            "/v1/me/authorizations",
            json={"org_uscc": SCHOOL, "use_cause": CAUSE, "certificate_id": cid},
            headers=alice,
        )
        assert r.status_code == 201
        file_url = f"/v1/use/certificates/{cid}/file"
        _is_problem(await client.post(file_url, json={"use_cause": CAUSE}, headers=other), 404)
        links = []
        for _ in range(2):
            r = await client.post(file_url, json={"use_cause": CAUSE}, headers=school)
            assert r.status_code == 201, r.text
            links.append("/v1/use/files/" + r.json()["url"].rsplit("/", 1)[1])
        r = await client.get(links[0])
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        text = pdfium.PdfDocument(r.content)[0].get_textpage().get_text_range()
        assert f"仅供{CAUSE}（{SCHOOL}）使用" in text
        _is_problem(await client.get(links[0]), 404)  # single use
        async with h.hub.db.transaction() as session:
            await session.execute(update(FileLinkRow).values(expires_at=dt.datetime.now(dt.UTC)))
        _is_problem(await client.get(links[1]), 404)  # expired
        _is_problem(await client.get("/v1/use/files/" + "A" * 43), 404)
        _is_problem(await client.get("/v1/use/files/short"), 422)
        uses = (await client.get(f"/v1/me/certificates/{cid}/uses", headers=alice)).json()
        assert [u["outcome"] for u in reversed(uses["items"])] == ["refused", "allowed", "allowed"]


async def test_control_characters_and_naive_times_are_422(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h = await certs_app(pg, issuer)
    h.hub.extras["token_introspector"] = issuer.introspector()
    alice = bearer(issuer.citizen(citizen_id_ref(h.ctx.cipher, citizen_id(45))))
    school = _system(issuer, [SCHOOL])
    ok = {"org_uscc": SCHOOL, "use_cause": CAUSE, "type_code": TEACHER_QUALIFICATION.type_code}
    async with serve(h.app) as client:
        for bad in ({"use_cause": "a\x00b"}, {"valid_until": "2030-01-01T00:00:00"}):
            r = await client.post("/v1/me/authorizations", json=ok | bad, headers=alice)
            _is_problem(r, 422)
        for cid in ("1.2.156.3005.2.%00", "x" * 121):
            for url in (f"/v1/me/certificates/{cid}/uses", f"/v1/me/certificates/{cid}/pdf"):
                r = await client.get(url, headers=alice)
                assert r.status_code in (404, 422), (url, r.status_code)
            r = await client.get(
                f"/v1/use/certificates/{cid}", params={"use_cause": CAUSE}, headers=school
            )
            assert r.status_code in (404, 422), r.status_code
        r = await client.get("/v1/use/certificates/x", params={"use_cause": "a\nb"}, headers=school)
        _is_problem(r, 422)


async def test_company_agent_grants_for_one_case_only(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    """A legal person's certificate, authorised by an agent acting for the company (授权代办),
    for one 办件: a use naming another 办件 (or none) is refused."""
    h = await certs_app(pg, issuer)
    h.hub.extras["token_introspector"] = issuer.introspector()
    market = bearer(issuer.staff(SHAOGUAN_MARKET_USCC, ["certs-issuer"]))
    agent = bearer(issuer.company(OPERATOR_USCC, act={"sub": "np-agent"}))
    bank = _system(issuer, [SCHOOL])
    case_a, case_b = "1" * 43, "2" * 43
    async with serve(h.app) as client:
        r = await client.post(
            "/v1/certificates",
            json={"type_code": FOOD_LICENCE.type_code, "face": food_face()},
            headers=market,
        )
        cid = r.json()["certificate_id"]
        r = await client.post(
            "/v1/me/authorizations",
            json={"org_uscc": SCHOOL, "use_cause": CAUSE, "certificate_id": cid, "case_no": case_a},
            headers=agent,
        )
        assert r.status_code == 201, r.text
        url = f"/v1/use/certificates/{cid}"
        for case, status in ((case_b, 404), (None, 404), (case_a, 200)):
            params = {"use_cause": CAUSE} | ({"case_no": case} if case else {})
            assert (await client.get(url, params=params, headers=bank)).status_code == status
        lookup = {
            "holder_id_type": "uscc",
            "holder_id": OPERATOR_USCC,
            "type_code": FOOD_LICENCE.type_code,
            "use_cause": CAUSE,
            "case_no": case_a,
        }
        r = await client.post("/v1/use/lookup", json=lookup, headers=bank)
        assert [c["certificate_id"] for c in r.json()["items"]] == [cid]
        uses = (await client.get(f"/v1/me/certificates/{cid}/uses", headers=agent)).json()
        assert [(u["case_no"], u["outcome"]) for u in reversed(uses["items"])] == [
            (case_b, "refused"),
            (None, "refused"),
            (case_a, "allowed"),
            (case_a, "allowed"),
        ]
