"""Tables of the gateway: client registry, exchange log, intake bookkeeping.

No table here holds raw personal data: applicant ID numbers travel only inside the
outbox payload (the canonical event contract needs them); everything the gateway keeps for
itself (intake records, idempotent answers, per-row results, the exchange log) carries
ids, digests, counts and messages that never quote a submitted value.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from services.runtime.db import UTCDateTime, make_base, utcnow

Base = make_base()

_BigId = BigInteger().with_variant(Integer(), "sqlite")


class ExternalClient(Base):
    """外部系统: a county or department system allowed to push 办件 to the hub."""

    __tablename__ = "external_clients"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The orgs (统一社会信用代码) it reports for: an event's handler org and the
    # implementing body of its 实施编码 must be one of them.
    orgs: Mapped[list[str]] = mapped_column(JSON)
    channels: Mapped[list[str]] = mapped_column(JSON)
    # The app key is public (it names the client in every signed call); the secret is
    # needed in clear to recompute HMACs, so it is encrypted (pii_cipher), not hashed.
    app_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="active")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntakeRecord(Base):
    """One accepted inbound 办件 event: the key of duplicate detection."""

    __tablename__ = "intake_records"
    __table_args__ = (UniqueConstraint("source_system", "event_id"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    source_system: Mapped[str] = mapped_column(String(100))
    event_id: Mapped[str] = mapped_column(String(64))
    case_no: Mapped[str] = mapped_column(String(43), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    content_digest: Mapped[str] = mapped_column(String(64))
    outbox_event_id: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IdempotencyRecord(Base):
    """Front door ``Idempotency-Key`` (gateway/policies): a POST in flight or its answer.

    ``state`` is ``pending`` while the first call runs (a duplicate gets 409) and ``done``
    with the answer afterwards (a replay gets it back) until ``expires_at``.
    """

    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("client_id", "idempotency_key"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[str] = mapped_column(String(100))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    request_digest: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(8))
    status_code: Mapped[int | None] = mapped_column(Integer)
    content_type: Mapped[str | None] = mapped_column(String(200))
    body: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class UsedNonce(Base):
    """A nonce of a signed legacy call, kept until its timestamp can no longer pass."""

    __tablename__ = "used_nonces"

    app_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    nonce: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class ExchangeWatermark(Base):
    """前置库 progress: the highest exchange-table row id finalised in the hub."""

    __tablename__ = "exchange_watermarks"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_row_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExchangeRowResult(Base):
    """A row's outcome, committed with its events, until written back to the 前置库.

    It lets a restarted adapter finish the write-back without re-reading the row.
    """

    __tablename__ = "exchange_row_results"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    row_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntakeFailure(Base):
    """An exchange-table row or dropped file whose processing raised: counted so that it
    is set aside (``failed``) after ``intake_max_item_attempts`` tries instead of blocking
    its source. Forgotten once the item is set aside or finally succeeds."""

    __tablename__ = "intake_failures"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    item: Mapped[str] = mapped_column(String(500), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class IntakeFile(Base):
    """A dropped file that was processed: its digest makes processing exactly-once."""

    __tablename__ = "intake_files"
    __table_args__ = (UniqueConstraint("source", "digest"),)

    id: Mapped[int] = mapped_column(_BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(200))
    digest: Mapped[str] = mapped_column(String(64))
    file_name: Mapped[str] = mapped_column(String(500))
    outcome: Mapped[str] = mapped_column(String(16))
    report: Mapped[dict[str, Any]] = mapped_column(JSON)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ExchangeLogEntry(Base):
    """交换日志: one entry per inbound call, append-only and hash-chained."""

    __tablename__ = "exchange_log"
    __table_args__ = (Index("ix_exchange_log_client_time", "client_id", "created_at"),)

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    client_id: Mapped[str] = mapped_column(String(100))
    channel: Mapped[str] = mapped_column(String(20))
    result: Mapped[str] = mapped_column(String(20))
    accepted: Mapped[int] = mapped_column(Integer)
    duplicate: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    body_digest: Mapped[str] = mapped_column(String(64))
    trace_id: Mapped[str | None] = mapped_column(String(32))
    request_id: Mapped[str | None] = mapped_column(String(128))
    detail: Mapped[str | None] = mapped_column(String(500))
    prev_hash: Mapped[str] = mapped_column(String(64))
    entry_hash: Mapped[str] = mapped_column(String(64), unique=True)
