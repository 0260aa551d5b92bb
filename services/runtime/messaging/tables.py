"""Outbox, inbox and dead-letter tables: the same shape in every service's database.

They live in their own metadata; each service's migrations include it beside the
service's tables, so the rows are written in the same transaction as the state change.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    String,
    Table,
    Text,
    text,
)

from services.runtime.db import UTCDateTime, new_metadata, utcnow

messaging_metadata = new_metadata()

_BigId = BigInteger().with_variant(Integer(), "sqlite")

outbox = Table(
    "outbox",
    messaging_metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("event_id", String(64), nullable=False, unique=True),
    Column("topic", String(200), nullable=False),
    Column("key", String(200), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("source", String(200), nullable=False),
    Column("subject", String(200)),
    Column("dataschema", String(300)),
    Column("occurred_at", UTCDateTime(), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("trace_headers", JSON, nullable=False, default=dict),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("published_at", UTCDateTime()),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Index(
        "ix_outbox_pending",
        "id",
        postgresql_where=text("published_at IS NULL"),
        sqlite_where=text("published_at IS NULL"),
    ),
)

inbox = Table(
    "inbox",
    messaging_metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", String(64), primary_key=True),
    Column("event_type", String(200), nullable=False),
    Column("topic", String(200), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("status", String(16), nullable=False, default="done"),
    Column("processed_at", UTCDateTime(), nullable=False, default=utcnow),
)

dead_letters = Table(
    "dead_letters",
    messaging_metadata,
    Column("id", _BigId, primary_key=True, autoincrement=True),
    Column("consumer", String(100), nullable=False),
    Column("event_id", String(64)),
    Column("event_type", String(200)),
    Column("topic", String(200), nullable=False),
    Column("partition", Integer, nullable=False),
    Column("offset", BigInteger, nullable=False),
    Column("key", String(200)),
    Column("error", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("headers", JSON, nullable=False),
    Column("value", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
)
