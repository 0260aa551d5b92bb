"""Accepting normalised 办件 events: duplicate check, outbox, exchange log — one transaction.

Every channel ends here. For one call (a REST batch, a SOAP request, a batch of
exchange-table rows, one file) the accepted events, their intake records, the channel's
own bookkeeping (idempotent answer, row results, file digest) and the exchange-log entry
commit together, so a caller that hears "accepted" has its events durable in the outbox,
and a crash leaves nothing half-written.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from opentelemetry import trace
from sqlalchemy import delete, select, tuple_
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.intake.canonical import FieldError, Normalised, normalise
from gateway.adapters.intake.limits import MAX_DEPTH, depth_exceeds
from gateway.store import exchange_log
from gateway.store.tables import IntakeFailure, IntakeRecord
from services.runtime.app import Hub
from services.runtime.context import current_request_id
from services.runtime.crypto import sm3_hex
from services.runtime.db import utcnow

log = logging.getLogger("hub.gateway.intake")

EVENT_TYPE = "hub.case.event.received"
# Outbox/CloudEvents id = UUIDv5 of (source system, event id): the same source event
# always carries the same id downstream, whichever channel or retry delivered it.
_EVENT_NAMESPACE = uuid.UUID("6f1c2a52-8f0e-4f3e-9a55-5c0b3b9c1e01")
MAX_ATTEMPTS = 3

Status = Literal["accepted", "duplicate", "rejected"]


@dataclass
class ItemResult:
    """The answer for one item of a call."""

    index: int
    status: Status
    event_id: str | None = None
    case_no: str | None = None
    errors: list[dict[str, str]] = field(default_factory=list)
    note: str | None = None

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.index, "status": self.status}
        if self.event_id is not None:
            body["event_id"] = self.event_id
        if self.case_no is not None:
            body["case_no"] = self.case_no
        if self.errors:
            body["errors"] = self.errors
        if self.note:
            body["note"] = self.note
        return body


@dataclass(frozen=True)
class Counts:
    accepted: int
    duplicate: int
    rejected: int

    @classmethod
    def of(cls, results: Sequence[ItemResult]) -> Counts:
        return cls(
            sum(r.status == "accepted" for r in results),
            sum(r.status == "duplicate" for r in results),
            sum(r.status == "rejected" for r in results),
        )

    @property
    def label(self) -> str:
        """Exchange-log result: ok (nothing rejected), rejected (nothing taken) or partial."""
        if self.rejected == 0:
            return "ok"
        if self.accepted + self.duplicate == 0:
            return "rejected"
        return "partial"

    def as_dict(self) -> dict[str, int]:
        return {"accepted": self.accepted, "duplicate": self.duplicate, "rejected": self.rejected}


def outbox_event_id(source_system: str, event_id: str) -> str:
    return str(uuid.uuid5(_EVENT_NAMESPACE, f"{source_system}\n{event_id}"))


def content_digest(event: dict[str, Any]) -> str:
    """Digest of what the source said (the channel it used does not matter)."""
    body = {k: v for k, v in event.items() if k != "channel"}
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return sm3_hex(text.encode("utf-8"))


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return f"{ctx.trace_id:032x}" if ctx.trace_id else None


def _too_deep(event_id: str | None = None) -> Normalised:
    message = f"the event nests deeper than {MAX_DEPTH} levels"
    return Normalised(errors=[FieldError("", "too-deep", message)], event_id=event_id)


def normalise_one(raw: Any, *, source_system: str, channel: str) -> Normalised:
    """:func:`canonical.normalise` that never raises: a poisoned item is rejected alone.

    Documents are depth-checked by their channel (REST JSON, XML) before this runs."""
    try:
        item = normalise(raw, source_system=source_system, channel=channel)
    except RecursionError:  # e.g. deeply nested JSON text in a flat channel's column
        return _too_deep()
    except Exception as exc:  # one bad item must not sink or stall the others
        # Type only: the message of an arbitrary exception may quote the item (PII).
        log.error("unexpected %s normalising an item from %s", type(exc).__name__, source_system)
        message = f"the item could not be processed ({type(exc).__name__})"
        return Normalised(errors=[FieldError("", "unprocessable", message)])
    # Free-form parts may come from JSON text (flat channels): measured once parsed.
    if item.event is not None and any(
        depth_exceeds(item.event.get(part), MAX_DEPTH - 1) for part in ("detail", "result")
    ):
        return _too_deep(item.event_id)
    return item


def normalise_all(
    raw_items: Sequence[Any], *, source_system: str, channel: str
) -> list[Normalised]:
    return [normalise_one(raw, source_system=source_system, channel=channel) for raw in raw_items]


def foreign_org_errors(event: dict[str, Any], orgs: Collection[str]) -> list[dict[str, str]]:
    """Errors when the event speaks for an org the client is not registered for: its
    handler's org, or the implementing body of its 实施编码 (the code's first 18 chars)."""
    errors: list[dict[str, str]] = []
    body = str(event.get("implementation_code") or event["case_no"])[:18]
    if body not in orgs:
        errors.append(
            FieldError(
                "implementation_code",
                "org-not-allowed",
                "the implementing body of this 实施编码 is not an org this client reports for",
            ).as_dict()
        )
    handler = event.get("handler") or {}
    org = handler.get("org_uscc") if isinstance(handler, dict) else None
    if org and org not in orgs:
        errors.append(
            FieldError(
                "handler.org_uscc",
                "org-not-allowed",
                "handler.org_uscc is not an org this client reports for",
            ).as_dict()
        )
    return errors


async def record_events(
    session: AsyncSession,
    hub: Hub,
    *,
    source_system: str,
    orgs: Collection[str],
    items: Sequence[Normalised],
) -> list[ItemResult]:
    """Publish every valid, new item of an org the client reports for to the outbox and
    remember it; report every item."""
    valid_ids = [n.event["event_id"] for n in items if n.event is not None]
    known: dict[str, str] = {}
    for start in range(0, len(valid_ids), 500):
        chunk = valid_ids[start : start + 500]
        rows = await session.execute(
            select(IntakeRecord.event_id, IntakeRecord.content_digest).where(
                tuple_(IntakeRecord.source_system, IntakeRecord.event_id).in_(
                    [(source_system, e) for e in chunk]
                )
            )
        )
        known.update({event_id: digest for event_id, digest in rows.all()})
    results: list[ItemResult] = []
    records: list[IntakeRecord] = []
    for index, item in enumerate(items):
        if item.event is None:
            errors = [e.as_dict() for e in item.errors]
            results.append(ItemResult(index, "rejected", item.event_id, errors=errors))
            continue
        event = item.event
        foreign = foreign_org_errors(event, orgs)
        if foreign:
            results.append(ItemResult(index, "rejected", event["event_id"], errors=foreign))
            continue
        digest = content_digest(event)
        if event["event_id"] in known:
            note = None
            if known[event["event_id"]] != digest:
                note = "content differs from the event accepted first under this event_id"
            results.append(
                ItemResult(index, "duplicate", event["event_id"], event["case_no"], note=note)
            )
            continue
        known[event["event_id"]] = digest
        outbox_id = outbox_event_id(source_system, event["event_id"])
        await hub.messaging.publish(
            session,
            EVENT_TYPE,
            key=event["case_no"],
            data=event,
            subject=event["case_no"],
            event_id=outbox_id,
            occurred_at=datetime.fromisoformat(event["occurred_at"]),
        )
        records.append(
            IntakeRecord(
                source_system=source_system,
                event_id=event["event_id"],
                case_no=event["case_no"],
                channel=event["channel"],
                content_digest=digest,
                outbox_event_id=outbox_id,
            )
        )
        results.append(ItemResult(index, "accepted", event["event_id"], event["case_no"]))
    session.add_all(records)
    await session.flush()
    return results


ExtraStep = Callable[[AsyncSession, list[ItemResult]], Awaitable[None]]


async def accept_call(
    hub: Hub,
    *,
    client_id: str,
    orgs: Collection[str],
    channel: str,
    items: Sequence[Normalised],
    body_digest: str,
    extra: ExtraStep | None = None,
    detail: str | None = None,
) -> list[ItemResult]:
    """One call's whole effect in one transaction; retried when a concurrent call won a race
    on the same event id (the retry then sees it as a duplicate)."""
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with hub.db.transaction() as session:
                results = await record_events(
                    session, hub, source_system=client_id, orgs=orgs, items=items
                )
                if extra is not None:
                    await extra(session, results)
                counts = Counts.of(results)
                await exchange_log.append(
                    session,
                    exchange_log.LogRecord(
                        client_id=client_id,
                        channel=channel,
                        result=counts.label,
                        accepted=counts.accepted,
                        duplicate=counts.duplicate,
                        rejected=counts.rejected,
                        body_digest=body_digest,
                        trace_id=current_trace_id(),
                        request_id=current_request_id(),
                        detail=detail,
                    ),
                )
            return results
        except IntegrityError:
            if attempt == MAX_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def log_call(
    hub: Hub,
    *,
    client_id: str,
    channel: str,
    result: str,
    body_digest: str,
    detail: str | None,
    counts: Counts | None = None,
) -> None:
    """An exchange-log entry for a call that stored nothing else (refused, replayed)."""
    counts = counts or Counts(0, 0, 0)
    for attempt in range(1, MAX_ATTEMPTS + 1):
        try:
            async with hub.db.transaction() as session:
                await exchange_log.append(
                    session,
                    exchange_log.LogRecord(
                        client_id=client_id,
                        channel=channel,
                        result=result,
                        accepted=counts.accepted,
                        duplicate=counts.duplicate,
                        rejected=counts.rejected,
                        body_digest=body_digest,
                        trace_id=current_trace_id(),
                        request_id=current_request_id(),
                        detail=detail,
                    ),
                )
            return
        except IntegrityError:
            if attempt == MAX_ATTEMPTS:
                raise


def is_transient(exc: BaseException) -> bool:
    """A failure of the hub's own resources (database or network down), not of the item:
    retried without counting against the item, so an outage never sets valid items aside."""
    if isinstance(exc, OperationalError | InterfaceError | ConnectionError | TimeoutError):
        return True
    return isinstance(exc, DBAPIError) and bool(exc.connection_invalidated)


def failure_label(exc: BaseException) -> str:
    """What a report may say about an exception: its type only (a driver's message can
    quote the offending value, e.g. an ID number)."""
    return type(exc).__name__


async def count_failure(hub: Hub, *, source: str, item: str, exc: BaseException) -> int:
    """Count one failed attempt at ``item``; returns the attempts so far."""
    async with hub.db.transaction() as session:
        row = await session.get(IntakeFailure, (source, item))
        if row is None:
            row = IntakeFailure(source=source, item=item, attempts=0)
            session.add(row)
        row.attempts += 1
        row.last_error = failure_label(exc)
        row.updated_at = utcnow()
        return row.attempts


async def forget_failures(session: AsyncSession, *, source: str, items: Sequence[str]) -> None:
    if items:
        await session.execute(
            delete(IntakeFailure).where(
                IntakeFailure.source == source, IntakeFailure.item.in_(list(items))
            )
        )
