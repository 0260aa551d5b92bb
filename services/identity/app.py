"""ASGI app of the identity service: `uvicorn services.identity.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.identity.api import accounts as accounts_api
from services.identity.api import login as login_api
from services.identity.api import oidc as oidc_api
from services.identity.core import build_core
from services.identity.oauth import OAuthServer
from services.identity.settings import IdentitySettings
from services.identity.store.retention import register_retention
from services.identity.tokens import local_verifier
from services.runtime.app import Hub, create_service_app

TOPIC = "hub.identity"


def create_app(settings: IdentitySettings | None = None, **overrides: object) -> FastAPI:
    """``overrides``: ``realname=`` / ``sms=`` to plug other verifiers or senders in."""
    settings = settings or IdentitySettings()

    def configure(hub: Hub) -> None:
        core = build_core(settings, hub.db, hub.messaging, **overrides)  # type: ignore[arg-type]
        core.oauth = OAuthServer(core)
        hub.extras["identity"] = core
        # Tokens presented to this service are checked against its own live key ring.
        hub.extras["token_verifier"] = local_verifier(core)

        async def load_keys(_hub: Hub) -> None:
            await core.keys.ensure()

        hub.on_startup.append(load_keys)
        register_retention(hub.retention)

    return create_service_app(
        settings=settings,
        title="Identity (统一身份认证)",
        description="OIDC provider for citizens (自然人), companies (法人) and staff (工作人员).",
        routers=[oidc_api.router, login_api.router, accounts_api.router],
        topics=[TOPIC],
        configure=configure,
    )
