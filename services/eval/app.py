"""ASGI app of the eval service: `uvicorn services.eval.app:create_app --factory`."""

from __future__ import annotations

from fastapi import FastAPI

from services.eval.api.applicants import router as applicants_router
from services.eval.api.qr import router as qr_router
from services.eval.api.staff import router as staff_router
from services.eval.api.statistics import router as statistics_router
from services.eval.events.consumers import register
from services.eval.service.calendar import refresh_db
from services.eval.service.context import EvalContext
from services.eval.service.sweep import sweep
from services.eval.settings import EvalSettings
from services.runtime.app import Hub, create_service_app
from services.runtime.calendar import calendar_from_settings
from services.runtime.pii import pii_cipher

TOPIC = "hub.evals"


def create_app(settings: EvalSettings | None = None) -> FastAPI:
    settings = settings or EvalSettings()

    def configure(hub: Hub) -> None:
        ctx = EvalContext(
            settings,
            hub.messaging.publish,
            pii_cipher(settings),
            calendar_from_settings(settings.calendar_overrides_file),
        )
        hub.extras["eval"] = ctx
        register(hub, ctx)

        async def load_calendar(h: Hub) -> None:
            await refresh_db(ctx, h.db)

        hub.on_startup.append(load_calendar)
        if settings.eval_sweep_interval > 0:

            async def step() -> None:
                await sweep(ctx, hub.db)

            hub.background.every("eval-sweep", step, settings.eval_sweep_interval)

    return create_service_app(
        settings=settings,
        title="Evaluation (好差评)",
        description="Invitations, ratings, 差评 handling on a working-day clock, public figures.",
        routers=[applicants_router, qr_router, staff_router, statistics_router],
        topics=[TOPIC],
        configure=configure,
    )
