"""Onboarding an external system (外部系统接入) in one step, across identity and the gateway.

Lives in the composition root because it writes to two services' databases: identity
gets the OAuth client (client credentials, scope ``cases:push``) — or, for a legacy
system, nothing; the gateway's registry gets the system with its orgs, channels and (legacy)
app key + secret. The credentials are returned once; neither database can show them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.clients import registry
from gateway.settings import GatewaySettings
from services.identity import clients
from services.identity.clients import ClientSpec
from services.identity.settings import IdentitySettings
from services.identity.store import repo
from services.runtime.db import Database

PUSH_SCOPE = "cases:push"
# `make run`: the demo county client (seeded in identity by services/identity/seed.py)
# reports for the demo matters' org and the org of the docs/intake.md examples.
DEMO_COUNTY_ID = "demo-county"
DEMO_COUNTY_ORGS = ("11440200MB2C12345W", "11440204000000527F")


class OnboardingError(ValueError):
    """Refused before anything was written (bad org, channel, or id already taken)."""


async def onboard(
    *,
    identity_url: str,
    gateway_url: str,
    name: str,
    orgs: Sequence[str],
    channels: Sequence[str],
    legacy: bool = False,
    client_id: str | None = None,
    scopes: Sequence[str] = (PUSH_SCOPE,),
) -> dict[str, Any]:
    """Create the system's credentials and register it; returns them (shown once)."""
    if legacy and "rest" in channels:
        raise OnboardingError("a legacy system signs SOAP calls; the REST channel needs OAuth")
    if not legacy and "soap" in channels:
        raise OnboardingError("the SOAP channel needs --legacy (app key + signature)")
    try:
        checked_orgs, checked_channels = registry.check_registration(name, orgs, channels)
    except ValueError as exc:
        raise OnboardingError(str(exc)) from exc
    gw_settings = GatewaySettings(database_url=gateway_url)
    gateway_db = Database(gw_settings.resolved_database_url())
    try:
        if client_id is not None:
            async with gateway_db.sessionmaker() as session:
                if await registry.get_client(session, client_id) is not None:
                    raise OnboardingError(f"{client_id} is already registered at the gateway")
        if legacy:
            creds = await registry.create_legacy_client(
                gateway_db,
                gw_settings,
                name=name,
                orgs=checked_orgs,
                channels=checked_channels,
                client_id=client_id,
            )
            return {**creds.as_dict(), "orgs": checked_orgs, "channels": checked_channels}
        created_id, secret = await _create_identity_client(
            identity_url, name, client_id, checked_orgs, scopes
        )
        await registry.register_client(
            gateway_db,
            client_id=created_id,
            name=name,
            orgs=checked_orgs,
            channels=checked_channels,
        )
    finally:
        await gateway_db.dispose()
    return {
        "client_id": created_id,
        "client_secret": secret,
        "scope": " ".join(scopes),
        "orgs": checked_orgs,
        "channels": checked_channels,
    }


async def _create_identity_client(
    identity_url: str,
    name: str,
    client_id: str | None,
    orgs: Sequence[str],
    scopes: Sequence[str],
) -> tuple[str, str]:
    db = Database(IdentitySettings(database_url=identity_url).resolved_database_url())
    try:
        async with db.transaction() as session:
            if client_id is not None and await repo.client(session, client_id) is not None:
                raise OnboardingError(f"{client_id} already exists at identity")
            row, secret = await clients.create_client(
                session,
                ClientSpec(
                    client_id=client_id,
                    name=name,
                    grant_types=["client_credentials"],
                    scopes=list(scopes),
                    # The orgs go into its tokens (claim ``orgs``): what certs trusts for 用证.
                    orgs=list(orgs),
                ),
            )
    finally:
        await db.dispose()
    assert secret is not None  # a confidential client always gets one
    return row.client_id, secret


async def register_demo_county(gateway_url: str) -> list[str]:
    """`make run`: register the demo county client (its identity client is seeded by
    identity's demo seed) with its demo orgs — the same registry call as :func:`onboard`."""
    db = Database(GatewaySettings(database_url=gateway_url).resolved_database_url())
    try:
        await registry.ensure_registered(
            db,
            client_id=DEMO_COUNTY_ID,
            name="示例区县系统 (demo county)",
            orgs=DEMO_COUNTY_ORGS,
            channels=("rest",),
        )
    finally:
        await db.dispose()
    return [f"gateway: '{DEMO_COUNTY_ID}' may push for orgs {', '.join(DEMO_COUNTY_ORGS)}"]
