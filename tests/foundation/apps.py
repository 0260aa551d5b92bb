"""Two small apps built exactly like the hub's services, for the backbone tests.

``notes`` writes a note and its event in one transaction; ``copier`` consumes the
events in another process and writes copies. The copies table has no unique
constraint on purpose: only the inbox stands between a redelivery and a double effect.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import Column, Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import EVENTS_DIR, EventContracts
from services.runtime.app import Hub, create_service_app
from services.runtime.db import make_base
from services.runtime.deps import DbDep, HubDep, MessagingDep, ReadSession
from services.runtime.messaging import Envelope
from services.runtime.messaging.outbox import pending_count
from services.runtime.messaging.tables import messaging_metadata
from services.runtime.problems import Problem
from services.runtime.settings import HubSettings

TOPIC = "hub.test-notes"
CONTRACTS_DIR = Path(__file__).parent / "contracts"
Base = make_base()


class Note(Base):
    __tablename__ = "notes"
    id = Column(String(64), primary_key=True)
    text = Column(String(200), nullable=False)


class NoteCopy(Base):
    __tablename__ = "note_copies"
    row_id = Column(Integer, primary_key=True, autoincrement=True)
    note_id = Column(String(64), nullable=False)
    text = Column(String(200), nullable=False)


class NoteIn(BaseModel):
    text: str = Field(min_length=1, max_length=200)
    count: int = Field(default=1, ge=1, le=1000)
    key: str | None = Field(default=None, max_length=64, description="one aggregate for all")


def contracts() -> EventContracts:
    return EventContracts([EVENTS_DIR, CONTRACTS_DIR])


async def create_tables(hub: Hub) -> None:
    async with hub.db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.run_sync(messaging_metadata.create_all)


def notes_router() -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.post("/notes", status_code=201)
    async def create_note(body: NoteIn, db: DbDep, messaging: MessagingDep) -> dict[str, list[str]]:
        ids = []
        async with db.transaction() as session:
            for _ in range(body.count):
                note_id = uuid.uuid4().hex
                session.add(Note(id=note_id, text=body.text))
                await messaging.publish(
                    session,
                    "hub.test.note.created",
                    key=body.key or note_id,
                    data={"note_id": note_id, "text": body.text},
                )
                ids.append(note_id)
        return {"ids": ids}

    @router.post("/notes/rolled-back", status_code=201)
    async def create_then_fail(body: NoteIn, db: DbDep, messaging: MessagingDep) -> None:
        async with db.transaction() as session:
            note_id = "rolled-back-" + uuid.uuid4().hex
            session.add(Note(id=note_id, text=body.text))
            await messaging.publish(
                session,
                "hub.test.note.created",
                key=note_id,
                data={"note_id": note_id, "text": body.text},
            )
            raise Problem(409, "refused after writing; the transaction rolls back", note_id=note_id)

    @router.get("/slow")
    async def slow(seconds: float = 0.0) -> dict[str, float]:
        await asyncio.sleep(seconds)
        return {"slept": seconds}

    @router.post("/echo")
    async def echo(request: Request) -> Response:
        body = await request.body()
        return Response(
            body, media_type="application/json", headers={"x-echo-length": str(len(body))}
        )

    @router.get("/stream")
    async def stream(chunks: int = 10) -> StreamingResponse:
        async def gen() -> AsyncIterator[bytes]:
            for i in range(chunks):
                yield f"chunk-{i};".encode()
                await asyncio.sleep(0.01)

        return StreamingResponse(gen(), media_type="text/plain")

    @router.get("/cookies")
    async def cookies() -> Response:
        response = Response(status_code=204)
        response.set_cookie("a", "1")
        response.set_cookie("b", "2")
        return response

    @router.get("/outbox/pending")
    async def outbox_pending(session: ReadSession) -> dict[str, int]:
        return {"pending": await pending_count(session)}

    return router


def copier_router() -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.get("/copies")
    async def copies(session: ReadSession) -> dict[str, object]:
        rows = (
            await session.execute(select(NoteCopy.note_id, NoteCopy.text).order_by(NoteCopy.row_id))
        ).all()
        return {"copies": [{"note_id": r[0], "text": r[1]} for r in rows]}

    @router.get("/stats")
    async def stats(hub: HubDep, session: ReadSession) -> dict[str, object]:
        from services.runtime.messaging.tables import dead_letters

        consumer = hub.messaging.consumers[0]
        dead = (await session.execute(select(dead_letters.c.event_id, dead_letters.c.error))).all()
        total = await session.scalar(select(func.count()).select_from(NoteCopy))
        return {
            "applied": consumer.stats.applied,
            "duplicates": consumer.stats.duplicates,
            "dead_lettered": consumer.stats.dead_lettered,
            "copies": total,
            "dead_letters": [{"event_id": d[0], "error": d[1]} for d in dead],
        }

    return router


async def copy_note(session: AsyncSession, event: Envelope) -> None:
    if event.data["text"] == "poison":
        raise ValueError("this note can never be copied")
    session.add(NoteCopy(note_id=event.data["note_id"], text=event.data["text"]))


def create_notes_app() -> FastAPI:
    settings = HubSettings(service_name="notes")

    def configure(hub: Hub) -> None:
        hub.on_startup.insert(0, create_tables)

    return create_service_app(
        settings=settings,
        title="notes (test)",
        routers=[notes_router()],
        topics=[TOPIC],
        configure=configure,
        contracts=contracts(),
    )


def create_copier_app() -> FastAPI:
    settings = HubSettings(service_name="copier")

    def configure(hub: Hub) -> None:
        hub.on_startup.insert(0, create_tables)
        hub.messaging.consume("copier", [TOPIC], copy_note, event_types=["hub.test.note.created"])

    return create_service_app(
        settings=settings,
        title="copier (test)",
        routers=[copier_router()],
        configure=configure,
        contracts=contracts(),
    )
