"""FastAPI dependencies shared by every service (``Annotated`` aliases)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.app import Hub
from services.runtime.db import Database
from services.runtime.messaging import Messaging


def get_hub(request: Request) -> Hub:
    return request.app.state.hub  # type: ignore[no-any-return]


def get_db(request: Request) -> Database:
    return get_hub(request).db


def get_messaging(request: Request) -> Messaging:
    return get_hub(request).messaging


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for reads; writes go through ``db.transaction()`` in the service layer,
    so a commit always finishes before the response is sent."""
    async with get_db(request).sessionmaker() as session:
        yield session


HubDep = Annotated[Hub, Depends(get_hub)]
DbDep = Annotated[Database, Depends(get_db)]
MessagingDep = Annotated[Messaging, Depends(get_messaging)]
ReadSession = Annotated[AsyncSession, Depends(get_read_session)]
