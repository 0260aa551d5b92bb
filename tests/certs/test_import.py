"""``hub certs import FILE [--dry-run]``: 存量证照 from CSV or Excel, validated as issuance
would, reported, then issued once (a re-run skips what the registry has)."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path

import pytest
from openpyxl import Workbook
from typer.testing import CliRunner

from hub.cli import SUB_CLIS
from services.certs.cli import app as certs_cli
from services.certs.domain.types import (
    FOOD_LICENCE,
    SHAOGUAN_EDUCATION_USCC,
    SHAOGUAN_MARKET_USCC,
    TEACHER_QUALIFICATION,
)
from services.certs.store import repository as repo
from tests.certs.harness import certs_app, citizen_id, teacher_face
from tests.certs.support import food_face
from tests.support.postgres import DatabaseFactory

TITLES = {k: v["title"] for k, v in TEACHER_QUALIFICATION.face_schema["properties"].items()}


async def _hub(*args: str) -> tuple[int, str, str]:
    assert SUB_CLIS["certs"] == "services.certs.cli:app"  # mounted as `hub certs`
    result = await asyncio.to_thread(CliRunner().invoke, certs_cli, ["import", *args])
    return result.exit_code, result.stdout, result.stderr


async def test_import_csv_dry_run_report_then_issue_once(
    pg: DatabaseFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = await certs_app(pg)
    monkeypatch.setenv("HUB_DATABASE_URL", str(h.hub.settings.database_url))
    path = tmp_path / "teachers.csv"
    good = [
        teacher_face(citizen_id(60 + i), certificate_no=f"2016440014100{i:04d}") for i in range(3)
    ]
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        # Chinese titles as headers, as a department's export has them.
        w = csv.writer(f)
        w.writerow(["证照类型代码", "颁发机构代码", "颁证日期", *(TITLES[k] for k in good[0])])
        for face in good:
            w.writerow(
                [
                    TEACHER_QUALIFICATION.type_code,
                    SHAOGUAN_EDUCATION_USCC,
                    "2016-07-01",
                    *face.values(),
                ]
            )
        bad_id = teacher_face("440203199001011230", certificate_no="20164400141009999")
        w.writerow(
            [
                TEACHER_QUALIFICATION.type_code,
                SHAOGUAN_EDUCATION_USCC,
                "2016-07-01",
                *bad_id.values(),
            ]
        )
        w.writerow([TEACHER_QUALIFICATION.type_code, SHAOGUAN_MARKET_USCC, "", *good[0].values()])
        w.writerow(["11440200MB2C12345W999", SHAOGUAN_EDUCATION_USCC, "", *good[1].values()])
        w.writerow(
            [
                TEACHER_QUALIFICATION.type_code,
                SHAOGUAN_EDUCATION_USCC,
                "2016-13-01",
                *good[2].values(),
            ]
        )

    report = tmp_path / "report.json"
    code, out, err = await _hub(str(path), "--dry-run", "--report", str(report))
    assert code == 1, out + err
    counts = json.loads(out.strip().splitlines()[-1])
    assert counts == {"rows": 7, "valid": 3, "issued": 0, "exists": 0, "invalid": 4}
    assert "440203199001011230" not in report.read_text()
    rejected = {r["line"]: r["errors"] for r in json.loads(report.read_text())["rejected"]}
    assert sorted(rejected) == [5, 6, 7, 8]
    assert any("/citizen_id" in e for e in rejected[5])
    assert "440203199001011230" not in out + err  # no full ID in the report output
    assert "issuer_not_allowed" in " ".join(rejected[6]) or "may not issue" in " ".join(rejected[6])
    async with h.hub.db.sessionmaker() as session:
        assert await repo.count_indices(session, SHAOGUAN_EDUCATION_USCC) == 0

    code, out, _ = await _hub(str(path))
    assert json.loads(out.strip().splitlines()[-1])["issued"] == 3
    code, out, _ = await _hub(str(path))  # re-run: nothing twice
    counts = json.loads(out.strip().splitlines()[-1])
    assert counts["issued"] == 0 and counts["exists"] == 3
    async with h.hub.db.sessionmaker() as session:
        cert = await repo.current_by_number(
            session, TEACHER_QUALIFICATION.type_code, SHAOGUAN_EDUCATION_USCC, "20164400141000001"
        )
        assert cert is not None and cert.issued_on.isoformat() == "2016-07-01"
        assert cert.issued_by == "import:teachers.csv"
    assert len(await h.facts("hub.cert.issued")) == 3


async def test_import_excel_with_keys_and_lists(
    pg: DatabaseFactory, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = await certs_app(pg)
    monkeypatch.setenv("HUB_DATABASE_URL", str(h.hub.settings.database_url))
    face = food_face()
    book = Workbook()
    sheet = book.active
    sheet.append(["type_code", "issuer_uscc", *face])
    cells = ["、".join(v) if isinstance(v, list) else v for v in face.values()]
    sheet.append([FOOD_LICENCE.type_code, SHAOGUAN_MARKET_USCC, *cells])
    path = tmp_path / "food.xlsx"
    book.save(path)
    code, out, err = await _hub(str(path))
    assert code == 0, out + err
    assert json.loads(out.strip().splitlines()[-1])["issued"] == 1
