"""Verification for anyone: QR text or certificate JSON → valid / suspended / revoked /
expired / superseded with reasons; a public Chinese HTML page with the holder masked."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import update

from services.certs.domain.types import SHAOGUAN_EDUCATION_USCC, TEACHER_QUALIFICATION
from services.certs.store.tables import CertificateRow
from tests.certs.harness import certs_app, citizen_id, teacher_face
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


async def test_verify_answers_every_status(pg: DatabaseFactory, issuer: TestIssuer) -> None:
    h = await certs_app(pg, issuer)
    staff = bearer(issuer.staff(SHAOGUAN_EDUCATION_USCC, ["certs-issuer"]))
    holder_id = citizen_id(31)

    async with serve(h.app) as client:

        async def issue(n: int) -> dict:
            face = teacher_face(holder_id, certificate_no=f"2026440014100{n:04d}")
            r = await client.post(
                "/v1/certificates",
                json={"type_code": TEACHER_QUALIFICATION.type_code, "face": face},
                headers=staff,
            )
            assert r.status_code == 201, r.text
            return r.json()

        async def verify(cert: dict) -> tuple[dict, dict]:
            by_qr = (await client.post("/v1/verify", json={"qr": cert["qr_text"]})).json()
            by_doc = await client.post("/v1/verify", json={"certificate": cert["document"]})
            assert by_doc.status_code == 200, by_doc.text
            return by_qr, by_doc.json()

        certs = [await issue(n) for n in range(5)]
        valid, suspended, revoked, superseded, expired = certs
        for cert in certs:
            by_qr, by_doc = await verify(cert)
            assert by_qr["result"] == by_doc["result"] == "valid", by_qr
        await client.post(
            f"/v1/certificates/{suspended['certificate_id']}/suspend",
            json={"reason": "挂失"},
            headers=staff,
        )
        await client.post(
            f"/v1/certificates/{revoked['certificate_id']}/revoke",
            json={"reason": "违规"},
            headers=staff,
        )
        r = await client.post(
            f"/v1/certificates/{superseded['certificate_id']}/versions",
            json={"face": teacher_face(holder_id, subject="物理"), "reason": "学科变更"},
            headers=staff,
        )
        newer = r.json()
        async with h.hub.db.transaction() as session:  # a certificate past its last day
            await session.execute(
                update(CertificateRow)
                .where(CertificateRow.certificate_id == expired["certificate_id"])
                .values(valid_until=dt.date(2020, 1, 1))
            )
        for cert, expected in [
            (valid, "valid"),
            (suspended, "suspended"),
            (revoked, "revoked"),
            (superseded, "superseded"),
            (newer, "valid"),
        ]:
            by_qr, by_doc = await verify(cert)
            assert by_qr["result"] == by_doc["result"] == expected, (expected, by_qr, by_doc)
            assert by_qr["reasons"] and by_qr["holder_name_masked"] == "王**"
        assert (await verify(superseded))[0]["superseded_by"] == newer["certificate_id"]
        by_qr = (await client.post("/v1/verify", json={"qr": expired["qr_text"]})).json()
        assert by_qr["result"] == "expired"

        # Tampering: the 照面 changed, or a QR character flipped → invalid, never valid.
        forged = dict(valid["document"])
        forged["face"] = forged["face"] | {"subject": "体育"}
        r = await client.post("/v1/verify", json={"certificate": forged})
        assert r.json()["result"] == "invalid"
        text = valid["qr_text"]
        flipped = text[:-5] + ("A" if text[-5] != "A" else "B") + text[-4:]
        assert (await client.post("/v1/verify", json={"qr": flipped})).json()["result"] == "invalid"

        page = await client.get(f"/v1/verify/{revoked['certificate_id']}")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "已吊销" in page.text and "王**" in page.text and holder_id not in page.text
        page = await client.get(f"/v1/verify/{valid['certificate_id']}")
        assert 'data-status="valid"' in page.text and "有效" in page.text

        for payload in [
            {},
            {"qr": "x", "certificate": {}},
            {"qr": "Y" * 5000},
            {"certificate": {"metadata": {}}},
            {"certificate": valid["document"] | {"signature": {"alg": "RSA"}}},
            {"certificate": "nope"},
        ]:
            r = await client.post("/v1/verify", json=payload)
            assert r.status_code == 422, (payload, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        assert (await client.post("/v1/verify", json={"qr": "garbage"})).json()[
            "result"
        ] == "invalid"
        missing = await client.get("/v1/verify/1.2.156.3005.2.nothing")
        assert missing.status_code == 404
