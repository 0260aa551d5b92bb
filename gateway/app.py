"""ASGI app of the gateway: ``uvicorn gateway.app:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from gateway.routes.proxy import UpstreamPool, build_proxy_router
from gateway.settings import GatewaySettings
from services.runtime.app import Hub, create_service_app


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    pool = UpstreamPool(
        settings.upstreams,
        settings.upstream_connect_timeout,
        settings.upstream_timeout,
        settings.upstream_max_connections,
    )

    def configure(hub: Hub) -> None:
        hub.extras["upstreams"] = pool

        async def close_pool(_hub: Hub) -> None:
            await pool.close()

        hub.on_shutdown.append(close_pool)

    return create_service_app(
        settings=settings,
        title="Gateway (一网通办 front door)",
        routers=[build_proxy_router(pool)],
        topics=["hub.cases"],
        configure=configure,
    )
