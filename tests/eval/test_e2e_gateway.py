"""好差评 end to end through real processes (identity, eval and the gateway on PostgreSQL,
configured as `make run` does, with its demo data): the demo citizen logs in at L3 through
the gateway, finds the seeded invitation, rates the 办件 once (the second rating on the
channel is 409), and the public figures count it — with no personal data in any answer or
log."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from hub.broker import LocalBroker
from services.eval import seed as eval_seed
from services.identity import seed
from tests.e2e.test_revocation import login, set_level
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess

pytestmark = [pytest.mark.e2e, pytest.mark.asyncio(loop_scope="session")]


@pytest.fixture(scope="module")
def stack(pg: DatabaseFactory, broker: LocalBroker, log_dir: Path) -> Iterator[tuple[str, str]]:
    dbs = {name: pg.create_sync(f"e2e_eval_{name}") for name in ("identity", "eval", "gateway")}
    for name, url in dbs.items():
        migrate(name, url)
    asyncio.run(seed.seed_demo(dbs["identity"]))
    asyncio.run(eval_seed.seed_demo(dbs["eval"]))
    service_secret = secrets.token_urlsafe(24)
    asyncio.run(seed.ensure_service_client(dbs["identity"], service_secret))
    identity = AppProcess("identity", "services.identity.app:create_app", {}, log_dir)
    evals = AppProcess("eval", "services.eval.app:create_app", {}, log_dir)
    gateway = AppProcess("gateway", "gateway.app:create_app", {}, log_dir)
    issuer = f"{gateway.url}/api/identity"
    resource = {
        "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HUB_AUTH_ISSUER": issuer,
        "HUB_AUTH_JWKS_URL": f"{identity.url}/jwks",
        "HUB_AUTH_CLIENT_ID": seed.SERVICE_CLIENT_ID,
        "HUB_AUTH_CLIENT_SECRET": service_secret,
    }
    identity.env = {
        "HUB_DATABASE_URL": dbs["identity"],
        "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
        "HUB_AUTH_ISSUER": issuer,
        "HUB_PUBLIC_BASE_URL": gateway.url,
    }
    evals.env = {**resource, "HUB_DATABASE_URL": dbs["eval"]}
    gateway.env = {
        **resource,
        "HUB_DATABASE_URL": dbs["gateway"],
        "HUB_UPSTREAMS": json.dumps({"identity": identity.url, "eval": evals.url}),
        "HUB_INTAKE_POLL_INTERVAL": "3600",
    }
    procs = (identity, evals, gateway)
    try:
        for p in procs:
            p.start(wait="")
        for p in procs:
            p.wait_http("/readyz", timeout=90)
        yield gateway.url, dbs["identity"]
    finally:
        for p in reversed(procs):
            p.stop()
        for p in procs:
            assert seed.CITIZEN_ID not in p.log_text(), f"full ID number in {p.name} log"


async def test_the_demo_citizen_rates_the_demo_case(stack: tuple[str, str]) -> None:
    gw, identity_db = stack
    await set_level(identity_db, "L3")
    async with httpx.AsyncClient(timeout=15) as browser:
        token = await login(f"{gw}/api/identity", browser, fresh=True)
        auth = {"authorization": f"Bearer {token['access_token']}"}
        invited = await browser.get(f"{gw}/api/eval/v1/me/invitations", headers=auth)
        assert invited.status_code == 200, invited.text
        assert [(i["case_no"], i["open"]) for i in invited.json()["items"]] == [
            (eval_seed.DEMO_CASE, True)
        ]
        body = {
            "case_no": eval_seed.DEMO_CASE,
            "channel": "pc",
            "level": 5,
            "indicators": {"overall": 5, "efficiency": 5},
        }
        rated = await browser.post(f"{gw}/api/eval/v1/evaluations", json=body, headers=auth)
        assert rated.status_code == 201, rated.text
        again = await browser.post(f"{gw}/api/eval/v1/evaluations", json=body, headers=auth)
        assert again.status_code == 409
        assert again.headers["content-type"].startswith("application/problem+json")
        anonymous = await browser.get(f"{gw}/api/eval/v1/me/invitations")
        assert anonymous.status_code == 401
        figures = await browser.get(f"{gw}/api/eval/v1/statistics", params={"group_by": "matter"})
        assert figures.status_code == 200
        [group] = figures.json()["groups"]
        assert group["key"] == eval_seed.DEMO_CODE and group["counts"]["total"] == 1
        assert group["satisfaction_rate"] == 1.0
        for answer in (invited, rated, figures):
            assert seed.CITIZEN_ID not in answer.text
