"""ASGI app of the certs service: `uvicorn services.certs.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.runtime.app import create_service_app
from services.runtime.settings import HubSettings

TOPIC = "hub.certs"


def create_app(settings: HubSettings | None = None) -> FastAPI:
    settings = settings or HubSettings(service_name="certs")
    return create_service_app(
        settings=settings,
        title="Electronic certificates (电子证照)",
        routers=[],
        topics=[TOPIC],
    )
