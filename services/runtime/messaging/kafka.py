"""aiokafka factories. Broker agnostic: the same settings serve Apache Kafka and Tansu.

The idempotent producer is off because the local broker lacks InitProducerId; ordering
per key still holds (one in-flight batch per partition) and consumers de-duplicate.
"""

from __future__ import annotations

import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from services.runtime.settings import HubSettings

log = logging.getLogger("hub.kafka")


def dlq_topic(topic: str) -> str:
    return f"{topic}.dlq"


def make_producer(settings: HubSettings) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=settings.kafka_client_id or f"hub-{settings.service_name}",
        enable_idempotence=False,
        acks="all",
        linger_ms=5,
        request_timeout_ms=15000,
        retry_backoff_ms=200,
        metadata_max_age_ms=10000,
    )


def make_consumer(settings: HubSettings, group_id: str, topics: list[str]) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=settings.kafka_client_id or f"hub-{settings.service_name}",
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # Short metadata age so a topic re-created after a broker restart is found soon.
        metadata_max_age_ms=5000,
        session_timeout_ms=10000,
        heartbeat_interval_ms=1000,
        max_poll_interval_ms=300000,
    )


def relay_marker_topic(service_name: str) -> str:
    """A topic only this service's relay creates: finding it missing means the broker
    lost everything (the in-memory local broker restarted), see Messaging._ensure_topics."""
    return f"hub.relay-marker.{service_name}"


async def list_topics(settings: HubSettings) -> set[str]:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"hub-{settings.service_name}-admin",
        request_timeout_ms=10000,
    )
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def ensure_topics(settings: HubSettings, topics: set[str]) -> set[str]:
    """Create the topics (and their DLQs' callers pass them) if they are missing; returns
    the ones that had to be created."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id=f"hub-{settings.service_name}-admin",
        request_timeout_ms=10000,
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(topics - existing)
        if not missing:
            return set()
        new = [
            NewTopic(t, settings.kafka_topic_partitions, settings.kafka_replication_factor)
            for t in missing
        ]
        try:
            await admin.create_topics(new)
        except TopicAlreadyExistsError:
            pass
        log.info("created topics %s", missing)
        return set(missing)
    finally:
        await admin.close()
