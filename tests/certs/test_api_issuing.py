"""Staff issuance and lifecycle: signatures checked with gmssl against the published key,
status flips read back from the served status list by an independent decoder."""

from __future__ import annotations

import base64

import pytest

from services.certs.domain.canonical import canonical_json
from services.certs.domain.types import FOOD_LICENCE, SHAOGUAN_MARKET_USCC
from tests.certs.harness import CertsHarness, certs_app, gmssl_from_public_pem
from tests.certs.support import OPERATOR_USCC, food_face, spec_decode_bit
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer

OTHER_ORG = "11440200MB2C12353P"  # 韶关市教育局: may not issue food licences


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


def problem(r) -> dict:  # type: ignore[no-untyped-def]
    assert r.headers["content-type"].startswith("application/problem+json"), r.text
    return r.json()


async def _bit(client, purpose: str, index: int) -> bool:  # type: ignore[no-untyped-def]
    r = await client.get(f"/v1/status-lists/{SHAOGUAN_MARKET_USCC}/{purpose}")
    assert r.status_code == 200
    assert r.headers["cache-control"] == "public, max-age=300"
    body = r.json()
    assert body["credentialSubject"]["ttl"] == 300_000
    # The proof: SM2 over JCS of the credential without "proof", verified with gmssl.
    keys = (await client.get(f"/v1/issuers/{SHAOGUAN_MARKET_USCC}/keys")).json()["keys"]
    proof = body.pop("proof")
    key = next(k for k in keys if k["kid"] == proof["kid"])
    gm = gmssl_from_public_pem(key["public_key_pem"])
    assert gm.verify_with_sm3(base64.b64decode(proof["sig"]).hex(), canonical_json(body))
    return spec_decode_bit(body["credentialSubject"]["encodedList"], index)


async def test_issue_sign_and_walk_the_lifecycle(pg: DatabaseFactory, issuer: TestIssuer) -> None:
    h: CertsHarness = await certs_app(pg, issuer)
    staff = bearer(issuer.staff(SHAOGUAN_MARKET_USCC, ["certs-issuer"]))
    async with serve(h.app) as client:
        r = await client.post(
            "/v1/certificates",
            json={"type_code": FOOD_LICENCE.type_code, "face": food_face()},
            headers=staff,
        )
        assert r.status_code == 201, r.text
        cert = r.json()
        cid, index = cert["certificate_id"], int(cert["credential_status"][0]["statusListIndex"])
        assert cid.startswith(f"1.2.156.3005.2.{FOOD_LICENCE.type_code}.{SHAOGUAN_MARKET_USCC}.")
        assert cert["status"] == "valid" and cert["version"] == 1
        assert cert["holder_id_masked"] != OPERATOR_USCC and cert["qr_text"].startswith("YWTB1:")

        # The published key verifies the signature in an independent implementation.
        keys = (await client.get(f"/v1/issuers/{SHAOGUAN_MARKET_USCC}/keys")).json()
        assert keys["seal"]["name"].startswith("韶关市市场监督管理局")
        assert base64.b64decode(keys["seal"]["image_png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"
        doc = dict(cert["document"])
        sig = doc.pop("signature")
        key = next(k for k in keys["keys"] if k["kid"] == sig["kid"])
        gm = gmssl_from_public_pem(key["public_key_pem"])
        assert gm.verify_with_sm3(base64.b64decode(sig["sig"]).hex(), canonical_json(doc))
        doc["face"] = doc["face"] | {"operator_name": "别人家"}
        assert not gm.verify_with_sm3(base64.b64decode(sig["sig"]).hex(), canonical_json(doc))

        assert not await _bit(client, "suspension", index)
        r = await client.post(f"/v1/certificates/{cid}/suspend", json={}, headers=staff)
        assert r.status_code == 422 and problem(r)["type"].endswith("reason-required")
        r = await client.post(
            f"/v1/certificates/{cid}/suspend", json={"reason": "挂失"}, headers=staff
        )
        assert r.status_code == 200 and r.json()["status"] == "suspended"
        assert await _bit(client, "suspension", index)
        r = await client.post(
            f"/v1/certificates/{cid}/resume", json={"reason": "找回"}, headers=staff
        )
        assert r.json()["status"] == "valid"
        assert not await _bit(client, "suspension", index)

        # 变更: a new version; the old one is superseded and its revocation bit set.
        r = await client.post(
            f"/v1/certificates/{cid}/versions",
            json={
                "face": food_face(business_premises="韶关市武江区新华南路2号"),
                "reason": "地址变更",
            },
            headers=staff,
        )
        assert r.status_code == 201, r.text
        new = r.json()
        assert new["version"] == 2 and new["certificate_id"] != cid
        new_index = int(new["credential_status"][0]["statusListIndex"])
        assert new_index != index
        old = (await client.get(f"/v1/certificates/{cid}", headers=staff)).json()
        assert old["status"] == "superseded" and old["superseded_by"] == new["certificate_id"]
        assert [c["transition"] for c in old["history"]] == [
            "issue",
            "suspend",
            "resume",
            "supersede",
        ]
        assert old["history"][1]["reason"] == "挂失" and old["history"][1]["actor"]
        assert await _bit(client, "revocation", index)
        assert not await _bit(client, "revocation", new_index)
        r = await client.post(f"/v1/certificates/{cid}/revoke", json={"reason": "x"}, headers=staff)
        assert r.status_code == 409 and problem(r)["type"].endswith("not-allowed")

        nid = new["certificate_id"]
        r = await client.post(
            f"/v1/certificates/{nid}/revoke", json={"reason": "违法经营"}, headers=staff
        )
        assert r.json()["status"] == "revoked"
        assert await _bit(client, "revocation", new_index)

        # Key rotation: the old key stays published, so the old version still verifies.
        r = await client.post(f"/v1/issuers/{SHAOGUAN_MARKET_USCC}/keys/rotate", headers=staff)
        assert r.status_code == 200
        keys = (await client.get(f"/v1/issuers/{SHAOGUAN_MARKET_USCC}/keys")).json()["keys"]
        assert len(keys) == 2 and sum(k["current"] for k in keys) == 1
        assert any(k["kid"] == sig["kid"] and k["retired_at"] for k in keys)
        # The status list is now signed by the new key (the cached one is not served).
        current = next(k["kid"] for k in keys if k["current"])
        listed = await client.get(f"/v1/status-lists/{SHAOGUAN_MARKET_USCC}/revocation")
        assert listed.json()["proof"]["kid"] == current != sig["kid"]
        assert await _bit(client, "revocation", new_index)

    types = [f["type"] for f in await h.facts()]
    assert types == [
        "hub.cert.issued",
        "hub.cert.status_changed",
        "hub.cert.status_changed",
        "hub.cert.status_changed",
        "hub.cert.changed",
        "hub.cert.status_changed",
    ]
    changed = (await h.facts("hub.cert.changed"))[0]
    assert changed["previous_certificate_id"] == cid and changed["reason"] == "地址变更"


async def test_issuing_is_denied_by_default_and_idempotent_per_case(
    pg: DatabaseFactory, issuer: TestIssuer
) -> None:
    h = await certs_app(pg, issuer)
    staff = bearer(issuer.staff(SHAOGUAN_MARKET_USCC, ["certs-issuer"]))
    stranger = bearer(issuer.staff(OTHER_ORG, ["certs-issuer"]))
    case_no = "11440200MB2C12345W0001170080000" + "20260302" + "0001"  # 办件编号, 43 chars
    body = {"type_code": FOOD_LICENCE.type_code, "face": food_face(), "case_no": case_no}
    async with serve(h.app) as client:
        assert (await client.post("/v1/certificates", json=body)).status_code == 401
        citizen = bearer(issuer.citizen("ref-1"))
        assert (
            await client.post("/v1/certificates", json=body, headers=citizen)
        ).status_code == 403
        r = await client.post("/v1/certificates", json=body, headers=stranger)
        assert r.status_code == 403 and problem(r)["type"].endswith("issuer-not-allowed")

        bad = body | {"face": food_face(licence_no="JY1", uscc="nope")}
        r = await client.post("/v1/certificates", json=bad, headers=staff)
        assert r.status_code == 422
        paths = {e["path"] for e in problem(r)["errors"]}
        assert {"/licence_no", "/uscc"} <= paths

        first = await client.post("/v1/certificates", json=body, headers=staff)
        again = await client.post("/v1/certificates", json=body, headers=staff)
        assert first.status_code == 201 and again.status_code == 200
        assert first.json()["certificate_id"] == again.json()["certificate_id"]

        # Bad input of every kind is a problem, never a 500.
        for method, url, payload in [
            ("post", "/v1/certificates", {"type_code": "x" * 30, "face": {}}),
            ("post", "/v1/certificates", {"type_code": FOOD_LICENCE.type_code, "face": []}),
            ("post", "/v1/certificates", {"type_code": FOOD_LICENCE.type_code}),
            ("post", "/v1/certificates/nonsense/suspend", {"reason": "x"}),
            ("post", "/v1/certificates/nonsense/explode", {"reason": "x"}),
            ("post", "/v1/certificates/nonsense/versions", {"face": {}, "reason": "x"}),
            ("get", "/v1/certificates/" + "9" * 200, None),
            ("get", "/v1/status-lists/bad/revocation", None),
            ("get", f"/v1/status-lists/{SHAOGUAN_MARKET_USCC}/bogus", None),
            ("get", "/v1/status-lists/91440203MA4UP12345/revocation", None),
            ("get", "/v1/issuers/91440203MA4UP12345/keys", None),
            ("post", "/v1/pending/0/issue", {"face": {}}),
            ("post", "/v1/pending/99/issue", {"face": {}}),
        ]:
            r = await client.request(method, url, json=payload, headers=staff)
            assert 400 <= r.status_code < 500, (url, r.status_code, r.text)
            problem(r)
