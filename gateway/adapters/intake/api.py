"""What gateway/app.py wires for intake: the routers and the background workers."""

from __future__ import annotations

from fastapi import APIRouter

from gateway.adapters.intake import rest, soap
from gateway.adapters.intake.workers import IntakeWorkers
from gateway.settings import GatewaySettings
from services.runtime.app import Hub

XML_MEDIA_TYPES = ("text/xml", "application/xml")


def intake_routers() -> list[APIRouter]:
    """Include these BEFORE the proxy router: ``/api/intake/...`` is not an upstream."""
    return [rest.router, soap.router]


def configure_intake(hub: Hub, settings: GatewaySettings) -> None:
    workers = IntakeWorkers(hub, settings)
    hub.extras["intake_workers"] = workers
    workers.register()
    hub.on_shutdown.append(workers.close)
