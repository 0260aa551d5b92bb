"""Cost of the revocation check on a cases read (real processes, PostgreSQL): requests/s
of ``GET /v1/cases/{办件编号}`` and ``GET /v1/me/cases`` for an L3 citizen, straight at
the cases process, with introspection on every request (the default,
``HUB_AUTH_INTROSPECTION_CACHE_SECONDS=0``), with a 1 s cache, and with the answer cached
for the whole run (≈ no check: the baseline)."""

from __future__ import annotations

import asyncio
import secrets
import statistics
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
N_SEQUENTIAL = 150
ROUNDS = 2
CONCURRENCY = 8
NUMBERS = [case_no(CODE, at("2026-03-02T09:00").date(), i) for i in range(1, 6)]
MODES = {"no check (cached for the run)": "3600", "every request (default)": "0", "1 s cache": "1"}


async def rate(client: httpx.AsyncClient, url: str, tokens: list[str]) -> float:
    """Requests/s with one worker per token (distinct users: no shared flights)."""
    for token in tokens:  # warm-up
        assert (await client.get(url, headers=bearer(token))).status_code == 200

    async def worker(token: str, n: int) -> None:
        for _ in range(n):
            r = await client.get(url, headers=bearer(token))
            assert r.status_code == 200, r.text

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(t, N_REQUESTS // len(tokens)) for t in tokens))
    return N_REQUESTS / (time.perf_counter() - t0)


async def latency_ms(client: httpx.AsyncClient, url: str, token: str) -> float:
    """Median of sequential reads (one at a time: less sensitive to a busy machine)."""
    times = []
    for _ in range(N_SEQUENTIAL):
        t0 = time.perf_counter()
        assert (await client.get(url, headers=bearer(token))).status_code == 200
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


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
    for number in NUMBERS:
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
        tokens = []
        for _ in range(CONCURRENCY):  # distinct logins: distinct tokens, as many users
            async with httpx.AsyncClient(timeout=30) as browser:
                tokens.append((await login(identity.url, browser, fresh=True))["access_token"])
        runs: dict[str, list[dict[str, float]]] = {label: [] for label in MODES}
        for _ in range(ROUNDS):  # modes interleaved: the machine's load drifts
            for label, cache in MODES.items():
                runs[label].append(await measure(cases_db, identity.url, cache, tokens, log_dir,
                                                 service_secret, broker.bootstrap))  # fmt: skip
                print(f"{label}: {runs[label][-1]}", flush=True)
        for label, got in runs.items():
            best = {k: (min if k.endswith("_ms") else max)(r[k] for r in got) for k in got[0]}
            figures[label] = {k: round(v, 1) for k, v in best.items()}
    finally:
        identity.stop()
    record("revocation", figures)
    rows = "\n".join(
        f"| {label} | {v['detail_per_s']} | {v['mine_per_s']} | {v['detail_p50_ms']} |"  # type: ignore[index]
        for label, v in figures.items()
        if isinstance(v, dict)
    )
    write_doc_section(
        "Revocation check on cases reads",
        "## Revocation check on cases reads\n\n"
        "`tests/perf/bench_revocation.py`: an L3 citizen's reads straight at the cases "
        f"process — {N_REQUESTS} per route from {CONCURRENCY} concurrent clients, each with "
        f"its own token (distinct logins, so no shared introspection), and {N_SEQUENTIAL} "
        "sequential reads for the median latency; best of "
        f"{ROUNDS} interleaved rounds. Identity (its `/introspect`), cases, PostgreSQL "
        "and the load generator share this 2-core machine with other work, so the "
        "figures are noisy. The check is `require_active_token` (scope, assurance, then "
        'introspection with the services\' client; "no check" = the answer cached for '
        "the run, i.e. one introspection per token).\n\n"
        "| introspection | `GET /v1/cases/{办件编号}` req/s | `GET /v1/me/cases` req/s "
        "| case read p50 ms (sequential) |\n"
        "|---|---|---|---|\n" + rows + "\n",
    )


async def measure(
    cases_db: str,
    issuer: str,
    cache: str,
    tokens: list[str],
    log_dir: Path,
    service_secret: str,
    bootstrap: str,
) -> dict[str, float]:
    cases = AppProcess(
        "cases-bench",
        "services.cases.app:create_app",
        {
            "HUB_DATABASE_URL": cases_db,
            "HUB_KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "HUB_AUTH_ISSUER": issuer,
            "HUB_AUTH_JWKS_URL": f"{issuer}/jwks",
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
            detail = f"/v1/cases/{NUMBERS[0]}"
            return {
                "detail_per_s": await rate(client, detail, tokens),
                "mine_per_s": await rate(client, "/v1/me/cases", tokens),
                "detail_p50_ms": await latency_ms(client, detail, tokens[0]),
            }
    finally:
        cases.stop()
