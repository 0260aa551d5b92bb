"""Every process of the hub starts for real (PostgreSQL, broker, migrations) and answers
health, readiness and OpenAPI, directly and through the gateway."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.broker import LocalBroker
from hub.registry import ALL_PROCESSES, GATEWAY, SERVICES
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess, wait_until

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def hub_processes(
    pg: DatabaseFactory, broker: LocalBroker, log_dir: Path
) -> Iterator[dict[str, AppProcess]]:
    procs: dict[str, AppProcess] = {}
    for spec in SERVICES:
        url = pg.create_sync(f"sk_{spec.name}")
        migrate(spec.name, url)
        procs[spec.name] = AppProcess(
            spec.name,
            spec.app_factory,
            {
                "HUB_DATABASE_URL": url,
                "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            },
            log_dir,
        )
    gateway_url = pg.create_sync("sk_gateway")
    migrate(GATEWAY.name, gateway_url)
    procs[GATEWAY.name] = AppProcess(
        GATEWAY.name,
        GATEWAY.app_factory,
        {
            "HUB_DATABASE_URL": gateway_url,
            "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "HUB_UPSTREAMS": json.dumps({s.name: procs[s.name].url for s in SERVICES}),
        },
        log_dir,
    )
    try:
        for p in procs.values():
            p.start(wait="")
        for p in procs.values():
            p.wait_http("/readyz", timeout=60)
        yield procs
    finally:
        for p in procs.values():
            p.stop()


def test_every_process_is_alive_and_ready(hub_processes: dict[str, AppProcess]) -> None:
    assert set(hub_processes) == {p.name for p in ALL_PROCESSES}
    for name, proc in hub_processes.items():
        # Ready as soon as the database answers; "ready" (not "degraded") once the
        # relay is connected to the broker too.
        wait_until(
            lambda p=proc: httpx.get(f"{p.url}/readyz", timeout=10).json()["status"] == "ready",
            timeout=60,
            message=f"{name} never connected to the broker",
        )
        ready = httpx.get(f"{proc.url}/readyz", timeout=10).json()
        assert ready["checks"] == {"database": "ok", "broker": "ok"}, name
        assert ready["outbox"]["parked"] == 0, name


@pytest.mark.parametrize("service", [s.name for s in SERVICES])
def test_each_service_answers_through_the_gateway(
    hub_processes: dict[str, AppProcess], service: str
) -> None:
    gw = hub_processes[GATEWAY.name].url
    assert httpx.get(f"{gw}/api/{service}/healthz", timeout=10).json()["status"] == "ok"
    assert httpx.get(f"{gw}/api/{service}/readyz", timeout=10).status_code == 200
    doc = httpx.get(f"{gw}/api/{service}/openapi.json", timeout=10).json()
    assert doc["openapi"].startswith("3.")
    assert "/healthz" in doc["paths"]


def test_readiness_reports_an_unreachable_database(broker: LocalBroker, log_dir: Path) -> None:
    proc = AppProcess(
        "cases-nodb",
        "services.cases.app:create_app",
        {
            "HUB_DATABASE_URL": "postgresql+asyncpg://postgres@127.0.0.1:1/none",
            "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        },
        log_dir,
    )
    proc.start()
    try:
        r = httpx.get(f"{proc.url}/readyz", timeout=15)
        assert r.status_code == 503
        assert r.json()["checks"]["database"].startswith("unreachable")
    finally:
        proc.stop()
