"""ASGI app of the identity service: `uvicorn services.identity.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.runtime.app import create_service_app
from services.runtime.settings import HubSettings

TOPIC = "hub.identity"


def create_app(settings: HubSettings | None = None) -> FastAPI:
    settings = settings or HubSettings(service_name="identity")
    return create_service_app(
        settings=settings,
        title="Identity (统一身份认证)",
        routers=[],
        topics=[TOPIC],
    )
