"""ASGI app of the eval service: `uvicorn services.eval.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.runtime.app import create_service_app
from services.runtime.settings import HubSettings

TOPIC = "hub.evals"


def create_app(settings: HubSettings | None = None) -> FastAPI:
    settings = settings or HubSettings(service_name="eval")
    return create_service_app(
        settings=settings,
        title="Evaluation (好差评)",
        routers=[],
        topics=[TOPIC],
    )
