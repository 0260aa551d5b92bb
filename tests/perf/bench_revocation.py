"""Cost of the revocation check on a cases read (real processes, PostgreSQL): requests/s
of ``GET /v1/cases/{办件编号}`` and ``GET /v1/me/cases`` for an L3 citizen, straight at
the cases process, with introspection on every request (the default,
``HUB_AUTH_INTROSPECTION_CACHE_SECONDS=0``), with a 1 s cache, and with the answer cached
for the whole run (≈ no check: the baseline)."""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import httpx
import pytest

from hub.broker import LocalBroker
from services.identity import seed
from tests.cases.factory import at, case_no, event_data, impl_code, matter_data, natural
from tests.cases.support import cases_app
from tests.e2e.test_revocation import login, set_level
from tests.perf.conftest import record, write_doc_section
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess

CODE = impl_code("11440300000000001R", 3)
N_REQUESTS = 400
CONCURRENCY = 8
MODES = {"no check (cached for the run)": "3600", "1 s cache": "1", "every request": "0"}


async def rate(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> float:
    for _ in range(20):  # warm-up
        assert (await client.get(url, headers=headers)).status_code == 200

    async def worker(n: int) -> None:
        for _ in range(n):
            r = await client.get(url, headers=headers)
            assert r.status_code == 200, r.text

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(N_REQUESTS // CONCURRENCY) for _ in range(CONCURRENCY)))
    return N_REQUESTS / (time.perf_counter() - t0)


@pytest.mark.timeout(1500)
async def test_bench_revocation_check(
    pg: DatabaseFactory, broker: LocalBroker, log_dir: Path
) -> None:
    identity_db = await pg.create("bench_revoke_identity")
    migrate("identity", identity_db)
    await seed.seed_demo(identity_db)
    await set_level(identity_db, "L3")
    service_secret = secrets.token_urlsafe(24)
    await seed.ensure_service_client(identity_db, service_secret)

    # A few cases of the demo citizen (default PII keys, as the processes use).
    h = await cases_app(pg)
    await h.matter(matter_data(CODE, promised=10))
    numbers = [case_no(CODE, at("2026-03-02T09:00").date(), i) for i in range(1, 6)]
    for number in numbers:
        await h.receive(
            event_data(number, "submitted", at("2026-03-02T09:00"), seq=1,
                       applicant=natural(seed.CITIZEN_ID, "张三")),
            now=at("2026-03-02T09:00"),
        )  # fmt: skip
    cases_db = h.hub.settings.database_url
    await h.hub.db.dispose()

    identity = AppProcess("identity", "services.identity.app:create_app", {}, log_dir)
    identity.env = {
        "HUB_DATABASE_URL": identity_db,
        "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HUB_AUTH_ISSUER": identity.url,
        "HUB_LOG_LEVEL": "WARNING",
    }
    identity.start(wait="/readyz")
    figures: dict[str, object] = {"requests": N_REQUESTS, "concurrency": CONCURRENCY}
    try:
        async with httpx.AsyncClient(timeout=30) as browser:
            token = (await login(identity.url, browser, fresh=True))["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        for label, cache in MODES.items():
            cases = AppProcess(
                "cases-bench",
                "services.cases.app:create_app",
                {
                    "HUB_DATABASE_URL": cases_db,
                    "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
                    "HUB_AUTH_ISSUER": identity.url,
                    "HUB_AUTH_JWKS_URL": f"{identity.url}/jwks",
                    "HUB_AUTH_CLIENT_ID": seed.SERVICE_CLIENT_ID,
                    "HUB_AUTH_CLIENT_SECRET": service_secret,
                    "HUB_AUTH_INTROSPECTION_CACHE_SECONDS": cache,
                    "HUB_LOG_LEVEL": "WARNING",
                },
                log_dir,
            )
            cases.start(wait="/readyz")
            try:
                async with httpx.AsyncClient(base_url=cases.url, timeout=30) as client:
                    detail = await rate(client, f"/v1/cases/{numbers[0]}", auth)
                    mine = await rate(client, "/v1/me/cases", auth)
            finally:
                cases.stop()
            figures[label] = {"case_detail_per_s": round(detail), "my_cases_per_s": round(mine)}
            print(f"{label}: {figures[label]}", flush=True)
    finally:
        identity.stop()
    record("revocation", figures)
    rows = "\n".join(
        f"| {label} | {v['case_detail_per_s']} | {v['my_cases_per_s']} |"  # type: ignore[index]
        for label, v in figures.items()
        if isinstance(v, dict)
    )
    write_doc_section(
        "Revocation check on cases reads",
        "## Revocation check on cases reads\n\n"
        "`tests/perf/bench_revocation.py`: an L3 citizen's token, "
        f"{N_REQUESTS} reads per route with {CONCURRENCY} concurrent clients straight at "
        "the cases process; identity (its `/introspect`), cases, PostgreSQL and the "
        "load generator share this 2-core machine. The check is `require_active_token` "
        "(scope, assurance, then introspection with the services' client).\n\n"
        "| introspection | `GET /v1/cases/{办件编号}` req/s | `GET /v1/me/cases` req/s |\n"
        "|---|---|---|\n" + rows + "\n",
    )
