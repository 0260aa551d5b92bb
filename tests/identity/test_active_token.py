"""Revocation-sensitive routes (``services.runtime.auth.require_active_token``): the shared
verifier asks identity's ``/introspect`` with the service's own client, caches briefly,
and a revoked 授权代办 or token is refused on the next use after the cache window."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, Depends

from services.identity import accounts, clients
from services.identity.clients import ClientSpec
from services.runtime.app import create_service_app
from services.runtime.auth import (
    Principal,
    TokenIntrospector,
    introspector_from_settings,
    require_active_token,
)
from services.runtime.settings import HubSettings
from tests.identity.support import (
    CITIZEN_ID,
    CITIZEN_PASSWORD,
    ISSUER,
    USCC,
    browser,
    identity_env,
    mark_verified,
    user_tokens,
)

AGENT_ID = "440106199001011235"
CACHE = 0.2


class ResourceSettings(HubSettings):
    """A resource server with its own client (the fields the lead adds to HubSettings)."""

    auth_client_id: str = ""
    auth_client_secret: str = ""
    auth_introspection_url: str = ""
    auth_introspection_cache_seconds: float = 5.0


def _resource_app(settings: HubSettings):  # type: ignore[no-untyped-def]
    router = APIRouter()

    @router.get("/v1/things")
    async def things(
        who: Annotated[Principal, Depends(require_active_token("cases:read"))],
    ) -> dict[str, str | None]:
        return {"sub": who.subject, "actor": (who.actor or {}).get("sub")}

    return create_service_app(
        settings=settings, title="resource", routers=[router], uses_database=False
    )


@pytest.fixture(scope="module")
async def env(pg):
    url = await pg.create("identity_active")
    async with identity_env(url) as e:
        async with e.core.db.transaction() as session:
            _, secret = await clients.create_client(
                session,
                ClientSpec(
                    client_id="cases-service",
                    name="办件服务",
                    grant_types=["client_credentials"],
                    scopes=[],
                    can_introspect=True,
                ),
            )
            e.secrets["cases-service"] = secret or ""
            _, secret = await clients.create_client(
                session,
                ClientSpec(
                    client_id="eval-service",
                    name="好差评服务 (no introspection right)",
                    grant_types=["client_credentials"],
                    scopes=[],
                ),
            )
            e.secrets["eval-service"] = secret or ""
        # Only a verified 法定代表人 grants 授权代办.
        await mark_verified(e.core, CITIZEN_ID)
        async with e.core.db.transaction() as session:
            admin = await accounts.find_by_username(session, e.core, CITIZEN_ID)
            assert admin is not None
            await accounts.create_legal(
                session,
                e.core,
                uscc=USCC,
                name="广州示例科技有限公司",
                password=None,
                admin_account_id=admin.id,
                level="L3",  # confirmed by the legal-person base
            )
            await accounts.create_natural(
                session,
                e.core,
                id_number=AGENT_ID,
                name="李四",
                password="agent password",
                level="L3",
            )
        yield e


def _settings(env, tmp_path, **extra: object) -> ResourceSettings:
    values: dict[str, object] = {
        "service_name": "resource",
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'rs.db'}",
        "kafka_enabled": False,
        "auth_issuer": ISSUER,
        "auth_jwks": json.dumps(env.core.keys.jwks),
        "log_json": True,
    }
    values.update(extra)
    return ResourceSettings(**values)


async def test_revoked_delegation_is_refused_on_next_use(env, tmp_path) -> None:
    app = _resource_app(_settings(env, tmp_path))
    introspector = TokenIntrospector(
        url=f"{ISSUER}/introspect",
        client_id="cases-service",
        client_secret=env.secrets["cases-service"],
        cache_seconds=CACHE,
        http=httpx.AsyncClient(transport=env.transport()),
    )
    app.state.hub.extras["token_introspector"] = introspector
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rs") as rs,
        browser(env) as boss,
        browser(env) as agent,
    ):
        boss_token = (await user_tokens(env, boss, CITIZEN_ID, CITIZEN_PASSWORD))["access_token"]
        granted = await boss.post(
            f"{ISSUER}/v1/legal-persons/{USCC}/delegations",
            headers={"Authorization": f"Bearer {boss_token}"},
            json={
                "agent_id_number": AGENT_ID,
                "scopes": ["cases:read"],
                "ends_at": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
            },
        )
        assert granted.status_code == 201, granted.text
        acting = await user_tokens(
            env, agent, AGENT_ID, "agent password", scope="openid cases:read", act_for=USCC
        )
        auth = {"Authorization": f"Bearer {acting['access_token']}"}

        first = await rs.get("/v1/things", headers=auth)
        assert first.status_code == 200, first.text
        assert first.json()["sub"].startswith("lp") and first.json()["actor"].startswith("np")
        assert introspector.calls == 1
        assert (await rs.get("/v1/things", headers=auth)).status_code == 200
        assert introspector.calls == 1  # answered from the cache

        # Scope is checked locally first: no introspection for a token that lacks it.
        boss_only = {"Authorization": f"Bearer {boss_token}"}
        lacking = await rs.get("/v1/things", headers=boss_only)
        assert lacking.status_code == 403 and introspector.calls == 1

        revoked = await boss.delete(
            f"{ISSUER}/v1/legal-persons/{USCC}/delegations/{granted.json()['id']}",
            headers=boss_only,
        )
        assert revoked.status_code == 200
        await asyncio.sleep(CACHE + 0.05)  # the longest a revoked token survives
        refused = await rs.get("/v1/things", headers=auth)
        assert refused.status_code == 401, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert "revoked" in refused.json()["detail"]
        assert 'error="invalid_token"' in refused.headers["www-authenticate"]
        assert introspector.calls == 2

        # The same for a plain user token revoked at /revoke (its whole grant).
        own = await user_tokens(env, boss, CITIZEN_ID, CITIZEN_PASSWORD, scope="cases:read")
        mine = {"Authorization": f"Bearer {own['access_token']}"}
        assert (await rs.get("/v1/things", headers=mine)).status_code == 200
        await boss.post(
            f"{ISSUER}/revoke", data={"token": own["refresh_token"], "client_id": "portal"}
        )
        await asyncio.sleep(CACHE + 0.05)
        assert (await rs.get("/v1/things", headers=mine)).status_code == 401
    await introspector._http.aclose()  # type: ignore[union-attr]


async def test_introspection_problems_fail_closed_with_503(env, tmp_path) -> None:
    token = (
        await env.http.post(
            f"{ISSUER}/token",
            auth=("county", env.secrets["county"]),
            data={"grant_type": "client_credentials", "scope": "cases:read"},
        )
    ).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}

    # No client credentials configured: the route cannot be served safely.
    app = _resource_app(_settings(env, tmp_path))
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://rs") as rs,
    ):
        r = await rs.get("/v1/things", headers=auth)
        assert r.status_code == 503 and r.json()["type"].endswith("/not-configured")

        async with httpx.AsyncClient(transport=env.transport()) as http:
            # Our own credentials refused by the issuer: 503, not "your token is invalid".
            app.state.hub.extras["token_introspector"] = TokenIntrospector(
                url=f"{ISSUER}/introspect",
                client_id="cases-service",
                client_secret="wrong",
                http=http,
            )
            r = await rs.get("/v1/things", headers=auth)
            assert r.status_code == 503 and r.headers["retry-after"] == "5"
            assert r.json()["type"].endswith("/introspection-unavailable")
            # The issuer unreachable: 503 too.
            app.state.hub.extras["token_introspector"] = TokenIntrospector(
                url="http://127.0.0.1:9/introspect", client_id="x", client_secret="y", timeout=1
            )
            assert (await rs.get("/v1/things", headers=auth)).status_code == 503
            # A client without the introspection right sees only its own tokens:
            # someone else's token reads as inactive.
            app.state.hub.extras["token_introspector"] = TokenIntrospector(
                url=f"{ISSUER}/introspect",
                client_id="eval-service",
                client_secret=env.secrets["eval-service"],
                http=http,
            )
            r = await rs.get("/v1/things", headers=auth)
            assert r.status_code == 401


def test_introspector_settings() -> None:
    settings = ResourceSettings(
        auth_jwks_url="http://identity.internal:8001/jwks",
        auth_client_id="cases-service",
        auth_client_secret="s3cret",
        auth_introspection_cache_seconds=2,
    )
    built = introspector_from_settings(settings)
    assert built is not None
    assert built.url == "http://identity.internal:8001/introspect"
    assert built.cache_seconds == 2.0 and built.client_id == "cases-service"
    explicit = ResourceSettings(
        auth_introspection_url="https://gw/api/identity/introspect",
        auth_client_id="a",
        auth_client_secret="b",
    )
    assert introspector_from_settings(explicit).url == "https://gw/api/identity/introspect"  # type: ignore[union-attr]
    assert introspector_from_settings(ResourceSettings(auth_client_id="a")) is None
    assert introspector_from_settings(HubSettings()) is None
