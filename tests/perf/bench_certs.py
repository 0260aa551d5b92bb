"""Certs at scale (PostgreSQL, the broker): each figure beside a reference from the same run.

- lookup by 证照标识 among ``CERTS_BENCH_N`` certificates (default 1,000,000; the rows are
  clones of one really issued row under distinct identifiers, made by one INSERT … SELECT
  generate_series, since signing a million takes long and the lookup reads by primary key
  whatever the contents) — p50/p95 of the store read, beside ``SELECT 1`` on the same session;
- signature verification per second on one core (JCS + SM2-SM3 of a document; QR payload),
  beside raw tongsuopy SM2 verify of the same bytes;
- issuance per second end to end: ``hub.case.concluded`` records on the broker → signed,
  stored certificates; beside the raw signing rate;
- a 1,048,576-entry status list (the first size ≥ 1,000,000 the lists grow to) served over
  HTTP, cold (signed) and warm (cached), beside GZIP + base64url of the bits alone.
"""

from __future__ import annotations

import asyncio
import base64
import gzip
import os
import random
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select, text

from hub.broker import LocalBroker
from services.certs.domain.canonical import canonical_bytes
from services.certs.domain.qr_payload import encode_qr, verify_qr
from services.certs.domain.signing import sign_version, verify_version
from services.certs.domain.types import FOOD_LICENCE, SHAOGUAN_MARKET_USCC
from services.certs.service.issuance import from_concluded_case
from services.certs.store import repository as repo
from services.certs.store.tables import CertificateRow
from services.runtime.crypto import generate_sm2_keypair, sm2_sign, sm2_verify
from services.runtime.messaging import Envelope
from tests.certs.harness import certs_app
from tests.certs.support import OPERATOR_USCC, food_face, food_version
from tests.perf.conftest import record, write_doc_section
from tests.support.apps import serve
from tests.support.postgres import DatabaseFactory
from tests.support.tokens import TestIssuer, bearer

N_CERTS = int(os.environ.get("CERTS_BENCH_N", "1000000"))
N_LOOKUPS = 3000
N_ISSUE = 600
VERIFY_SECONDS = 3.0
IMPL = f"{SHAOGUAN_MARKET_USCC}0001170080000"


def pct(values: list[float], q: float) -> float:
    return sorted(values)[min(len(values) - 1, int(q * len(values)))] * 1000


def per_second(fn: Any, seconds: float = VERIFY_SECONDS) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def verification() -> dict[str, float]:
    private, public = generate_sm2_keypair()
    version = food_version()
    sig = sign_version(private, public, version)
    data = canonical_bytes(version)
    der = sm2_sign(private, data)
    qr = encode_qr(version, 4242, private, public, int(time.time()))
    assert verify_version(public, version, sig) and sm2_verify(public, data, der)
    return {
        "document verify/s (JCS + SM2-SM3)": per_second(
            lambda: verify_version(public, version, sig)
        ),
        "QR verify/s (Base45 + zlib + COSE + SM2)": per_second(
            lambda: verify_qr(qr, lambda _u, _k: public)
        ),
        "reference: raw tongsuopy SM2 verify/s": per_second(lambda: sm2_verify(public, data, der)),
        "reference: raw SM2 sign + JCS/s": per_second(
            lambda: sign_version(private, public, version)
        ),
    }


def concluded(seq: int) -> dict[str, Any]:
    return {
        "case_no": f"{IMPL}20260302{seq:04d}",
        "implementation_code": IMPL,
        "matter_name": "食品经营许可",
        "case_type": "2",
        "handler": {"org_uscc": SHAOGUAN_MARKET_USCC, "department": "行政审批科"},
        "accepted_at": "2026-03-02T02:00:00+00:00",
        "concluded_at": "2026-03-10T02:00:00+00:00",
        "decision": "approved",
        "certificate_type": FOOD_LICENCE.type_code,
        "certificate_data": food_face(),
        "applicant": {"type": "legal", "id_type": "uscc", "id_ref": OPERATOR_USCC},
    }


async def issuance_rate(pg: DatabaseFactory, broker: LocalBroker) -> dict[str, float]:
    h = await certs_app(
        pg,
        kafka_enabled=True,
        kafka_bootstrap_servers=broker.bootstrap,
        outbox_poll_interval=0.2,
    )
    base = random.randrange(0, 9999 - N_ISSUE - 200)
    ours = [concluded(base + i) for i in range(N_ISSUE)]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    async with serve(h.app):
        await producer.start()
        try:
            for _ in range(100):
                if h.hub.messaging.broker_connected:
                    break
                await asyncio.sleep(0.1)
            # Warm-up: the issuer's key and status lists are made on the first certificate.
            warm = concluded(9999)
            for data in (warm, *ours):
                record = Envelope(
                    id=str(uuid.uuid4()),
                    source="/hub/cases",
                    type="hub.case.concluded",
                    key=data["case_no"],
                    data=data,
                    time=datetime.now(UTC),
                )
                key, value, headers = record.to_kafka()
                await producer.send("hub.cases", value=value, key=key, headers=headers)
                if data is warm:
                    await producer.flush()
                    while not await _issued(h, [warm["case_no"]]):
                        await asyncio.sleep(0.05)
                    t0 = time.perf_counter()
            await producer.flush()
            numbers = [d["case_no"] for d in ours]
            deadline = time.perf_counter() + 600
            while await _issued(h, numbers) < N_ISSUE and time.perf_counter() < deadline:
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - t0
            assert await _issued(h, numbers) == N_ISSUE
        finally:
            await producer.stop()
    # Reference: the same use case called in-process (no broker, no inbox), one transaction each.
    direct = [concluded(base + N_ISSUE + i) for i in range(200) if base + N_ISSUE + i < 9999]
    t0 = time.perf_counter()
    for data in direct:
        async with h.hub.db.transaction() as session:
            assert await from_concluded_case(h.ctx, session, data) == "issued"
    in_process = len(direct) / (time.perf_counter() - t0)
    return {
        "issuance/s from hub.case.concluded (broker → signed, stored)": N_ISSUE / elapsed,
        "reference: issuance/s in-process (same use case, no broker)": in_process,
    }


async def _issued(h: Any, numbers: list[str]) -> int:
    async with h.hub.db.sessionmaker() as s:
        stmt = select(func.count()).where(CertificateRow.case_no.in_(numbers))
        return int(await s.scalar(stmt) or 0)


async def lookup_and_status_list(pg: DatabaseFactory) -> dict[str, Any]:
    issuer = TestIssuer()
    h = await certs_app(pg, issuer)
    staff = bearer(issuer.staff(SHAOGUAN_MARKET_USCC, ["certs-issuer"]))
    async with serve(h.app) as client:
        r = await client.post(
            "/v1/certificates",
            json={"type_code": FOOD_LICENCE.type_code, "face": food_face()},
            headers=staff,
        )
        assert r.status_code == 201, r.text
        real = r.json()["certificate_id"]
        prefix = real.rsplit(".", 3)[0]  # …<type>.<issuer>: clones differ in serial
        t0 = time.perf_counter()
        async with h.hub.db.transaction() as session:
            # Every column of the real row, but a distinct 证照标识 and status index.
            cols = [c.name for c in CertificateRow.__table__.columns]
            values = [
                f"'{prefix}.' || lpad(g::text, 12, '0') || '.001.X'"
                if c == "certificate_id"
                else "g + 200000000"
                if c == "status_index"
                else "NULL"
                if c == "case_no"
                else c
                for c in cols
            ]
            await session.execute(
                text(
                    f"INSERT INTO certificates ({', '.join(cols)}) SELECT {', '.join(values)} "
                    f"FROM certificates, generate_series(1, :n) AS g "
                    f"WHERE certificate_id = :real"
                ),
                {"n": N_CERTS - 1, "real": real},
            )
        generated = time.perf_counter() - t0
        async with h.hub.db.sessionmaker() as session:
            await session.execute(text("ANALYZE certificates"))
            total = int(await session.scalar(select(func.count()).select_from(CertificateRow)))
            ids = [f"{prefix}.{random.randrange(1, N_CERTS):012d}.001.X" for _ in range(N_LOOKUPS)]
            ref, look = [], []
            for cid in ids:
                t = time.perf_counter()
                await session.execute(text("SELECT 1"))
                ref.append(time.perf_counter() - t)
                t = time.perf_counter()
                row = await repo.get_certificate(session, cid)
                look.append(time.perf_counter() - t)
                assert row is not None
                session.expunge(row)
            # The public status page by 证照标识 over HTTP (in-process ASGI; holder masked).
            http = []
            for cid in ids[:500]:
                t = time.perf_counter()
                r = await client.get(f"/v1/verify/{cid}")
                http.append(time.perf_counter() - t)
                assert r.status_code == 200
        # A 1,048,576-entry revocation list with 1 % of the bits set.
        size = 1 << 20
        bits = bytearray(size // 8)
        for i in random.sample(range(size), size // 100):
            bits[i // 8] |= 1 << (7 - i % 8)
        async with h.hub.db.transaction() as session:
            row = await repo.status_list(session, SHAOGUAN_MARKET_USCC, "revocation", lock=True)
            assert row is not None
            row.size, row.bits, row.updated_at = size, bytes(bits), datetime.now(UTC)
            row.used = total
        # Issuance when the issuer already has them all (the list grows once, to 2 Mi).
        at_scale = [concluded(i) for i in range(1, 101)]
        async with h.hub.db.transaction() as session:
            assert await from_concluded_case(h.ctx, session, concluded(0)) == "issued"
        t = time.perf_counter()
        for data in at_scale:
            async with h.hub.db.transaction() as session:
                assert await from_concluded_case(h.ctx, session, data) == "issued"
        issue_at_scale = len(at_scale) / (time.perf_counter() - t)
        async with h.hub.db.transaction() as session:  # back to the 1 Mi list for the GETs
            row = await repo.status_list(session, SHAOGUAN_MARKET_USCC, "revocation", lock=True)
            assert row is not None
            row.size, row.bits, row.updated_at = size, bytes(bits), datetime.now(UTC)
        url = f"/v1/status-lists/{SHAOGUAN_MARKET_USCC}/revocation"
        t = time.perf_counter()
        r = await client.get(url)
        cold = time.perf_counter() - t
        assert r.status_code == 200 and r.json()["credentialSubject"]["encodedList"][0] == "u"
        warm = []
        for _ in range(50):
            t = time.perf_counter()
            assert (await client.get(url)).status_code == 200
            warm.append(time.perf_counter() - t)
    encode = []
    for _ in range(5):
        t = time.perf_counter()
        base64.urlsafe_b64encode(gzip.compress(bytes(bits), mtime=0))
        encode.append(time.perf_counter() - t)
    return {
        "certificates in the table": total,
        "generation (INSERT … SELECT), s": round(generated, 1),
        "lookup by 证照标识 (store read) p50 ms": pct(look, 0.5),
        "lookup by 证照标识 (store read) p95 ms": pct(look, 0.95),
        "reference: SELECT 1 p95 ms": pct(ref, 0.95),
        "GET /v1/verify/{id} (in-process HTTP) p95 ms": pct(http, 0.95),
        "issuance/s in-process with the issuer at that many certificates": issue_at_scale,
        "status list 1,048,576 entries, first GET (sign) ms": cold * 1000,
        "status list 1,048,576 entries, cached GET p95 ms": pct(warm, 0.95),
        "reference: GZIP + base64url of the bits ms": statistics.median(encode) * 1000,
        "status list response bytes": len(r.content),
    }


@pytest.mark.timeout(3600)
async def test_bench_certs(pg: DatabaseFactory, broker: LocalBroker) -> None:
    figures: dict[str, Any] = {}
    figures |= {k: round(v, 1) for k, v in verification().items()}
    figures |= {k: round(v, 1) for k, v in (await issuance_rate(pg, broker)).items()}
    figures |= {
        k: round(v, 2) if isinstance(v, float) else v
        for k, v in (await lookup_and_status_list(pg)).items()
    }
    record("certs", figures)
    rows = "\n".join(f"| {k} | {v} |" for k, v in figures.items() if k != "machine")
    write_doc_section(
        "Certs (电子证照)",
        "## Certs (电子证照)\n\n"
        "`tests/perf/bench_certs.py` (`make bench`; `CERTS_BENCH_N` sets the table size). "
        "One process, 2 shared cores, local PostgreSQL and the in-memory broker. "
        "Targets of issue 10: lookup p95 ≤ 5 ms at 1,000,000, ≥ 2,000 verifications/s on "
        "one core, ≥ 300 issuances/s, a 1,000,000-entry list served in ≤ 50 ms.\n\n"
        "| figure | value |\n|---|---|\n" + rows + "\n",
    )
