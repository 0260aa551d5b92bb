"""Retention: rows whose job is done are purged, in small batches, by every process.

The runtime registers the messaging tables (published outbox rows, inbox ids, resolved
dead letters); each service registers its own short-lived rows (nonces, expired tokens …)
with :meth:`Retention.purge`. A round deletes at most ``batch_size`` rows per statement in
its own short transaction, so a large backlog never holds a table lock for long; a round
that hit a full batch asks the background runner to come back at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from opentelemetry import metrics
from sqlalchemy import ColumnElement, Table, delete, select, tuple_

from services.runtime.db import Database, utcnow
from services.runtime.messaging.tables import dead_letters, inbox, outbox
from services.runtime.settings import HubSettings

log = logging.getLogger("hub.retention")
_purged = metrics.get_meter("hub.retention").create_counter(
    "hub.retention.purged", description="rows deleted by retention"
)

Condition = Callable[[datetime], ColumnElement[bool]]


@dataclass(frozen=True)
class Rule:
    """Rows of ``table`` matching ``condition(now)`` may go."""

    name: str
    table: Table
    condition: Condition


class Retention:
    def __init__(self, db: Database, settings: HubSettings) -> None:
        self.db = db
        self.batch_size = settings.retention_batch_size
        self.grace = timedelta(days=settings.retention_grace_days)
        self.rules: list[Rule] = []
        self._messaging_rules(settings)

    def _messaging_rules(self, s: HubSettings) -> None:
        outbox_age = timedelta(days=s.retention_outbox_days)
        inbox_age = timedelta(days=s.retention_inbox_days)
        dead_age = timedelta(days=s.retention_dead_letter_days)
        self.purge(
            "outbox.published",
            outbox,
            # Parked-then-discarded rows are published too; they go the same way.
            lambda now: outbox.c.published_at < now - outbox_age,
        )
        self.purge("inbox", inbox, lambda now: inbox.c.processed_at < now - inbox_age)
        self.purge(
            "dead_letters.resolved",
            dead_letters,
            lambda now: dead_letters.c.resolved_at < now - dead_age,
        )

    def purge(self, name: str, table: Table | type, condition: Condition) -> None:
        """Register rows to purge: ``table`` (a Table or a mapped class) where
        ``condition(now)`` holds. ``self.grace`` is the usual slack after an expiry."""
        resolved = table if isinstance(table, Table) else table.__table__  # type: ignore[attr-defined]
        self.rules.append(Rule(name, resolved, condition))

    async def run_once(self, now: datetime | None = None) -> int:
        """One round over every rule, one batch each. Returns the batch size when some rule
        filled a batch (more is waiting: the background runner comes back at once), else 0."""
        now = now or utcnow()
        more = False
        for rule in self.rules:
            deleted = await self._purge_batch(rule, now)
            more = more or deleted >= self.batch_size
            if deleted:
                _purged.add(deleted, {"rule": rule.name})
                log.info("retention %s: purged %d rows", rule.name, deleted)
        return self.batch_size if more else 0

    async def run_until_done(self, now: datetime | None = None) -> int:
        """Rounds until nothing old is left (tests, CLI)."""
        total = 0
        while True:
            deleted = await self._round_total(now)
            total += deleted
            if deleted == 0:
                return total

    async def _round_total(self, now: datetime | None) -> int:
        now = now or utcnow()
        total = 0
        for rule in self.rules:
            total += await self._purge_batch(rule, now)
        return total

    async def _purge_batch(self, rule: Rule, now: datetime) -> int:
        pk = list(rule.table.primary_key.columns)
        key = pk[0] if len(pk) == 1 else tuple_(*pk)
        # PostgreSQL and SQLite both take "(a, b) IN (SELECT a, b ... LIMIT n)"; the limit
        # keeps each statement (and the locks it holds) small.
        victims = select(*pk).where(rule.condition(now)).limit(self.batch_size)
        statement = delete(rule.table).where(key.in_(victims))
        async with self.db.transaction() as session:
            result = await session.execute(statement)
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
