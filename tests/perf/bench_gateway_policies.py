"""Gateway proxy throughput with and without the front-door policies: requests/s of GET
through real gateway processes to a trivial upstream (another process), with no rate rule
(the edge, guard and idempotency checks that always run), an in-process limiter (a per-
address and a per-client rule on every request) and the same limiter in Redis; the
upstream alone for reference. Load from this process, 16 concurrent connections."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from pathlib import Path

import httpx
import pytest

from hub.broker import LocalBroker
from tests.perf.conftest import record, write_doc_section
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess
from tests.support.tokens import TestIssuer

N = 1500
CONCURRENCY = 16
RULES = [
    {"name": "ip", "path_prefix": "/api/", "limit": 10_000_000, "window": 60, "key": "ip"},
    {"name": "client", "path_prefix": "/api/", "limit": 10_000_000, "window": 60, "key": "client"},
]


async def _rate(url: str, headers: dict[str, str]) -> float:
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=30, headers=headers) as client:
        for _ in range(100):  # warm-up
            assert (await client.get(url)).status_code == 200
        done = 0

        async def worker() -> None:
            nonlocal done
            while done < N:
                done += 1
                r = await client.get(url)
                assert r.status_code == 200, r.text

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return N / (time.perf_counter() - t0)


@pytest.mark.timeout(1200)
def test_bench_gateway_policies(pg: DatabaseFactory, broker: LocalBroker, log_dir: Path) -> None:
    issuer = TestIssuer()
    token = issuer.token(sub="county-a", sub_type="client", client_id="county-a")
    headers = {"authorization": f"Bearer {token}"}
    upstream = AppProcess(
        "bench-upstream", "tests.gateway.policy_support:create_upstream_app", {}, log_dir
    )
    upstream.start(wait="/html")
    db = pg.create_sync("fd_bench")
    migrate("gateway", db)
    base_env = {
        **issuer.env(),
        "HUB_DATABASE_URL": db,
        "HUB_KAFKA_ENABLED": "false",
        "HUB_UPSTREAMS": json.dumps({"up": upstream.url}),
        "HUB_LOG_LEVEL": "WARNING",
    }
    configs = {
        "no rate rule": {"HUB_RATE_LIMITS": "[]"},
        "in-process limiter": {"HUB_RATE_LIMITS": json.dumps(RULES)},
        "Redis limiter": {
            "HUB_RATE_LIMITS": json.dumps(RULES),
            "HUB_REDIS_URL": "redis://127.0.0.1:6379/0",
            "HUB_REDIS_KEY_PREFIX": f"bench:{uuid.uuid4().hex}:",
        },
    }
    figures: dict[str, float] = {}
    try:
        figures["upstream alone"] = asyncio.run(_rate(f"{upstream.url}/echo", headers))
        for name, env in configs.items():
            gateway = AppProcess("bench-gateway", "gateway.app:create_app", {}, log_dir)
            gateway.env = {**base_env, **env}
            gateway.start()
            try:
                figures[name] = asyncio.run(_rate(f"{gateway.url}/api/up/echo", headers))
            finally:
                gateway.stop()
    finally:
        upstream.stop()
    rounded = {k: round(v) for k, v in figures.items()}
    record("gateway_policies", {"requests": N, "concurrency": CONCURRENCY, "req_per_s": rounded})
    base = figures["no rate rule"]
    rows = "\n".join(
        f"| {name} | {round(rate)} req/s | "
        + ("–" if name == "upstream alone" else f"{(rate / base - 1) * 100:+.0f} %")
        + " |"
        for name, rate in figures.items()
    )
    write_doc_section(
        "Gateway front door",
        f"""## Gateway front door

`tests/perf/bench_gateway_policies.py`: {N} GETs with a client token, {CONCURRENCY} concurrent
connections, through a gateway process to a trivial upstream process (load generator,
gateway, upstream, PostgreSQL and Redis share this 2-core machine, so figures are
indicative). "no rate rule" still runs the edge (security headers, CORS, client address),
the guard check and the idempotency check; the limiter rows add two counters (per address,
per client) on every request.

| configuration | throughput | vs no rate rule |
|---|---|---|
{rows}
""",
    )
