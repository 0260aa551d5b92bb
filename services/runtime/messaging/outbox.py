"""Transactional outbox: events are rows written with the state change, then relayed.

A rolled-back transaction leaves no row, so it publishes nothing; a committed one is
delivered even if the broker is down at the time (the relay retries until it is back).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaProducer
from opentelemetry import metrics, propagate, trace
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import EventContracts
from services.runtime.db import Database, utcnow
from services.runtime.messaging.envelope import Envelope
from services.runtime.messaging.errors import is_transient_publish_error
from services.runtime.messaging.tables import outbox

log = logging.getLogger("hub.outbox")
_tracer = trace.get_tracer("hub.outbox")
_published = metrics.get_meter("hub.outbox").create_counter(
    "hub.outbox.published", description="outbox events acknowledged by the broker"
)
_failures = metrics.get_meter("hub.outbox").create_counter(
    "hub.outbox.failures", description="relay rounds that failed (broker away, …)"
)

_parked = metrics.get_meter("hub.outbox").create_counter(
    "hub.outbox.parked", description="outbox rows the relay gave up on (alert on any)"
)

OUTBOX_DIRTY = "hub_outbox_dirty"
OUTBOX_BUFFER = "hub_outbox_buffer"


class EventContractViolation(ValueError):
    """The producer tried to publish data its own contract forbids (a bug, not input)."""


async def add_to_outbox(
    session: AsyncSession,
    contracts: EventContracts,
    *,
    source: str,
    event_type: str,
    key: str,
    data: dict[str, Any],
    subject: str | None = None,
    event_id: str | None = None,
    occurred_at: datetime | None = None,
) -> str:
    """Write one event in the caller's transaction; returns its id."""
    contract = contracts.get(event_type)
    errors = contract.errors(data)
    if errors:
        raise EventContractViolation(f"{event_type}: " + "; ".join(errors[:5]))
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    event_id = event_id or str(uuid.uuid4())
    row = {
        "event_id": event_id,
        "topic": contract.topic,
        "key": key,
        "event_type": event_type,
        "source": source,
        "subject": subject or key,
        "dataschema": contract.schema_id,
        "occurred_at": occurred_at or utcnow(),
        "payload": data,
        "trace_headers": carrier,
        "created_at": utcnow(),
        "attempts": 0,
    }
    buffer = session.info.get(OUTBOX_BUFFER)
    if buffer is not None:
        buffer.append(row)  # written by outbox_batch() in one multi-row INSERT
    else:
        await session.execute(insert(outbox).values(**row))
    session.info[OUTBOX_DIRTY] = True
    return event_id


@asynccontextmanager
async def outbox_batch(session: AsyncSession) -> AsyncIterator[None]:
    """Events added inside the block are written by one multi-row INSERT when it ends
    (still in the caller's transaction, in the order they were added). For code that
    tells many facts at once; if the block raises, nothing is written."""
    if session.info.get(OUTBOX_BUFFER) is not None:
        yield  # already inside a batch: the outer one writes
        return
    rows: list[dict[str, Any]] = []
    session.info[OUTBOX_BUFFER] = rows
    try:
        yield
    finally:
        session.info.pop(OUTBOX_BUFFER, None)
    if rows:
        await session.execute(insert(outbox), rows)
        session.info[OUTBOX_DIRTY] = True


async def pending_count(session: AsyncSession) -> int:
    """Rows still to publish (parked ones included: they are not delivered either)."""
    return int(
        await session.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
        )
        or 0
    )


async def backlog(session: AsyncSession) -> dict[str, Any]:
    """What readiness and the alerts report: unpublished rows, the oldest one's age, parked."""
    pending, oldest = (
        await session.execute(
            select(func.count(), func.min(outbox.c.created_at)).where(
                outbox.c.published_at.is_(None)
            )
        )
    ).one()
    parked = await session.scalar(
        select(func.count()).where(outbox.c.parked_at.is_not(None), outbox.c.published_at.is_(None))
    )
    if isinstance(oldest, str):  # in case a driver hands the aggregate back untyped
        oldest = datetime.fromisoformat(oldest)
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)
    age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
    return {
        "pending": int(pending or 0),
        "oldest_age_seconds": round(age, 3),
        "parked": int(parked or 0),
    }


async def unpark(session: AsyncSession, row_id: int) -> bool:
    """Give a parked row (after its cause is fixed) a fresh set of attempts."""
    result = await session.execute(
        update(outbox)
        .where(outbox.c.id == row_id, outbox.c.parked_at.is_not(None))
        .values(parked_at=None, attempts=0)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def discard_parked(session: AsyncSession, row_id: int) -> bool:
    """Give up on a parked row for good: it counts as handled and unblocks its key."""
    now = datetime.now(UTC)
    result = await session.execute(
        update(outbox)
        .where(outbox.c.id == row_id, outbox.c.parked_at.is_not(None))
        .values(published_at=now, last_error=outbox.c.last_error + " [discarded]")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def requeue_recent(session: AsyncSession, since: datetime) -> int:
    """Mark rows published since ``since`` unpublished again (the broker lost them).

    They keep their ids, so the relay sends them again in their original order, before
    anything newer; consumers' inboxes absorb the ones already applied.
    """
    result = await session.execute(
        update(outbox)
        .where(
            outbox.c.published_at.is_not(None),
            outbox.c.published_at >= since,
            outbox.c.parked_at.is_(None),
        )
        .values(published_at=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


class OutboxRelay:
    """Drains unpublished rows in id order to Kafka (acks=all) and marks them sent.

    One relay drains a database at a time: on PostgreSQL a transaction-scoped advisory
    lock elects it, so two replicas never interleave one key's events. On SQLite (one
    process per file) rows are read outside the write lock and marked in a short write
    transaction, so requests never wait on a broker round trip.

    A row the broker refuses for its own sake (too large, topic that cannot be created,
    unserialisable) is *parked* after ``max_attempts`` such failures: marked, logged as
    an error, counted. Later rows of other keys flow on; rows of the parked row's key wait
    behind it (per-key order is the backbone's promise) until an operator unparks or
    discards it. Failures of the broker itself (away, timing out) never count.
    """

    def __init__(
        self,
        db: Database,
        producer: AIOKafkaProducer,
        *,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        max_backoff: float = 10.0,
        lock_key: int = 0,
        on_failure: Any = None,
        max_attempts: int = 10,
    ) -> None:
        self.db = db
        self.producer = producer
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.max_backoff = max_backoff
        self.lock_key = lock_key
        self.on_failure = on_failure
        self.max_attempts = max_attempts
        self._wake = asyncio.Event()
        self.published_total = 0
        self.parked_total = 0

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        backoff = 0.1
        while True:
            try:
                sent = await self.drain_once()
                backoff = 0.1
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("outbox relay failed, retrying in %.1fs: %s", backoff, exc)
                if self.on_failure is not None:
                    try:
                        await self.on_failure(exc)
                    except Exception as hook_exc:  # keep relaying whatever the hook does
                        log.warning("outbox failure hook failed: %s", hook_exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                continue
            if sent < self.batch_size:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.poll_interval)
                except TimeoutError:
                    pass
                self._wake.clear()

    def _pending_query(self) -> Any:
        # Rows of a key with a parked row wait behind it: per-key order over progress.
        blocked = select(outbox.c.key).where(
            outbox.c.parked_at.is_not(None), outbox.c.published_at.is_(None)
        )
        return (
            select(outbox)
            .where(
                outbox.c.published_at.is_(None),
                outbox.c.parked_at.is_(None),
                outbox.c.key.not_in(blocked),
            )
            .order_by(outbox.c.id)
            .limit(self.batch_size)
        )

    async def drain_once(self) -> int:
        """Publish one batch; returns how many rows were marked published (or parked)."""
        if self.db.is_sqlite:
            async with self.db.sessionmaker() as read:
                rows = (await read.execute(self._pending_query())).all()
            if not rows:
                return 0
            done_ids, error = await self._send(rows)
            async with self.db.transaction() as session:
                parked = await self._record(session, rows, done_ids, error)
        else:
            async with self.db.transaction() as session:
                got = await session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": self.lock_key}
                )
                if not got:
                    return 0
                rows = (await session.execute(self._pending_query())).all()
                if not rows:
                    return 0
                done_ids, error = await self._send(rows)
                parked = await self._record(session, rows, done_ids, error)
        self.published_total += len(done_ids)
        _published.add(len(done_ids))
        if error is not None and not parked:
            _failures.add(1)
            raise error
        return len(done_ids) + int(parked)

    async def _record(
        self, session: AsyncSession, rows: list[Any], done_ids: list[int], error: Exception | None
    ) -> bool:
        """Mark what was acknowledged; count a failure against its row. True if parked."""
        now = datetime.now(UTC)
        if done_ids:
            await session.execute(
                update(outbox)
                .where(outbox.c.id.in_(done_ids))
                .values(published_at=now, attempts=outbox.c.attempts + 1)
            )
        if error is None:
            return False
        failed = rows[len(done_ids)]
        message = f"{type(error).__name__}: {error}"[:2000]
        if is_transient_publish_error(error):
            # The broker's trouble, not the row's: no attempt is counted.
            await session.execute(
                update(outbox).where(outbox.c.id == failed.id).values(last_error=message)
            )
            return False
        attempts = failed.attempts + 1
        park = attempts >= self.max_attempts
        await session.execute(
            update(outbox)
            .where(outbox.c.id == failed.id)
            .values(attempts=attempts, last_error=message, parked_at=now if park else None)
        )
        if park:
            self.parked_total += 1
            _parked.add(1, {"topic": failed.topic})
            log.error(
                "outbox row %d (event %s, %s, key %s) parked after %d attempts: %s; rows of "
                "other keys flow on, rows of this key wait until it is unparked or discarded",
                failed.id,
                failed.event_id,
                failed.event_type,
                failed.key,
                attempts,
                message,
            )
        return park

    async def _send(self, rows: list[Any]) -> tuple[list[int], Exception | None]:
        futures = []
        try:
            for row in rows:
                envelope = Envelope(
                    id=row.event_id,
                    source=row.source,
                    type=row.event_type,
                    key=row.key,
                    data=row.payload,
                    subject=row.subject,
                    time=row.occurred_at,
                    dataschema=row.dataschema,
                    extensions={
                        k: v for k, v in (row.trace_headers or {}).items() if k == "traceparent"
                    },
                )
                key, value, headers = envelope.to_kafka()
                parent = propagate.extract(row.trace_headers or {})
                with _tracer.start_as_current_span(
                    f"{row.topic} publish",
                    context=parent,
                    kind=trace.SpanKind.PRODUCER,
                    attributes={
                        "messaging.system": "kafka",
                        "messaging.destination.name": row.topic,
                        "messaging.message.id": row.event_id,
                        "hub.event_type": row.event_type,
                        "hub.aggregate_id": row.key,
                    },
                ):
                    futures.append(
                        await self.producer.send(row.topic, value=value, key=key, headers=headers)
                    )
        except Exception as exc:
            # Rows whose send was never queued are retried; already queued ones are
            # awaited below so the ids we mark published really were acknowledged.
            return await self._collect(rows, futures, exc)
        return await self._collect(rows, futures, None)

    async def _collect(
        self, rows: list[Any], futures: list[Any], error: Exception | None
    ) -> tuple[list[int], Exception | None]:
        done: list[int] = []
        for row, fut in zip(rows, futures, strict=False):
            try:
                await fut
            except Exception as exc:
                return done, exc
            done.append(row.id)
        return done, error
