"""outbox_batch: many events, one INSERT, same order, nothing if the block fails."""

from __future__ import annotations

import pytest
from sqlalchemy import event, select

from contracts import EVENTS_DIR, EventContracts
from services.runtime.db import Database
from services.runtime.messaging.outbox import add_to_outbox, outbox_batch
from services.runtime.messaging.tables import messaging_metadata, outbox
from tests.foundation.apps import CONTRACTS_DIR
from tests.support.postgres import DatabaseFactory

CONTRACTS = EventContracts([EVENTS_DIR, CONTRACTS_DIR])


async def _add(session, n: int) -> str:  # type: ignore[no-untyped-def]
    return await add_to_outbox(
        session,
        CONTRACTS,
        source="/hub/test",
        event_type="hub.test.note.created",
        key="k",
        data={"note_id": f"n{n}", "text": "x"},
    )


async def test_a_batch_is_one_insert_in_order_and_nothing_when_it_fails(
    pg: DatabaseFactory,
) -> None:
    db = Database(await pg.create("outbox_batch"))
    async with db.engine.begin() as conn:
        await conn.run_sync(messaging_metadata.create_all)
    inserts: list[str] = []
    event.listen(
        db.engine.sync_engine,
        "before_cursor_execute",
        lambda _c, _cur, statement, *_a: (
            inserts.append(statement) if statement.startswith("INSERT INTO outbox") else None
        ),
    )
    async with db.transaction() as session, outbox_batch(session):
        ids = [await _add(session, n) for n in range(20)]
    assert len(inserts) == 1
    with pytest.raises(RuntimeError):
        async with db.transaction() as session, outbox_batch(session):
            await _add(session, 99)
            raise RuntimeError("the business rule refuses")
    async with db.sessionmaker() as session:
        rows = (
            await session.execute(select(outbox.c.event_id, outbox.c.payload).order_by(outbox.c.id))
        ).all()
    assert [r.event_id for r in rows] == ids
    assert [r.payload["note_id"] for r in rows] == [f"n{n}" for n in range(20)]
    await db.dispose()
