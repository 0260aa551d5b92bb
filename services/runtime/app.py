"""The one way a hub process becomes an ASGI app.

``create_service_app`` wires what every service needs — settings, database, event
backbone, telemetry, JSON logs, problem+json errors, request ids, size and media-type
limits, health and readiness — so a service's own ``app.py`` only adds its routers and
consumers.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from contracts import EventContracts
from services.runtime.auth import verifier_from_settings
from services.runtime.background import BackgroundTasks
from services.runtime.db import Database
from services.runtime.logs import configure_logging
from services.runtime.messaging import Messaging
from services.runtime.messaging.outbox import backlog
from services.runtime.middleware import (
    BodyLimitMiddleware,
    ForwardedPrefixMiddleware,
    MediaTypeMiddleware,
    RequestIdMiddleware,
)
from services.runtime.problems import install_problem_handlers
from services.runtime.retention import Retention
from services.runtime.settings import HubSettings
from services.runtime.telemetry import (
    instrument_app,
    instrument_engine,
    setup_telemetry,
    shutdown_telemetry,
)

log = logging.getLogger("hub.app")

Hook = Callable[["Hub"], Awaitable[None]]


@dataclass
class Hub:
    """What a running process holds: reachable from requests as ``app.state.hub``."""

    settings: HubSettings
    db: Database
    messaging: Messaging
    extras: dict[str, Any] = field(default_factory=dict)
    background: BackgroundTasks = field(default_factory=BackgroundTasks)
    on_startup: list[Hook] = field(default_factory=list)
    on_shutdown: list[Hook] = field(default_factory=list)
    # What may be purged when (services add their own rows in ``configure``).
    retention: Retention = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.retention is None:
            self.retention = Retention(self.db, self.settings)


def create_service_app(
    *,
    settings: HubSettings,
    title: str,
    description: str = "",
    version: str = "1.0.0",
    routers: Sequence[APIRouter] = (),
    topics: Iterable[str] = (),
    configure: Callable[[Hub], None] | None = None,
    extra_media_types: Iterable[str] = (),
    uses_database: bool = True,
    contracts: EventContracts | None = None,
) -> FastAPI:
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    setup_telemetry(settings.service_name)
    db = Database(
        settings.resolved_database_url(), pool_size=settings.db_pool_size, echo=settings.db_echo
    )
    instrument_engine(db.engine)
    verifier = verifier_from_settings(settings)
    hub = Hub(
        settings=settings,
        db=db,
        messaging=Messaging(settings, db, contracts, topics=topics),
    )
    if uses_database and settings.retention_interval > 0:
        hub.background.every("retention", hub.retention.run_once, settings.retention_interval)
    if verifier is not None:
        hub.extras["token_verifier"] = verifier
    if configure is not None:
        configure(hub)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for hook in hub.on_startup:
            await hook(hub)
        await hub.messaging.start()
        await hub.background.start()
        log.info("%s started", settings.service_name)
        try:
            yield
        finally:
            await hub.background.stop()
            for hook in reversed(hub.on_shutdown):
                await hook(hub)
            await hub.messaging.stop()
            await db.dispose()
            shutdown_telemetry()

    app = FastAPI(
        generate_unique_id_function=_operation_id,
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        responses={
            "default": {
                "description": "Problem details (RFC 9457)",
                "content": {"application/problem+json": {}},
            }
        },
    )
    app.state.hub = hub
    install_problem_handlers(app)
    app.include_router(health_router(hub, uses_database=uses_database))
    for router in routers:
        app.include_router(router)
    instrument_app(app)
    # Added last = outermost: the request id exists before any other layer answers.
    app.add_middleware(ForwardedPrefixMiddleware)
    app.add_middleware(MediaTypeMiddleware, extra_types=tuple(extra_media_types))
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    return app


def _operation_id(route: APIRoute) -> str:
    # FastAPI's default takes "the first" of a route's methods — a set, so the exported
    # OpenAPI would change from run to run for routes serving several methods.
    methods = "_".join(sorted(m.lower() for m in route.methods or ()))
    path = re.sub(r"\W", "_", route.path_format)
    return f"{route.name}{path}_{methods}"


def health_router(hub: Hub, *, uses_database: bool = True) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": hub.settings.service_name}

    @router.get("/readyz", summary="Readiness: the database answers (the broker only degrades)")
    async def readyz() -> JSONResponse:
        """Ready when the database answers. A broker outage does not make a process
        unready: requests still commit (events wait in the outbox), and an orchestrator
        pulling every pod during one would turn a backbone outage into a full outage.
        The body says ``"broker": "unreachable"`` and how far the outbox is behind."""
        checks: dict[str, str] = {}
        body: dict[str, Any] = {}
        if uses_database:
            try:
                await hub.db.ping()
                checks["database"] = "ok"
            except Exception as exc:
                checks["database"] = f"unreachable: {type(exc).__name__}"
        if hub.settings.kafka_enabled:
            ok = await hub.messaging.broker_ready()
            checks["broker"] = "ok" if ok else "unreachable"
        if uses_database and checks.get("database") == "ok":
            try:
                async with hub.db.sessionmaker() as session:
                    body["outbox"] = await backlog(session)
            except Exception as exc:  # tables not there yet: still answer
                body["outbox"] = {"error": type(exc).__name__}
        ready = checks.get("database", "ok") == "ok"
        degraded = any(v != "ok" for v in checks.values())
        status = "not-ready" if not ready else "degraded" if degraded else "ready"
        body = {"status": status, "checks": checks, **body}
        return JSONResponse(body, status_code=200 if ready else 503)

    return router
