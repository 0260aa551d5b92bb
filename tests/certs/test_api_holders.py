"""Holder view: the holder at L3+ sees their certificates; everyone else a 404 (BOLA)."""

from __future__ import annotations

import pytest

from services.certs.domain.qr_payload import decode_qr
from services.certs.domain.types import (
    FOOD_LICENCE,
    SHAOGUAN_EDUCATION_USCC,
    SHAOGUAN_MARKET_USCC,
    TEACHER_QUALIFICATION,
)
from services.runtime.pii import citizen_id_ref
from tests.certs.harness import certs_app, citizen_id, teacher_face
from tests.certs.support import OPERATOR_USCC, food_face
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


async def test_holders_see_their_own_certificates_only(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h = await certs_app(pg, issuer)
    alice_id, bob_id = citizen_id(21), citizen_id(22)
    alice_ref = citizen_id_ref(h.ctx.cipher, alice_id)
    bob_ref = citizen_id_ref(h.ctx.cipher, bob_id)
    teacher_staff = bearer(issuer.staff(SHAOGUAN_EDUCATION_USCC, ["certs-issuer"]))
    market_staff = bearer(issuer.staff(SHAOGUAN_MARKET_USCC, ["certs-issuer"]))
    async with serve(h.app) as client:
        r = await client.post(
            "/v1/certificates",
            json={"type_code": TEACHER_QUALIFICATION.type_code, "face": teacher_face(alice_id)},
            headers=teacher_staff,
        )
        assert r.status_code == 201, r.text
        cid = r.json()["certificate_id"]
        r = await client.post(
            "/v1/certificates",
            json={"type_code": FOOD_LICENCE.type_code, "face": food_face()},
            headers=market_staff,
        )
        food_id = r.json()["certificate_id"]

        alice = bearer(issuer.citizen(alice_ref))
        mine = (await client.get("/v1/me/certificates", headers=alice)).json()["items"]
        assert [c["certificate_id"] for c in mine] == [cid]
        assert mine[0]["holder_name_masked"] == "王**"
        assert mine[0]["holder_id_masked"] != alice_id
        one = await client.get(f"/v1/me/certificates/{cid}", headers=alice)
        assert one.status_code == 200
        detail = one.json()
        assert detail["document"]["face"]["citizen_id"] == alice_id  # the holder sees it all
        claims = decode_qr(detail["qr_text"])
        assert claims.certificate_id == cid
        assert claims.status_index == int(detail["credential_status"][0]["statusListIndex"])

        bob = bearer(issuer.citizen(bob_ref))
        assert (await client.get("/v1/me/certificates", headers=bob)).json()["items"] == []
        for who in (bob, market_staff, bearer(issuer.company(OPERATOR_USCC))):
            r = await client.get(f"/v1/me/certificates/{cid}", headers=who)
            assert r.status_code == 404
            assert r.headers["content-type"].startswith("application/problem+json")

        weak = bearer(issuer.citizen(alice_ref, acr="L2"))
        for url in ("/v1/me/certificates", f"/v1/me/certificates/{cid}"):
            r = await client.get(url, headers=weak)
            assert r.status_code == 403
        assert (await client.get("/v1/me/certificates")).status_code == 401

        # Legal persons by USCC (an agent acting for the company holds its token).
        company = bearer(issuer.company(OPERATOR_USCC, act={"sub": "np-agent"}))
        items = (await client.get("/v1/me/certificates", headers=company)).json()["items"]
        assert [c["certificate_id"] for c in items] == [food_id]
        assert (await client.get(f"/v1/me/certificates/{food_id}", headers=company)).json()[
            "holder_name_masked"
        ] == "韶关市武江区好味道餐饮店"
