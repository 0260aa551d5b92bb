"""File drop: CSV or XML files of 办件 events in a watched directory, one per source.

The directory is read only while its client is registered, active and allowed the
``file`` channel. A file whose processing raises (anything but an outage of the hub's own
database) is retried on the next polls and moved to ``failed/`` with a report after
``intake_max_item_attempts`` tries; the files after it are read meanwhile.

When a file is taken: ``*.csv`` / ``*.xml`` only (``*.part``, ``*.tmp``, hidden files and
anything else are ignored), and only when complete — either a marker ``<name>.done`` exists
(the writer creates it after closing the file), or the file's size and mtime have not
changed for ``settle_seconds`` across polls.

Exactly once: the file's SM3 digest is recorded in the gateway database in the SAME
transaction as its events. A file is then moved to ``done/`` (or ``failed/`` when it is
unreadable or every row was rejected) beside a ``<name>.report.json`` with one result per
row. If the adapter dies after the commit but before the move, the next poll finds the
digest already recorded and only finishes the move (events are not published again); if
it dies before the commit, nothing was recorded and the file is processed from scratch.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.adapters.intake.flat import FLAT_COLUMNS, row_to_raw
from gateway.adapters.intake.ingest import (
    Counts,
    ItemResult,
    accept_call,
    count_failure,
    failure_label,
    forget_failures,
    is_transient,
    log_call,
    normalise_all,
)
from gateway.adapters.intake.xml import XmlRefused, events_in, local_name, parse_document
from gateway.clients.registry import ClientRefused, admitted
from gateway.settings import FileDropSource
from gateway.store.tables import IntakeFile
from services.runtime.app import Hub
from services.runtime.crypto import sm3_hex
from services.runtime.db import utcnow

log = logging.getLogger("hub.gateway.intake.files")

CHANNEL = "file"
SUFFIXES = (".csv", ".xml")
DONE_MARKER = ".done"
MAX_ROWS = 100_000
REQUIRED_CSV_COLUMNS = ("event_id", "case_no", "stage", "occurred_at")


class FileRefused(ValueError):
    """The whole file is unreadable; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class _Seen:
    size: int
    mtime_ns: int
    since: float


def _decode(data: bytes) -> str:
    # Chinese government systems still write GB18030 (GBK) often; UTF-8 (BOM or not) first.
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FileRefused("bad-encoding", "the file is neither UTF-8 nor GB18030 text")


def read_csv(data: bytes) -> list[dict[str, Any]]:
    text = _decode(data)
    try:
        reader = csv.DictReader(io.StringIO(text, newline=""))
        header = [h.strip() for h in (reader.fieldnames or [])]
        missing = [c for c in REQUIRED_CSV_COLUMNS if c not in header]
        if missing:
            raise FileRefused("missing-columns", f"CSV header lacks: {', '.join(missing)}")
        reader.fieldnames = header
        rows: list[dict[str, Any]] = []
        for row in reader:
            if len(rows) >= MAX_ROWS:
                raise FileRefused("too-many-rows", f"at most {MAX_ROWS} rows per file")
            rows.append({k: row.get(k) for k in FLAT_COLUMNS})
    except csv.Error as exc:
        raise FileRefused("malformed-csv", f"the CSV cannot be read ({exc})") from exc
    if not rows:
        raise FileRefused("no-events", "the file has a header but no rows")
    return [row_to_raw(row) for row in rows]


def read_xml(data: bytes) -> list[Any]:
    try:
        root = parse_document(data)
        if local_name(root.tag) != "CaseEvents":
            raise FileRefused("not-case-events", "the root element must be <CaseEvents>")
        return events_in(root, limit=MAX_ROWS)
    except XmlRefused as exc:
        raise FileRefused(exc.code, str(exc)) from exc


def read_events(name: str, data: bytes) -> list[Any]:
    if name.lower().endswith(".csv"):
        return read_csv(data)
    return read_xml(data)


def _streamed_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class FileDropAdapter:
    """Watches one source directory."""

    def __init__(self, hub: Hub, source: FileDropSource) -> None:
        self.hub = hub
        self.source = source
        self.directory = Path(source.directory)
        self.key = f"file:{source.client_id}"
        self._seen: dict[str, _Seen] = {}
        # For operators: ``active``, or why the directory is not read (``refused: <code>``).
        self.status = "not polled yet"
        self.max_attempts = int(getattr(hub.settings, "intake_max_item_attempts", 3))
        self._orgs: frozenset[str] = frozenset()

    def ready_files(self) -> list[Path]:
        """Complete candidate files, oldest first."""
        if not self.directory.is_dir():
            return []
        now = time.monotonic()
        ready: list[Path] = []
        present: set[str] = set()
        for path in sorted(self.directory.iterdir(), key=lambda p: p.name):
            name = path.name
            if name.startswith(".") or not name.lower().endswith(SUFFIXES):
                continue
            try:
                stat = path.stat()
            except FileNotFoundError:
                continue
            if not path.is_file():
                continue
            present.add(name)
            if path.with_name(name + DONE_MARKER).exists():
                ready.append(path)
                continue
            seen = self._seen.get(name)
            if seen is None or (seen.size, seen.mtime_ns) != (stat.st_size, stat.st_mtime_ns):
                self._seen[name] = _Seen(stat.st_size, stat.st_mtime_ns, now)
                continue
            if now - seen.since >= self.source.settle_seconds:
                ready.append(path)
        self._seen = {k: v for k, v in self._seen.items() if k in present}
        return ready

    async def admitted_orgs(self) -> frozenset[str] | None:
        """The orgs of the source's client, or ``None`` when the registry refuses it: its
        directory is then not read at all (deny by default)."""
        try:
            async with self.hub.db.sessionmaker() as session:
                client = await admitted(session, self.source.client_id, CHANNEL)
        except ClientRefused as refused:
            status = f"refused: {refused.code}"
            if self.status != status:  # once per change, not every poll
                log.error(
                    "file source %s (%s) is not read: %s (%s)",
                    self.key,
                    self.directory,
                    refused.code,
                    refused,
                )
            self.status = status
            return None
        self.status = "active"
        self._orgs = frozenset(client.orgs)
        return self._orgs

    async def poll_once(self) -> int:
        if await self.admitted_orgs() is None:
            return 0
        count = 0
        for path in self.ready_files():
            try:
                await self.process_file(path)
            except Exception as exc:
                # An outage stops the poll (retried with backoff, nothing counted); anything
                # else counts against this file only, and the next files are still read.
                if is_transient(exc):
                    raise
                await self._failed_attempt(path, exc)
            self._seen.pop(path.name, None)
            count += 1
        return count

    async def _failed_attempt(self, path: Path, exc: BaseException) -> None:
        item = f"name:{path.name}"[:500]
        attempts = await count_failure(self.hub, source=self.key, item=item, exc=exc)
        log.error(
            "file %s of %s failed (%s), attempt %d of %d",
            path.name,
            self.key,
            failure_label(exc),
            attempts,
            self.max_attempts,
        )
        if attempts < self.max_attempts:
            return
        report = {
            "file": path.name,
            "outcome": "failed",
            "processed_at": utcnow().isoformat(),
            "error": {
                "code": "processing-failed",
                "message": f"set aside after {attempts} failed attempts ({failure_label(exc)})",
            },
            "accepted": 0,
            "duplicate": 0,
            "rejected": 0,
            "results": [],
        }
        self.finish(path, "failed", report)
        async with self.hub.db.transaction() as session:
            await forget_failures(session, source=self.key, items=[item])
        await log_call(
            self.hub,
            client_id=self.source.client_id,
            channel=CHANNEL,
            result="failed",
            body_digest=sm3_hex(f"{self.key}:{path.name}".encode()),
            detail=f"file {path.name} set aside: {failure_label(exc)}"[:500],
        )

    async def process_file(self, path: Path) -> str:
        """Process one complete file; returns its outcome (``done`` or ``failed``)."""
        size = (await asyncio.to_thread(path.stat)).st_size
        if size > self.source.max_file_bytes:
            # Not read into memory: identified by a streamed SHA-256 instead of SM3.
            return await self._refuse(
                path,
                await asyncio.to_thread(_streamed_sha256, path),
                FileRefused("too-large", "the file is too large"),
            )
        data = await asyncio.to_thread(path.read_bytes)
        digest = sm3_hex(data)
        async with self.hub.db.sessionmaker() as session:
            known = (
                await session.execute(
                    select(IntakeFile).where(
                        IntakeFile.source == self.key, IntakeFile.digest == digest
                    )
                )
            ).scalar_one_or_none()
        if known is not None:
            # Processed before a crash (or the same content dropped again): finish the move.
            log.info("file %s already processed (digest %s…); moving it", path.name, digest[:12])
            self.finish(path, known.outcome, known.report)
            return known.outcome
        try:
            events = read_events(path.name, data)
        except FileRefused as exc:
            return await self._refuse(path, digest, exc)
        items = normalise_all(events, source_system=self.source.client_id, channel=CHANNEL)
        report: dict[str, Any] = {}
        orgs = self._orgs or await self.admitted_orgs()
        if orgs is None:
            raise ClientRefused("client-not-registered", "the source is not admitted")

        async def remember(session: AsyncSession, results: list[ItemResult]) -> None:
            counts = Counts.of(results)
            outcome = "failed" if counts.accepted + counts.duplicate == 0 else "done"
            report.clear()
            report.update(self._report(path, digest, outcome, results))
            await self._record(session, path, digest, outcome, report)
            await forget_failures(session, source=self.key, items=[f"name:{path.name}"[:500]])

        await accept_call(
            self.hub,
            client_id=self.source.client_id,
            orgs=orgs,
            channel=CHANNEL,
            items=items,
            body_digest=digest,
            extra=remember,
            detail=f"file {path.name}"[:500],
        )
        self.finish(path, report["outcome"], report)
        return str(report["outcome"])

    async def _refuse(self, path: Path, digest: str, exc: FileRefused) -> str:
        report = {
            "file": path.name,
            "digest": digest,
            "outcome": "failed",
            "processed_at": utcnow().isoformat(),
            "error": {"code": exc.code, "message": str(exc)},
            "accepted": 0,
            "duplicate": 0,
            "rejected": 0,
            "results": [],
        }
        async with self.hub.db.transaction() as session:
            await self._record(session, path, digest, "failed", report)
        await log_call(
            self.hub,
            client_id=self.source.client_id,
            channel=CHANNEL,
            result="refused",
            body_digest=digest,
            detail=f"{exc.code}: file {path.name}",
        )
        self.finish(path, "failed", report)
        return "failed"

    async def _record(
        self, session: AsyncSession, path: Path, digest: str, outcome: str, report: dict[str, Any]
    ) -> None:
        session.add(
            IntakeFile(
                source=self.key,
                digest=digest,
                file_name=path.name[:500],
                outcome=outcome,
                report=report,
            )
        )
        await session.flush()

    @staticmethod
    def _report(path: Path, digest: str, outcome: str, results: list[ItemResult]) -> dict[str, Any]:
        # Row numbers are 1-based data rows (CSV: the header is row 0) / <event> elements.
        rows = []
        for result in results:
            entry = result.as_dict()
            entry["row"] = entry.pop("index") + 1
            rows.append(entry)
        return {
            "file": path.name,
            "digest": digest,
            "outcome": outcome,
            "processed_at": utcnow().isoformat(),
            **Counts.of(results).as_dict(),
            "results": rows,
        }

    def finish(self, path: Path, outcome: str, report: dict[str, Any]) -> Path:
        """Write the report, then move the file to ``done/`` or ``failed/`` (atomic renames)."""
        target_dir = self.directory / ("done" if outcome == "done" else "failed")
        target_dir.mkdir(exist_ok=True)
        target = target_dir / path.name
        if target.exists():
            target = target_dir / f"{utcnow().strftime('%Y%m%dT%H%M%S%f')}-{path.name}"
        report_path = target.with_name(target.name + ".report.json")
        tmp = report_path.with_name(report_path.name + ".tmp")
        tmp.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
        os.replace(tmp, report_path)
        os.replace(path, target)
        marker = path.with_name(path.name + DONE_MARKER)
        marker.unlink(missing_ok=True)
        return target
