"""The event backbone of one process: outbox relay, inbox consumers, topic setup.

Services call :meth:`Messaging.publish` inside their own transaction and register
consumers with :meth:`Messaging.consume`; :meth:`start` runs everything in the
background and keeps retrying while the broker is away, so requests never wait on it.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaProducer
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import EventContracts, default_contracts
from services.runtime.background import cancel_all
from services.runtime.db import Database, utcnow
from services.runtime.messaging.consumer import Handler, InboxConsumer, PermanentEventError
from services.runtime.messaging.envelope import Envelope
from services.runtime.messaging.kafka import (
    dlq_topic,
    ensure_topics,
    list_topics,
    make_consumer,
    make_producer,
    relay_marker_topic,
)
from services.runtime.messaging.outbox import (
    OUTBOX_DIRTY,
    OutboxRelay,
    add_to_outbox,
    requeue_recent,
)
from services.runtime.messaging.tables import messaging_metadata
from services.runtime.pii import pii_cipher
from services.runtime.settings import HubSettings

log = logging.getLogger("hub.messaging")

__all__ = [
    "Envelope",
    "Messaging",
    "PermanentEventError",
    "dlq_topic",
    "messaging_metadata",
]


class Messaging:
    def __init__(
        self,
        settings: HubSettings,
        db: Database,
        contracts: EventContracts | None = None,
        *,
        topics: Iterable[str] = (),
    ) -> None:
        self.settings = settings
        self.db = db
        self.contracts = contracts or default_contracts()
        self.source = f"/hub/{settings.service_name}"
        self.topics = set(topics)
        self.consumers: list[InboxConsumer] = []
        self.producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.broker_connected = False
        self.replayed_total = 0
        sa_event.listen(db.session_class, "after_commit", self._after_commit)

    # -- producing -------------------------------------------------------------------
    async def publish(
        self,
        session: AsyncSession,
        event_type: str,
        *,
        key: str,
        data: dict[str, Any],
        subject: str | None = None,
        event_id: str | None = None,
        occurred_at: datetime | None = None,
    ) -> str:
        """Add an event to the outbox in ``session``'s transaction."""
        return await add_to_outbox(
            session,
            self.contracts,
            source=self.source,
            event_type=event_type,
            key=key,
            data=data,
            subject=subject,
            event_id=event_id,
            occurred_at=occurred_at,
        )

    def _after_commit(self, session: Any) -> None:
        if session.info.pop(OUTBOX_DIRTY, False) and self.relay is not None:
            self.relay.wake()

    # -- consuming -------------------------------------------------------------------
    def consume(
        self,
        name: str,
        topics: list[str],
        handler: Handler,
        *,
        event_types: Iterable[str] | None = None,
    ) -> InboxConsumer:
        consumer = InboxConsumer(
            name=name,
            topics=topics,
            handler=handler,
            db=self.db,
            contracts=self.contracts,
            event_types=event_types,
            max_attempts=self.settings.consumer_max_attempts,
            retry_backoff=self.settings.consumer_retry_backoff,
            max_backoff=self.settings.consumer_max_backoff,
            crash_after_apply=self.settings.fault_crash_after_apply,
            cipher=pii_cipher(self.settings),
        )
        self.consumers.append(consumer)
        return consumer

    # -- lifecycle -------------------------------------------------------------------
    def all_topics(self) -> set[str]:
        topics = set(self.topics)
        for consumer in self.consumers:
            topics.update(consumer.topics)
        return topics | {dlq_topic(t) for t in topics}

    async def start(self) -> None:
        if not self.settings.kafka_enabled:
            log.warning("kafka disabled: events stay in the outbox")
            return
        self._tasks.append(asyncio.create_task(self._run_producer_side(), name="outbox-relay"))
        for consumer in self.consumers:
            self._tasks.append(
                asyncio.create_task(self._run_consumer(consumer), name=f"consumer-{consumer.name}")
            )

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks.clear()

    async def broker_ready(self, timeout: float = 2.0) -> bool:
        producer = self.producer
        if producer is None:
            return False
        try:
            await asyncio.wait_for(producer.client.fetch_all_metadata(), timeout)
        except Exception:
            return False
        return True

    async def _ensure_topics(self, _exc: Exception | None = None) -> None:
        await ensure_topics(self.settings, self.all_topics())
        marker = relay_marker_topic(self.settings.service_name)
        if marker not in await list_topics(self.settings):
            # Replay first, marker after: if the replay fails, the next round replays.
            await self._replay_recent()
            await ensure_topics(self.settings, {marker})

    async def _replay_recent(self) -> None:
        """The broker came up empty (its topics had to be created): what the relay sent
        recently may never have been consumed, so it is sent again. On a durable Kafka
        the marker topic persists and this never runs after the first start."""
        window = self.settings.outbox_replay_window
        if window <= 0:
            return
        since = utcnow() - timedelta(seconds=window)
        async with self.db.transaction() as session:
            count = await requeue_recent(session, since)
        if count:
            log.warning(
                "broker came up empty: re-publishing %d events published since %s "
                "(consumers' inboxes absorb the ones already applied)",
                count,
                since.isoformat(timespec="seconds"),
            )
        self.replayed_total += count

    async def _run_producer_side(self) -> None:
        backoff = 0.2
        while True:
            producer = make_producer(self.settings)
            try:
                await producer.start()
                await self._ensure_topics()
            except asyncio.CancelledError:
                await producer.stop()
                raise
            except Exception as exc:
                log.warning("broker not reachable (%s); retrying in %.1fs", exc, backoff)
                await producer.stop()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.settings.outbox_max_backoff)
                continue
            self.producer = producer
            self.broker_connected = True
            self.relay = OutboxRelay(
                self.db,
                producer,
                batch_size=self.settings.outbox_batch_size,
                poll_interval=self.settings.outbox_poll_interval,
                max_backoff=self.settings.outbox_max_backoff,
                lock_key=zlib.crc32(self.source.encode()),
                on_failure=self._ensure_topics,
                max_attempts=self.settings.outbox_max_attempts,
            )
            try:
                await self.relay.run()
            finally:
                self.broker_connected = False
                await producer.stop()

    async def _run_consumer(self, consumer: InboxConsumer) -> None:
        backoff = 0.2
        while self.producer is None:
            await asyncio.sleep(0.1)
        while True:
            kafka_consumer = make_consumer(self.settings, consumer.name, consumer.topics)
            try:
                await kafka_consumer.start()
                backoff = 0.2
                await consumer.run(kafka_consumer, self.producer)
            except asyncio.CancelledError:
                await kafka_consumer.stop()
                raise
            except Exception as exc:
                log.warning(
                    "consumer %s stopped (%s); restarting in %.1fs", consumer.name, exc, backoff
                )
                await kafka_consumer.stop()
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, self.settings.outbox_max_backoff)
