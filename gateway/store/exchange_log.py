"""交换日志 (exchange log): who sent what, when, with which trace — hash-chained.

Each entry stores the previous entry's hash and its own hash = SM3 over a canonical
JSON of every field (including ``seq`` and ``prev_hash``), so editing, deleting or
re-ordering any entry breaks the chain from that point on; :func:`verify_chain` finds
the first broken link. Appends are serialised (an advisory lock on PostgreSQL, the single
writer on SQLite; the unique ``seq`` catches anything else), so the chain never forks.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.store.tables import ExchangeLogEntry
from services.runtime.crypto import sm3_hex
from services.runtime.db import utcnow

GENESIS_HASH = "0" * 64
_APPEND_LOCK_KEY = 0x65786C6F67  # "exlog": one advisory lock for all appends


@dataclass(frozen=True)
class LogRecord:
    """What a caller tells the log about one call (never a submitted value)."""

    client_id: str
    channel: str
    result: str
    accepted: int = 0
    duplicate: int = 0
    rejected: int = 0
    body_digest: str = ""
    trace_id: str | None = None
    request_id: str | None = None
    detail: str | None = None


def entry_hash(
    *,
    seq: int,
    created_at: datetime,
    prev_hash: str,
    client_id: str,
    channel: str,
    result: str,
    accepted: int,
    duplicate: int,
    rejected: int,
    body_digest: str,
    trace_id: str | None,
    request_id: str | None,
    detail: str | None,
) -> str:
    canonical = json.dumps(
        {
            "seq": seq,
            "created_at": created_at.isoformat(timespec="microseconds"),
            "prev_hash": prev_hash,
            "client_id": client_id,
            "channel": channel,
            "result": result,
            "accepted": accepted,
            "duplicate": duplicate,
            "rejected": rejected,
            "body_digest": body_digest,
            "trace_id": trace_id,
            "request_id": request_id,
            "detail": detail,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return sm3_hex(canonical.encode("utf-8"))


async def append(session: AsyncSession, record: LogRecord) -> ExchangeLogEntry:
    """Append one entry in the caller's transaction (call it last: the lock lasts until
    commit)."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK_KEY})
    last = (
        await session.execute(
            select(ExchangeLogEntry.seq, ExchangeLogEntry.entry_hash)
            .order_by(ExchangeLogEntry.seq.desc())
            .limit(1)
        )
    ).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    fields = {
        "seq": seq,
        "created_at": utcnow(),
        "prev_hash": prev,
        "client_id": record.client_id[:100],
        "channel": record.channel,
        "result": record.result,
        "accepted": record.accepted,
        "duplicate": record.duplicate,
        "rejected": record.rejected,
        "body_digest": record.body_digest,
        "trace_id": record.trace_id,
        "request_id": record.request_id,
        "detail": record.detail[:500] if record.detail else None,
    }
    entry = ExchangeLogEntry(**fields, entry_hash=entry_hash(**fields))
    session.add(entry)
    await session.flush()
    return entry


@dataclass(frozen=True)
class ChainVerdict:
    ok: bool
    entries: int
    broken_at: int | None = None
    reason: str | None = None


async def verify_chain(session: AsyncSession, *, batch: int = 5000) -> ChainVerdict:
    """Walk the whole log in order and recompute every link."""
    prev, expected_seq, count = GENESIS_HASH, 1, 0
    while True:
        rows = (
            (
                await session.execute(
                    select(ExchangeLogEntry)
                    .where(ExchangeLogEntry.seq >= expected_seq)
                    .order_by(ExchangeLogEntry.seq)
                    .limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            return ChainVerdict(True, count)
        for row in rows:
            if row.seq != expected_seq:
                return ChainVerdict(False, count, expected_seq, "entry missing")
            if row.prev_hash != prev:
                return ChainVerdict(False, count, row.seq, "previous-hash link broken")
            recomputed = entry_hash(
                seq=row.seq,
                created_at=row.created_at,
                prev_hash=row.prev_hash,
                client_id=row.client_id,
                channel=row.channel,
                result=row.result,
                accepted=row.accepted,
                duplicate=row.duplicate,
                rejected=row.rejected,
                body_digest=row.body_digest,
                trace_id=row.trace_id,
                request_id=row.request_id,
                detail=row.detail,
            )
            if recomputed != row.entry_hash:
                return ChainVerdict(False, count, row.seq, "entry content altered")
            prev, expected_seq, count = row.entry_hash, row.seq + 1, count + 1
