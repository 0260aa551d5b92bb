"""Demo data for ``make run`` (idempotent): a portal client, a county client, a verified
citizen (L3, so a newcomer sees their data after logging in) and a verified staff admin."""

from __future__ import annotations

from services.identity import accounts, clients
from services.identity.clients import ClientSpec
from services.identity.core import build_core
from services.identity.secrets import digest
from services.identity.settings import IdentitySettings
from services.identity.store import repo
from services.runtime.db import Database

PORTAL_ID = "demo-portal"
COUNTY_ID = "demo-county"
PORTAL_REDIRECT = "http://127.0.0.1:8080/callback"
CITIZEN_ID = "11010519491231002X"
CITIZEN_PASSWORD = "demo-citizen-pass"
# The county secret is fixed for the demo only (printed by `make run`); real clients get
# random secrets from `hub clients create`.
COUNTY_SECRET = "demo-county-secret-change-me"
STAFF_USERNAME = "demo.admin"
STAFF_PASSWORD = "demo-staff-pass"
STAFF_ORG = "11440203MB2C3D4E57"  # 武江区政务服务数据管理局 (demo)
# The resource servers' own client (cases, gateway, …): may introspect any token.
SERVICE_CLIENT_ID = "hub-services"


async def seed_demo(database_url: str) -> list[str]:
    settings = IdentitySettings(database_url=database_url)
    db = Database(settings.resolved_database_url())
    core = build_core(settings, db, None)
    try:
        async with db.transaction() as session:
            if await repo.client(session, PORTAL_ID) is None:
                await clients.create_client(
                    session,
                    ClientSpec(
                        client_id=PORTAL_ID,
                        name="示例门户 (demo portal)",
                        public=True,
                        grant_types=["authorization_code", "refresh_token"],
                        scopes=["openid", "profile", "phone", "cases:read", "certs:read"],
                        redirect_uris=[PORTAL_REDIRECT],
                        post_logout_redirect_uris=["http://127.0.0.1:8080/"],
                    ),
                )
            if await repo.client(session, COUNTY_ID) is None:
                row, _ = await clients.create_client(
                    session,
                    ClientSpec(
                        client_id=COUNTY_ID,
                        name="示例区县系统 (demo county)",
                        grant_types=["client_credentials"],
                        scopes=["cases:push"],
                    ),
                )
                row.secret_hash = digest(COUNTY_SECRET)
            if await accounts.find_by_username(session, core, CITIZEN_ID) is None:
                # Level L3 = the operator vouches for 实名核验 (demo data only).
                await accounts.create_natural(
                    session,
                    core,
                    id_number=CITIZEN_ID,
                    name="张三",
                    password=CITIZEN_PASSWORD,
                    phone="13800138000",
                    level="L3",
                )
            if await repo.account_by_username(session, STAFF_USERNAME) is None:
                await accounts.create_staff(
                    session,
                    core,
                    username=STAFF_USERNAME,
                    name="王管理",
                    password=STAFF_PASSWORD,
                    org_uscc=STAFF_ORG,
                    department="信息中心",
                    division="440203",
                    roles=["identity-admin", "case-officer"],
                    level="L3",
                )
    finally:
        await db.dispose()
    issuer = settings.issuer
    return [
        f"identity: discovery {issuer}/.well-known/openid-configuration",
        f"identity: portal client '{PORTAL_ID}' (public, PKCE S256) redirect {PORTAL_REDIRECT}",
        f"identity: county client '{COUNTY_ID}' secret '{COUNTY_SECRET}': "
        f"curl -u {COUNTY_ID}:{COUNTY_SECRET} -d grant_type=client_credentials "
        f"-d scope=cases:push {issuer}/token",
        f"identity: demo citizen 张三, login name = ID number (see services/identity/seed.py) "
        f"or phone 138****8000, password '{CITIZEN_PASSWORD}' (verified, L3)",
        f"identity: demo staff '{STAFF_USERNAME}' (identity-admin, case-officer; L3) "
        f"password '{STAFF_PASSWORD}'",
    ]


async def ensure_service_client(database_url: str, secret: str) -> None:
    """Create (or re-key) the services' introspection client with ``secret``; ``make run``
    keeps the secret in ``var/`` and hands it to every service as HUB_AUTH_CLIENT_*."""
    settings = IdentitySettings(database_url=database_url)
    db = Database(settings.resolved_database_url())
    try:
        async with db.transaction() as session:
            row = await repo.client(session, SERVICE_CLIENT_ID)
            if row is None:
                row, _ = await clients.create_client(
                    session,
                    ClientSpec(
                        client_id=SERVICE_CLIENT_ID,
                        name="一网通办 services (token introspection)",
                        grant_types=["client_credentials"],
                        scopes=[],
                        can_introspect=True,
                    ),
                )
            row.secret_hash = digest(secret)
    finally:
        await db.dispose()


__all__ = ["ensure_service_client", "seed_demo"]
