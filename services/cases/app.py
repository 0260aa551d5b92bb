"""ASGI app of the cases service: `uvicorn services.cases.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.cases import supervisor
from services.cases.api.cases import router as cases_router
from services.cases.api.supervision import router as supervision_router
from services.cases.casework import Casework
from services.cases.events.consumers import register
from services.cases.settings import CasesSettings
from services.runtime.app import Hub, create_service_app

TOPIC = "hub.cases"


def create_app(settings: CasesSettings | None = None) -> FastAPI:
    settings = settings or CasesSettings()

    def configure(hub: Hub) -> None:
        casework = Casework(settings, hub.messaging.publish)
        hub.extras["casework"] = casework
        register(hub, casework)
        if settings.cases_supervision_interval > 0:
            supervisor.start(hub, casework, settings.cases_supervision_interval)

    return create_service_app(
        settings=settings,
        title="Cases (办件)",
        description="办件 records, time limits, 电子监察 and progress for applicants.",
        routers=[cases_router, supervision_router],
        topics=[TOPIC],
        configure=configure,
    )
