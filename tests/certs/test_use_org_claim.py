"""The calling org of 授权用证 comes from the registration: ``hub systems onboard --org X
--scope certs:use`` stores the org at identity, whose client-credentials tokens carry it as
the ``orgs`` claim; the token request cannot add or change it."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

from typer.testing import CliRunner

from hub.cli import app as hub_cli
from tests.certs.test_api_use import OTHER, SCHOOL
from tests.identity.support import ISSUER as IDENTITY_ISSUER
from tests.identity.support import identity_env
from tests.support.apps import migrate
from tests.support.postgres import DatabaseFactory


def _claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))  # type: ignore[no-any-return]


async def test_onboarded_system_tokens_carry_its_registered_org(pg: DatabaseFactory) -> None:
    identity_url = await pg.create("certsuse_identity")
    gateway_url = await pg.create("certsuse_gateway")
    migrate("gateway", gateway_url)
    migrate("identity", identity_url)
    args = ["systems", "onboard", "--name", "韶关市某中学人事系统", "--org", SCHOOL]
    args += ["--scope", "certs:use", "--identity-database-url", identity_url]
    args += ["--gateway-database-url", gateway_url]
    done = await asyncio.to_thread(CliRunner().invoke, hub_cli, args)
    assert done.exit_code == 0, done.output
    creds = json.loads(done.output)
    assert creds["scope"] == "certs:use" and creds["orgs"] == [SCHOOL]

    async with identity_env(identity_url) as env:
        r = await env.http.post(
            f"{IDENTITY_ISSUER}/token",
            auth=(creds["client_id"], creds["client_secret"]),
            # Asking for another org changes nothing: the claim is the registration's.
            data={"grant_type": "client_credentials", "scope": "certs:use", "orgs": OTHER},
        )
        assert r.status_code == 200, r.text
        claims = _claims(r.json()["access_token"])
        assert claims["sub_type"] == "client" and claims["scope"] == "certs:use"
        assert claims["orgs"] == [SCHOOL]
        # A scope it was not registered for is refused.
        r = await env.http.post(
            f"{IDENTITY_ISSUER}/token",
            auth=(creds["client_id"], creds["client_secret"]),
            data={"grant_type": "client_credentials", "scope": "cases:push"},
        )
        assert r.status_code in (400, 401), r.text
