"""年检 and the automatic 过期 / overdue-年检 sweep, with their status-list bits and facts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select, text, update

from services.certs.domain.types import (
    FOOD_LICENCE,
    MEDICAL_INSTITUTION_LICENCE,
    SHAOGUAN_HEALTH_USCC,
    SHAOGUAN_MARKET_USCC,
)
from services.certs.service.lifecycle import sweep
from services.certs.store.tables import CertificateRow
from tests.certs.harness import certs_app
from tests.certs.support import OPERATOR_USCC, food_face, spec_decode_bit
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer


@pytest.fixture(scope="module")
def issuer() -> TestIssuer:
    return TestIssuer()


def medical_face(**overrides: Any) -> dict[str, Any]:
    return {
        "institution_name": "韶关市武江区康宁诊所",
        "uscc": OPERATOR_USCC,
        "address": "广东省韶关市武江区新华南路3号",
        "legal_representative": "张三",
        "principal": "张三",
        "ownership": "私有制",
        "departments": ["内科", "外科"],
        "beds": 0,
        "registration_no": "PDY12345644020317D2112",
        "issuing_authority": "韶关市武江区卫生健康局",
    } | overrides


async def test_inspections_and_the_sweep(pg: DatabaseFactory, issuer: TestIssuer) -> None:
    h = await certs_app(pg, issuer)
    health = bearer(issuer.staff(SHAOGUAN_HEALTH_USCC, ["certs-issuer"]))
    market = bearer(issuer.staff(SHAOGUAN_MARKET_USCC, ["certs-issuer"]))
    async with serve(h.app) as client:

        async def bit(purpose: str, index: int) -> bool:
            r = await client.get(f"/v1/status-lists/{SHAOGUAN_HEALTH_USCC}/{purpose}")
            return spec_decode_bit(r.json()["credentialSubject"]["encodedList"], index)

        r = await client.post(
            "/v1/certificates",
            json={"type_code": MEDICAL_INSTITUTION_LICENCE.type_code, "face": medical_face()},
            headers=health,
        )
        assert r.status_code == 201, r.text
        cid = r.json()["certificate_id"]
        index = int(r.json()["credential_status"][0]["statusListIndex"])
        url = f"/v1/certificates/{cid}/inspections"
        r = await client.post(url, json={"passed": False}, headers=health)
        assert r.json()["status"] == "suspended" and await bit("suspension", index)
        r = await client.post(
            f"/v1/certificates/{cid}/resume", json={"reason": "x"}, headers=health
        )
        assert r.status_code == 409 and r.json()["type"].endswith("inspection-required")
        r = await client.post(url, json={"passed": True}, headers=health)
        assert r.json()["status"] == "valid" and not await bit("suspension", index)
        assert r.json()["history"][-1]["reason"] == "passed"

        r = await client.post(
            "/v1/certificates",
            json={"type_code": FOOD_LICENCE.type_code, "face": food_face()},
            headers=market,
        )
        food = r.json()["certificate_id"]
        r = await client.post(
            f"/v1/certificates/{food}/inspections", json={"passed": True}, headers=market
        )
        assert r.status_code == 409 and r.json()["type"].endswith("no-inspection")
        r = await client.post(url, json={"passed": "maybe"}, headers=health)
        assert r.status_code == 422

        # A day past the validity / the 年检 due date: the sweep records both, once.
        async with h.hub.db.transaction() as session:
            await session.execute(
                update(CertificateRow)
                .where(CertificateRow.certificate_id == food)
                .values(valid_until=dt.date(2020, 1, 1))
            )
            await session.execute(
                update(CertificateRow)
                .where(CertificateRow.certificate_id == cid)
                .values(inspection_due=dt.date(2020, 1, 1))
            )
        assert await sweep(h.ctx, h.hub.db) == 2
        assert await sweep(h.ctx, h.hub.db) == 0
        got = (await client.get(f"/v1/certificates/{food}", headers=market)).json()
        assert got["status"] == "expired" and got["history"][-1]["actor"] == "system"
        got = (await client.get(f"/v1/certificates/{cid}", headers=health)).json()
        assert got["status"] == "suspended" and await bit("suspension", index)
    transitions = [f["transition"] for f in await h.facts("hub.cert.status_changed")]
    assert transitions == ["inspect", "inspect", "expire", "inspect"] or transitions == [
        "inspect",
        "inspect",
        "inspect",
        "expire",
    ]


async def test_status_lists_grow_before_half_full(pg: DatabaseFactory, issuer: TestIssuer) -> None:
    """65,535 versions of one issuer already there: the next one doubles both lists, keeps
    the bits already set, and takes an index from the larger range."""
    h = await certs_app(pg, issuer)
    market = bearer(issuer.staff(SHAOGUAN_MARKET_USCC, ["certs-issuer"]))
    async with serve(h.app) as client:

        async def listed(purpose: str) -> dict[str, Any]:
            r = await client.get(f"/v1/status-lists/{SHAOGUAN_MARKET_USCC}/{purpose}")
            return r.json()["credentialSubject"]

        async def issue() -> dict[str, Any]:
            r = await client.post(
                "/v1/certificates",
                json={"type_code": FOOD_LICENCE.type_code, "face": food_face()},
                headers=market,
            )
            assert r.status_code == 201, r.text
            return r.json()

        first = await issue()
        index = int(first["credential_status"][0]["statusListIndex"])
        await client.post(
            f"/v1/certificates/{first['certificate_id']}/suspend",
            json={"reason": "挂失"},
            headers=market,
        )
        # Fill the registry up to half of 131,072 with placeholder versions (one statement).
        async with h.hub.db.transaction() as session:
            await session.execute(
                text(
                    """
                    INSERT INTO certificates (certificate_id, lineage, type_code, type_version,
                      name, number, issuer_uscc, issuer_name, version, holder_kind, holder_ref,
                      holder_name_enc, holder_id_enc, holder_name_masked, holder_id_masked,
                      face_enc, signature, qr_text, status_index, status, inspection_failed,
                      annual_inspection, issued_on, valid_from, created_at, updated_at)
                    SELECT 'filler.' || g, 'filler.' || g, :tc, 1, 'x', 'x', :org, 'x', 1,
                      'legal', 'x', 'x', 'x', 'x', 'x', 'x', '{}', 'x', g, 'valid', false,
                      false, DATE '2026-01-01', DATE '2026-01-01', now(), now()
                    FROM generate_series(0, 65535) AS g WHERE g <> :taken LIMIT 65534
                    """
                ),
                {"tc": FOOD_LICENCE.type_code, "org": SHAOGUAN_MARKET_USCC, "taken": index},
            )
            # Issuance keeps the count of taken indices on the list row: as it would have.
            await session.execute(
                text("UPDATE status_lists SET used = used + 65534 WHERE issuer_uscc = :org"),
                {"org": SHAOGUAN_MARKET_USCC},
            )
        assert len(spec_bits(await listed("suspension"))) == 131_072
        second = await issue()
        suspension = await listed("suspension")
        assert len(spec_bits(suspension)) == 262_144 == len(spec_bits(await listed("revocation")))
        assert spec_decode_bit(suspension["encodedList"], index)
        new_index = int(second["credential_status"][0]["statusListIndex"])
        async with h.hub.db.sessionmaker() as session:
            holders = await session.scalar(
                select(func.count()).where(CertificateRow.status_index == new_index)
            )
        assert new_index != index and holders == 1
        assert not spec_decode_bit(suspension["encodedList"], new_index)


def spec_bits(subject: dict[str, Any]) -> str:
    import base64
    import gzip

    data = subject["encodedList"][1:]
    raw = gzip.decompress(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))
    return "".join(f"{b:08b}" for b in raw)
