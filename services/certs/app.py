"""ASGI app of the certs service: `uvicorn services.certs.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.certs.api.catalogue import router as types_router
from services.certs.api.certificates import router as certificates_router
from services.certs.api.holders import router as holders_router
from services.certs.api.issuers import router as issuers_router
from services.certs.api.use import router as use_router
from services.certs.api.verify import router as verify_router
from services.certs.events.consumers import register
from services.certs.service.catalogue import seed_types
from services.certs.service.context import CertsContext
from services.certs.service.lifecycle import sweep
from services.certs.settings import CertsSettings
from services.runtime.app import Hub, create_service_app
from services.runtime.pii import pii_cipher

TOPIC = "hub.certs"


def create_app(settings: CertsSettings | None = None) -> FastAPI:
    settings = settings or CertsSettings()

    def configure(hub: Hub) -> None:
        ctx = CertsContext(settings, hub.messaging.publish, pii_cipher(settings))
        hub.extras["certs"] = ctx
        register(hub, ctx)

        async def seed(h: Hub) -> None:
            await seed_types(h.db)

        hub.on_startup.append(seed)
        if settings.certs_sweep_interval > 0:

            async def step() -> None:
                await sweep(ctx, hub.db)

            hub.background.every("certs-sweep", step, settings.certs_sweep_interval)

    return create_service_app(
        settings=settings,
        title="Electronic certificates (电子证照)",
        description="证照目录, issuance, SM2 signatures, status lists, holder view, verification.",
        routers=[
            types_router,
            issuers_router,
            certificates_router,
            holders_router,
            use_router,
            verify_router,
        ],
        topics=[TOPIC],
        configure=configure,
    )
