"""ASGI app of the matters service: `uvicorn services.matters.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.matters.api.editing import router as editing_router
from services.matters.api.public import router as public_router
from services.matters.api.sync import XLSX
from services.matters.api.sync import router as sync_router
from services.matters.calendar import MattersCalendar
from services.matters.settings import MattersSettings
from services.matters.sync import install_background_sync
from services.runtime.app import Hub, create_service_app
from services.runtime.calendar import calendar_from_settings

TOPIC = "hub.matters"


def create_app(settings: MattersSettings | None = None) -> FastAPI:
    settings = settings or MattersSettings()

    def configure(hub: Hub) -> None:
        # Brought up to date from calendar_years (hub calendar load) before each use.
        hub.extras["calendar"] = MattersCalendar(
            calendar_from_settings(settings.calendar_overrides_file)
        )
        install_background_sync(hub)

    return create_service_app(
        settings=settings,
        title="Matters catalog (事项目录)",
        description="基本目录 and 实施清单 under the 十统一 elements, 情形引导, search, sync.",
        # sync routes first: /v1/matters/sync/... must win over /v1/matters/{code}/...
        routers=[sync_router, public_router, editing_router],
        topics=[TOPIC],
        configure=configure,
        extra_media_types=(XLSX,),
    )
