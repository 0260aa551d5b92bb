"""In-process apps for API tests: real database (PostgreSQL), lifespan run, httpx client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from hub.registry import BY_NAME
from services.runtime.migrate import upgrade


def migrate(process_name: str, database_url: str) -> None:
    """Apply a process's Alembic migrations to a fresh database."""
    upgrade(BY_NAME[process_name].migrations_dir, database_url)


@asynccontextmanager
async def serve(
    app: FastAPI, base_url: str = "http://testserver"
) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan and give an httpx client speaking ASGI to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=base_url) as client:
            yield client
