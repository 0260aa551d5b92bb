"""Schemathesis over every process's OpenAPI document, through the real gateway.

The whole hub runs as real processes (PostgreSQL, the local broker, the province 实名核验
simulator) with `make run`'s demo data. Each exported document in ``contracts/openapi/``
is fuzzed through the gateway as four callers — anonymous, a citizen at L3, staff and a
county system — with the check ``not_a_server_error``: no input, however malformed, and
no caller, however unentitled, may get a 5xx. Tokens are real (issued and recorded by
identity), so revocation checks see them as any caller's.

Not part of ``make test``: ``make fuzz`` runs it (and ``.ci/run`` calls ``make fuzz``) with
a bounded example count, ``HUB_FUZZ_MAX_EXAMPLES`` per operation (default 25).
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from hub.broker import LocalBroker
from hub.registry import ALL_PROCESSES, GATEWAY
from services.identity import seed as identity_seed
from services.identity.accounts import create_staff
from services.identity.core import build_core
from services.identity.settings import IdentitySettings
from services.matters import seed as matters_seed
from services.matters.demo_catalog import DEPARTMENTS
from services.runtime.db import Database
from services.runtime.settings import PROJECT_ROOT
from tests.peers.province_realname import ProvinceRealName
from tests.support.apps import migrate
from tests.support.oidc import client_token, portal_login
from tests.support.postgres import DatabaseFactory
from tests.support.processes import AppProcess

pytestmark = pytest.mark.e2e

MAX_EXAMPLES = int(os.environ.get("HUB_FUZZ_MAX_EXAMPLES", "25"))
STAFF_USER = "fuzz-staff"
STAFF_PASSWORD = "fuzz-staff-password"
STAFF_ROLES = ["matters-editor", "matters-approver", "cases-supervision", "identity-admin"]
CALLERS = ("anonymous", "citizen", "staff", "county")


@dataclass
class Hub:
    procs: dict[str, AppProcess]

    @property
    def gateway(self) -> str:
        return self.procs[GATEWAY.name].url

    @property
    def issuer(self) -> str:
        return f"{self.gateway}/api/identity"


async def _seed_staff(database_url: str, org: str) -> None:
    settings = IdentitySettings(database_url=database_url)
    db = Database(database_url)
    core = build_core(settings, db, None)
    try:
        async with db.transaction() as session:
            await create_staff(
                session,
                core,
                username=STAFF_USER,
                name="模糊测试",
                password=STAFF_PASSWORD,
                org_uscc=org,
                department="测试科",
                division=None,
                roles=STAFF_ROLES,
                level="L3",  # vouched for by the operator, as an in-person check would
            )
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def hub(pg: DatabaseFactory, broker: LocalBroker, log_dir: Path) -> Iterator[Hub]:
    province = ProvinceRealName()
    province.people[identity_seed.CITIZEN_ID] = "张三"
    province.start()
    urls = {spec.name: pg.create_sync(f"fuzz_{spec.name}") for spec in ALL_PROCESSES}
    for name, url in urls.items():
        migrate(name, url)
    asyncio.run(identity_seed.seed_demo(urls["identity"]))
    asyncio.run(matters_seed.seed_demo(urls["matters"]))
    org = next(iter(DEPARTMENTS.values()))[1]
    asyncio.run(_seed_staff(urls["identity"], org))
    # Resource servers check revocation at identity with the services' client, as in `make run`.
    service_secret = secrets.token_urlsafe(24)
    asyncio.run(identity_seed.ensure_service_client(urls["identity"], service_secret))
    procs = {
        spec.name: AppProcess(spec.name, spec.app_factory, {}, log_dir) for spec in ALL_PROCESSES
    }
    gateway_url = procs[GATEWAY.name].url
    issuer = f"{gateway_url}/api/identity"
    for spec in ALL_PROCESSES:
        procs[spec.name].env = {
            "HUB_SERVICE_NAME": spec.name,
            "HUB_DATABASE_URL": urls[spec.name],
            "HUB_KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "HUB_AUTH_ISSUER": issuer,
            "HUB_AUTH_JWKS_URL": f"{procs['identity'].url}/jwks",
            "HUB_PUBLIC_BASE_URL": gateway_url,
        }
        if spec.name != "identity":
            procs[spec.name].env |= {
                "HUB_AUTH_CLIENT_ID": identity_seed.SERVICE_CLIENT_ID,
                "HUB_AUTH_CLIENT_SECRET": service_secret,
            }
    procs[GATEWAY.name].env |= {
        "HUB_UPSTREAMS": json.dumps(
            {name: p.url for name, p in procs.items() if name != GATEWAY.name}
        ),
        "HUB_REALNAME_PROVINCE_URL": province.url,
        "HUB_REALNAME_APP_KEY": province.app_key,
        "HUB_REALNAME_APP_SECRET": province.app_secret,
        # The fuzzer fails on purpose all the time; the source guard would answer 429 to
        # everything after 20 failures and hide what is behind it.
        "HUB_GUARD_MAX_FAILURES": "1000000",
        "HUB_GUARD_CLIENT_MAX_FAILURES": "1000000",
    }
    try:
        for proc in procs.values():
            proc.start(wait="")
        for proc in procs.values():
            proc.wait_http("/readyz", timeout=90)
        yield Hub(procs)
    finally:
        for proc in procs.values():
            proc.stop()
        province.stop()


async def _token(hub: Hub, caller: str) -> str | None:
    if caller == "anonymous":
        return None
    if caller == "county":
        return await client_token(
            hub.issuer, identity_seed.COUNTY_ID, identity_seed.COUNTY_SECRET, "cases:push"
        )
    username, password = (
        (identity_seed.CITIZEN_ID, identity_seed.CITIZEN_PASSWORD)
        if caller == "citizen"
        else (STAFF_USER, STAFF_PASSWORD)
    )
    token = await portal_login(
        hub.issuer,
        client_id=identity_seed.PORTAL_ID,
        redirect_uri=identity_seed.PORTAL_REDIRECT,
        username=username,
        password=password,
        scope="openid profile cases:read",
        step_up=caller == "citizen",
    )
    return str(token["access_token"])


# Identity last: fuzzing it as a logged-in caller changes that account (a TOTP enrolment
# makes every later password login ask for a second factor).
DOCUMENTS = sorted(
    (PROJECT_ROOT / "contracts" / "openapi").glob("*.json"),
    key=lambda d: (d.stem == "identity", d.stem),
)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("document", DOCUMENTS, ids=[d.stem for d in DOCUMENTS])
def test_no_server_errors(hub: Hub, document: Path, caller: str, tmp_path: Path) -> None:
    token = asyncio.run(_token(hub, caller))
    base = hub.gateway if document.stem == GATEWAY.name else f"{hub.gateway}/api/{document.stem}"
    command = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        str(document),
        "--url",
        base,
        "--checks",
        "not_a_server_error",
        "--max-examples",
        str(MAX_EXAMPLES),
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
        "--seed",
        "20261202",
        "--no-color",
        "--report",
        "junit",
        "--report-dir",
        str(tmp_path),
    ]
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900, cwd=PROJECT_ROOT)
    output = result.stdout + result.stderr
    (tmp_path / "schemathesis.txt").write_text(output)
    # The only check is not_a_server_error: any failure is a 5xx. Schemathesis's own
    # "errors" (a body it cannot serialise, a generator crash) are not the API's fault.
    server_errors = "Failures:" in output or "Server error" in output
    assert not server_errors, f"schemathesis found server errors as {caller}:\n{output[-8000:]}"
    assert "Test cases:" in output, f"schemathesis did not run as {caller}:\n{output[-4000:]}"
    for proc in hub.procs.values():
        assert proc.process is not None and proc.process.poll() is None, f"{proc.name} died"
