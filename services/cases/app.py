"""ASGI app of the cases service: `uvicorn services.cases.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.runtime.app import create_service_app
from services.runtime.settings import HubSettings

TOPIC = "hub.cases"


def create_app(settings: HubSettings | None = None) -> FastAPI:
    settings = settings or HubSettings(service_name="cases")
    return create_service_app(
        settings=settings,
        title="Cases (办件)",
        routers=[],
        topics=[TOPIC],
    )
