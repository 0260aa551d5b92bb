"""存量证照 import from CSV or Excel: validate every row as issuance would, report, then
issue the valid ones (each in its own transaction: one bad row never undoes the others).
A certificate whose 证照编号 the registry already has (same type and issuer) is skipped, so
an import can be re-run after fixing the rejected rows."""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.certs.domain.bulk import ImportRow, face_from_cells, split_meta
from services.certs.domain.identifiers import make_certificate_id
from services.certs.domain.issuance import IssuanceError, prepare_version
from services.certs.domain.types import CertificateType
from services.certs.service import catalogue
from services.certs.service.context import CertsContext, local_date
from services.certs.service.issuance import checked_face, issue, new_serial
from services.certs.store import repository as repo
from services.runtime.db import Database, utcnow

MAX_ROWS = 1_000_000


@dataclass
class Outcome:
    line: int
    status: str  # valid | exists | invalid | issued
    errors: list[str] = field(default_factory=list)
    certificate_id: str | None = None


@dataclass
class Report:
    outcomes: list[Outcome]

    def count(self, status: str) -> int:
        return sum(1 for o in self.outcomes if o.status == status)

    def as_json(self) -> dict[str, Any]:
        return {
            "rows": len(self.outcomes),
            **{s: self.count(s) for s in ("valid", "issued", "exists", "invalid")},
            "rejected": [{"line": o.line, "errors": o.errors} for o in self.outcomes if o.errors],
        }


def read_rows(path: Path) -> Iterator[tuple[int, dict[str, object]]]:
    """(line number, cells by header) of a .csv (UTF-8, BOM allowed) or .xlsx (first sheet)."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True, data_only=True)
        try:
            rows = book.worksheets[0].iter_rows(values_only=True)
            header = [str(h or "").strip() for h in next(rows, ())]
            for n, values in enumerate(rows, start=2):
                if any(v not in (None, "") for v in values):
                    yield n, dict(zip(header, values, strict=False))
        finally:
            book.close()
        return
    with path.open(encoding="utf-8-sig", newline="") as f:
        for n, cells in enumerate(csv.DictReader(f), start=2):
            if any((v or "").strip() for v in cells.values() if isinstance(v, str)):
                yield n, {k: v for k, v in cells.items() if k is not None}


def _validate(cert_type: CertificateType, row: ImportRow, today: dt.date) -> str | None:
    """The 证照编号 if the row would issue, else None with the errors on the row."""
    try:
        cid = make_certificate_id(cert_type.type_code, row.issuer_uscc, new_serial(utcnow()), 1)
        version = prepare_version(
            cert_type,
            certificate_id=cid,
            issuer_name=row.issuer_uscc,
            issued_on=row.issued_on or today,
            face=checked_face(row.face),
        )
    except IssuanceError as exc:
        row.errors += [f"{e.path or '/'}: {e.message}" for e in exc.errors] or [str(exc)]
        return None
    except ValueError as exc:  # the issuer code does not make a 证照标识
        row.errors.append(f"issuer_uscc: {exc}")
        return None
    if row.issued_on and row.issued_on > today:
        row.errors.append("issued_on: in the future")
        return None
    return version.number


async def run(
    ctx: CertsContext,
    db: Database,
    path: Path,
    *,
    dry_run: bool,
    actor: str,
    advance: Callable[[], None] = lambda: None,
) -> Report:
    outcomes: list[Outcome] = []
    types: dict[str, CertificateType | None] = {}
    seen: set[tuple[str, str, str]] = set()
    today = local_date(utcnow())
    for n, cells in read_rows(path):
        if len(outcomes) >= MAX_ROWS:
            outcomes.append(Outcome(n, "invalid", [f"more than {MAX_ROWS} rows"]))
            break
        row = split_meta(n, cells)
        outcome = await _one(ctx, db, row, types, seen, today, dry_run, actor)
        outcomes.append(outcome)
        advance()
    return Report(outcomes)


async def _one(
    ctx: CertsContext,
    db: Database,
    row: ImportRow,
    types: dict[str, CertificateType | None],
    seen: set[tuple[str, str, str]],
    today: dt.date,
    dry_run: bool,
    actor: str,
) -> Outcome:
    if row.errors:
        return Outcome(row.line, "invalid", row.errors)
    if row.type_code not in types:
        async with db.sessionmaker() as session:
            types[row.type_code] = await catalogue.get_type(session, row.type_code)
    cert_type = types[row.type_code]
    if cert_type is None:
        return Outcome(row.line, "invalid", [f"type_code: {row.type_code} not in the 证照目录"])
    row.face = face_from_cells(cert_type, row.face)
    number = _validate(cert_type, row, today)
    if number is None:
        return Outcome(row.line, "invalid", row.errors)
    key = (cert_type.type_code, row.issuer_uscc, number)
    if key in seen:
        return Outcome(row.line, "invalid", [f"证照编号 {number} appears twice in the file"])
    seen.add(key)
    async with db.transaction() as session:
        existing = await repo.current_by_number(session, *key)
        if existing is not None:
            return Outcome(row.line, "exists", certificate_id=existing.certificate_id)
        if dry_run:
            return Outcome(row.line, "valid")
        cert = await issue(
            ctx,
            session,
            cert_type,
            row.issuer_uscc,
            row.face,
            case_no=None,
            actor=actor,
            now=utcnow(),
            issued_on=row.issued_on,
        )
    return Outcome(row.line, "issued", certificate_id=cert.certificate_id)
