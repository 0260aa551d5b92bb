"""ASGI app of the gateway: ``uvicorn gateway.app:create_app --factory``."""

from __future__ import annotations

from fastapi import FastAPI

from gateway.adapters.intake.api import XML_MEDIA_TYPES, configure_intake, intake_routers
from gateway.adapters.province_catalog import build_province_catalog_router
from gateway.adapters.province_catalog.client import ProvinceCatalogClient
from gateway.adapters.realname import build_realname_router
from gateway.policies.install import install_front_door
from gateway.routes.proxy import UpstreamPool, build_proxy_router
from gateway.settings import GatewaySettings
from gateway.store.retention import register_retention
from services.runtime.app import Hub, create_service_app
from services.runtime.forwarding import parse_networks


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    pool = UpstreamPool(
        settings.upstreams,
        settings.upstream_connect_timeout,
        settings.upstream_timeout,
        settings.upstream_max_connections,
        max_per_upstream=settings.upstream_max_connections_per_service,
        body_timeout=settings.request_body_timeout,
        breaker_failures=settings.breaker_failures,
        breaker_base=settings.breaker_base_seconds,
        breaker_max=settings.breaker_max_seconds,
        trusted_proxies=parse_networks(settings.trusted_proxies),
    )

    province_catalog = ProvinceCatalogClient(
        settings.province_catalog_url,
        settings.province_catalog_app_key,
        settings.province_catalog_secret,
        settings.province_catalog_timeout,
    )

    def configure(hub: Hub) -> None:
        hub.extras["upstreams"] = pool

        async def close_province_catalog(_hub: Hub) -> None:
            await province_catalog.close()

        hub.on_shutdown.append(close_province_catalog)

        async def close_pool(_hub: Hub) -> None:
            await pool.close()

        hub.on_shutdown.append(close_pool)
        configure_intake(hub, settings)
        register_retention(hub.retention)

    app = create_service_app(
        settings=settings,
        title="Gateway (一网通办 front door)",
        # Intake routes first: the proxy's /api/{service}/... would match them otherwise.
        routers=[
            *intake_routers(),
            build_province_catalog_router(province_catalog),
            build_realname_router(settings),
            build_proxy_router(pool),
        ],
        topics=["hub.cases"],
        configure=configure,
        extra_media_types=XML_MEDIA_TYPES,
    )
    install_front_door(app, settings)
    return app
