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
    # Set when the relay gave up on the row (it can never be published): the row waits
    # for an operator, later rows flow (same-key rows wait behind it; see outbox.py).
    Column("parked_at", UTCDateTime()),
    Index("ix_outbox_published_at", "published_at"),
    # The relay asks on every round which keys wait behind a parked row: keep it tiny.
    Index(
        "ix_outbox_parked_key",
        "key",
        postgresql_where=text("parked_at IS NOT NULL AND published_at IS NULL"),
        sqlite_where=text("parked_at IS NOT NULL AND published_at IS NULL"),
    ),
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
    Index("ix_inbox_processed_at", "processed_at"),  # retention
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
    # Encrypted with the PII cipher (see dead_letters.py): an event may carry ID numbers.
    Column("headers", JSON, nullable=False),
    Column("value", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False, default=utcnow),
    Column("resolved_at", UTCDateTime()),
    Column("resolution", String(16)),  # redriven | discarded
)
