"""Idempotent consumers: the inbox row and the effect commit in one transaction.

A redelivered event (after a crash before the offset commit, a rebalance or a
duplicate publish) finds its inbox row and is skipped. An event that can never be
processed goes to ``<topic>.dlq`` with the error in its headers, is recorded in the
``dead_letters`` table for operators, and the consumer moves on.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from opentelemetry import metrics, propagate, trace
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import EventContracts, UnknownEventType
from services.runtime.crypto import FieldCipher
from services.runtime.db import Database, utcnow
from services.runtime.masking import mask_text
from services.runtime.messaging.dead_letters import seal_dead_letter
from services.runtime.messaging.envelope import Envelope, MalformedEvent
from services.runtime.messaging.errors import is_transient_db_error
from services.runtime.messaging.kafka import dlq_topic
from services.runtime.messaging.outbox import EventContractViolation
from services.runtime.messaging.tables import dead_letters, inbox
from services.runtime.problems import Problem

log = logging.getLogger("hub.consumer")
_tracer = trace.get_tracer("hub.consumer")
_meter = metrics.get_meter("hub.consumer")
_applied = _meter.create_counter("hub.consumer.applied", description="events applied")
_duplicates = _meter.create_counter(
    "hub.consumer.duplicates", description="redelivered events absorbed by the inbox"
)
_dead = _meter.create_counter("hub.consumer.dead_lettered", description="events sent to a DLQ")
_transient = _meter.create_counter(
    "hub.consumer.transient_failures", description="applies retried after a transient failure"
)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]


class PermanentEventError(Exception):
    """The handler knows retrying cannot help (e.g. a business rule refuses the event)."""


def is_permanent_event_error(exc: BaseException) -> bool:
    """A refusal: retrying the same event can only fail the same way (DLQ at once)."""
    if isinstance(exc, PermanentEventError | EventContractViolation | UnknownEventType):
        return True
    # A rule of the service refused it the way it refuses a request (4xx problem).
    return isinstance(exc, Problem) and 400 <= exc.status < 500


@dataclass
class ConsumerStats:
    applied: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    skipped: int = 0


class _Poison(Exception):
    def __init__(self, message: str, event: Envelope | None = None) -> None:
        super().__init__(message)
        self.event = event


class InboxConsumer:
    """Consumes ``topics`` as consumer group ``name`` and applies ``handler`` per event.

    ``event_types`` limits which types this consumer applies; others on the same topic are
    acknowledged without effect (a topic carries several facts).
    """

    def __init__(
        self,
        *,
        name: str,
        topics: list[str],
        handler: Handler,
        db: Database,
        contracts: EventContracts,
        event_types: Iterable[str] | None = None,
        max_attempts: int = 5,
        retry_backoff: float = 0.2,
        max_backoff: float = 10.0,
        crash_after_apply: int = 0,
        cipher: FieldCipher | None = None,
    ) -> None:
        self.name = name
        self.topics = topics
        self.handler = handler
        self.db = db
        self.contracts = contracts
        self.event_types = set(event_types) if event_types is not None else None
        self.max_attempts = max_attempts
        self.retry_backoff = retry_backoff
        self.max_backoff = max_backoff
        self.cipher = cipher
        self.crash_after_apply = crash_after_apply
        self.stats = ConsumerStats()

    async def run(self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            if not batches:
                continue
            for records in batches.values():
                await self.process_batch(records, producer)
            if self.crash_after_apply and self.stats.applied >= self.crash_after_apply:
                # Fault injection for resilience tests: die after applying, before the
                # offset commit, exactly the window the inbox must make harmless.
                log.warning("fault injection: exiting before offset commit")
                os._exit(137)
            await consumer.commit()

    async def process(self, record: ConsumerRecord, producer: AIOKafkaProducer) -> None:
        await self.process_batch([record], producer)

    async def process_batch(
        self, records: list[ConsumerRecord], producer: AIOKafkaProducer
    ) -> None:
        """Apply one partition's records in one transaction.

        One commit per batch (and one multi-row inbox insert) instead of one per event is
        what makes the consumer fast. Failures are rare, so the batch is optimistic: if any
        event fails, the whole batch rolls back and every event is applied on its own, in
        order, where a failing event is retried and finally dead-lettered.
        """
        ready: list[tuple[ConsumerRecord, Envelope]] = []
        for record in records:
            try:
                event = self._decode(record)
            except _Poison as poison:
                with self._span(record, poison.event):
                    await self._dead_letter(record, producer, str(poison), 1, poison.event)
                continue
            if self.event_types is not None and event.type not in self.event_types:
                self.stats.skipped += 1
                continue
            ready.append((record, event))
        if not ready:
            return
        try:
            applied, duplicates = await self._apply_batch(ready)
        except Exception as exc:
            log.info(
                "consumer %s: batch of %d failed (%s); applying one by one",
                self.name,
                len(ready),
                exc,
            )
            for record, event in ready:
                with self._span(record, event):
                    await self._apply_with_retries(record, producer, event)
            return
        self.stats.applied += len(applied)
        self.stats.duplicates += duplicates
        _applied.add(len(applied), {"consumer": self.name})
        _duplicates.add(duplicates, {"consumer": self.name})

    async def _apply_batch(
        self, ready: list[tuple[ConsumerRecord, Envelope]]
    ) -> tuple[list[Envelope], int]:
        applied: list[Envelope] = []
        rows: list[dict[str, object]] = []
        duplicates = 0
        async with self.db.transaction() as session:
            seen = set(
                await session.scalars(
                    select(inbox.c.event_id).where(
                        inbox.c.consumer == self.name,
                        inbox.c.event_id.in_({e.id for _, e in ready}),
                    )
                )
            )
            for record, event in ready:
                if event.id in seen:
                    duplicates += 1
                    continue
                with self._span(record, event):
                    await self.handler(session, event)
                    # Flushed inside the span so the event's SQL belongs to its trace.
                    await session.flush()
                    log.debug(
                        "consumer %s applied %s %s (key %s)",
                        self.name,
                        event.type,
                        event.id,
                        event.key,
                    )
                seen.add(event.id)
                applied.append(event)
                rows.append(self._inbox_row(record, event, "done"))
            if rows:
                await session.execute(insert(inbox), rows)
        for event in applied:
            log.debug(
                "consumer %s applied %s %s (key %s)", self.name, event.type, event.id, event.key
            )
        return applied, duplicates

    def _span(self, record: ConsumerRecord, event: Envelope | None):  # type: ignore[no-untyped-def]
        parent = propagate.extract(_HeaderCarrier(list(record.headers or [])))
        attributes: dict[str, str | int] = {
            "messaging.system": "kafka",
            "messaging.destination.name": record.topic,
            "messaging.consumer.group.name": self.name,
            "messaging.kafka.offset": record.offset,
        }
        if event is not None:
            attributes.update(
                {
                    "messaging.message.id": event.id,
                    "hub.event_type": event.type,
                    "hub.aggregate_id": event.key,
                }
            )
        return _tracer.start_as_current_span(
            f"{record.topic} process",
            context=parent,
            kind=trace.SpanKind.CONSUMER,
            attributes=attributes,
        )

    def _decode(self, record: ConsumerRecord) -> Envelope:
        try:
            event = Envelope.from_kafka(record.key, record.value, list(record.headers or []))
        except MalformedEvent as exc:
            raise _Poison(str(exc)) from exc
        if self.event_types is not None and event.type not in self.event_types:
            return event
        try:
            errors = self.contracts.get(event.type).errors(event.data)
        except UnknownEventType as exc:
            raise _Poison(str(exc), event) from exc
        if errors:
            raise _Poison("contract violation: " + "; ".join(errors[:5]), event)
        return event

    async def _apply_with_retries(
        self, record: ConsumerRecord, producer: AIOKafkaProducer, event: Envelope
    ) -> None:
        """Apply one event until it succeeds or is known to be impossible.

        Transient failures (database or broker away, conflicts, SQLite busy) are retried
        with capped backoff and no limit: the partition waits on this event, nothing goes
        to the DLQ. Refusals go to the DLQ at once. Anything else may be a transient we
        do not recognise, so it gets ``max_attempts`` tries before the DLQ.
        """
        attempts = 0  # failures that count toward the DLQ
        waits = 0
        last_error = ""
        while True:
            try:
                applied = await self._apply_once(record, event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                if is_permanent_event_error(exc):
                    await self._dead_letter(
                        record, producer, f"refused: {last_error}", attempts + 1, event
                    )
                    return
                if is_transient_db_error(exc):
                    waits += 1
                    delay = min(self.retry_backoff * 2 ** min(waits - 1, 20), self.max_backoff)
                    _transient.add(1, {"consumer": self.name})
                    log.warning(
                        "consumer %s: event %s met a transient failure (wait %d, next in "
                        "%.1fs; it never goes to the DLQ for this): %s",
                        self.name,
                        event.id,
                        waits,
                        delay,
                        # First line only: the SQL and its parameters stay out of the log.
                        last_error.splitlines()[0][:300],
                    )
                    await asyncio.sleep(delay)
                    continue
                attempts += 1
                log.warning(
                    "consumer %s: event %s failed (attempt %d/%d): %s",
                    self.name,
                    event.id,
                    attempts,
                    self.max_attempts,
                    last_error,
                )
                if attempts >= self.max_attempts:
                    break
                await asyncio.sleep(min(self.retry_backoff * 2 ** (attempts - 1), self.max_backoff))
                continue
            _applied.add(int(applied), {"consumer": self.name})
            _duplicates.add(int(not applied), {"consumer": self.name})
            if applied:
                self.stats.applied += 1
                log.debug(
                    "consumer %s applied %s %s (key %s)", self.name, event.type, event.id, event.key
                )
            else:
                self.stats.duplicates += 1
                log.debug("consumer %s skipped duplicate %s", self.name, event.id)
            return
        await self._dead_letter(record, producer, last_error, attempts, event)

    async def _apply_once(self, record: ConsumerRecord, event: Envelope) -> bool:
        async with self.db.transaction() as session:
            seen = await session.scalar(
                select(inbox.c.event_id).where(
                    inbox.c.consumer == self.name, inbox.c.event_id == event.id
                )
            )
            if seen is not None:
                return False
            await self._insert_inbox(session, record, event, "done")
            await self.handler(session, event)
        return True

    def _inbox_row(self, record: ConsumerRecord, event: Envelope, status: str) -> dict[str, object]:
        return {
            "consumer": self.name,
            "event_id": event.id,
            "event_type": event.type,
            "topic": record.topic,
            "partition": record.partition,
            "offset": record.offset,
            "status": status,
            "processed_at": utcnow(),
        }

    async def _insert_inbox(
        self, session: AsyncSession, record: ConsumerRecord, event: Envelope, status: str
    ) -> None:
        await session.execute(insert(inbox).values(**self._inbox_row(record, event, status)))

    async def _dead_letter(
        self,
        record: ConsumerRecord,
        producer: AIOKafkaProducer,
        error: str,
        attempts: int,
        event: Envelope | None,
    ) -> None:
        log.error(
            "consumer %s: event at %s[%d]@%d dead-lettered: %s",
            self.name,
            record.topic,
            record.partition,
            record.offset,
            mask_text(error),
        )
        headers = [(k, v) for k, v in (record.headers or []) if not k.startswith("dlq_")]
        headers += [
            ("dlq_error", error[:4000].encode()),
            ("dlq_consumer", self.name.encode()),
            ("dlq_attempts", str(attempts).encode()),
            ("dlq_source_topic", record.topic.encode()),
            ("dlq_source_partition", str(record.partition).encode()),
            ("dlq_source_offset", str(record.offset).encode()),
        ]
        fut = await producer.send(
            dlq_topic(record.topic), value=record.value, key=record.key, headers=headers
        )
        await fut
        async with self.db.transaction() as session:
            await session.execute(
                insert(dead_letters).values(
                    consumer=self.name,
                    event_id=event.id if event else None,
                    event_type=event.type if event else None,
                    topic=record.topic,
                    partition=record.partition,
                    offset=record.offset,
                    key=record.key.decode(errors="replace") if record.key else None,
                    error=mask_text(error[:4000]),
                    attempts=attempts,
                    **seal_dead_letter(
                        self.cipher,
                        {k: v.decode(errors="replace") for k, v in record.headers or [] if v},
                        (record.value or b"").decode(errors="replace"),
                    ),
                    created_at=utcnow(),
                )
            )
            if event is not None:
                already = await session.scalar(
                    select(inbox.c.event_id).where(
                        inbox.c.consumer == self.name, inbox.c.event_id == event.id
                    )
                )
                if already is None:
                    await self._insert_inbox(session, record, event, "dead")
        self.stats.dead_lettered += 1
        _dead.add(1, {"consumer": self.name, "topic": record.topic})


class _HeaderCarrier(dict[str, str]):
    """Trace context from Kafka headers: W3C ``traceparent``, else the CloudEvents copy."""

    def __init__(self, headers: list[tuple[str, bytes]]) -> None:
        super().__init__()
        for k, v in headers:
            if v is None:
                continue
            if k in ("traceparent", "tracestate"):
                self[k] = v.decode(errors="replace")
            elif k == "ce_traceparent" and "traceparent" not in self:
                self["traceparent"] = v.decode(errors="replace")
