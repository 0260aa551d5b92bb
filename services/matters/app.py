"""ASGI app of the matters service: `uvicorn services.matters.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.runtime.app import create_service_app
from services.runtime.settings import HubSettings

TOPIC = "hub.matters"


def create_app(settings: HubSettings | None = None) -> FastAPI:
    settings = settings or HubSettings(service_name="matters")
    return create_service_app(
        settings=settings,
        title="Matters catalog (事项目录)",
        routers=[],
        topics=[TOPIC],
    )
