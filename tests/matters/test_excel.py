"""Excel import/export of the 实施清单: round trip, dry run, a workbook full of bad rows."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
from openpyxl import load_workbook
from typer.testing import CliRunner

from services.matters.cli import app as cli
from services.matters.demo_catalog import DEMO_FOOD_CODE, complete_content, implementation_code
from services.matters.excel import ITEMS_SHEET, MATERIALS_SHEET, write_workbook
from services.matters.exporting import items_for_export
from services.matters.seed import seed_demo
from services.runtime.db import Database
from tests.matters.conftest import Staff
from tests.support.apps import migrate

runner = CliRunner()


def _items(url: str) -> list[tuple[str, dict[str, Any]]]:
    async def read() -> list[tuple[str, dict[str, Any]]]:
        db = Database(url)
        try:
            return await items_for_export(db)
        finally:
            await db.dispose()

    return asyncio.run(read())


def _invoke(*args: str) -> Any:
    return runner.invoke(cli, list(args), catch_exceptions=False)


def test_export_then_import_yields_identical_data(pg: Any, tmp_path: Path) -> None:
    source = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
    asyncio.run(seed_demo(source))
    first = tmp_path / "catalog.xlsx"
    r = _invoke("export", str(first), "--database-url", source)
    assert r.exit_code == 0, r.output
    wb = load_workbook(first, read_only=True)
    assert wb.sheetnames == [ITEMS_SHEET, MATERIALS_SHEET, "情形引导"]
    assert len(list(wb[ITEMS_SHEET].values)) == 36  # header + 35 items, one row each
    wb.close()
    target = pg.create_sync("matters-excel")
    migrate("matters", target)
    dry = _invoke("import", str(first), "--dry-run", "--database-url", target)
    assert dry.exit_code == 0, dry.output
    assert "valid=35" in dry.output and "created=0" in dry.output
    assert _items(target) == []  # a dry run writes nothing
    r = _invoke("import", str(first), "--publish", "--database-url", target)
    assert r.exit_code == 0, r.output
    assert "created=35" in r.output
    assert _items(target) == _items(source)
    second = tmp_path / "again.xlsx"
    assert _invoke("export", str(second), "--database-url", target).exit_code == 0
    a, b = load_workbook(first), load_workbook(second)
    for name in a.sheetnames:
        assert list(a[name].values) == list(b[name].values), name
    # Importing the same workbook again changes nothing.
    again = _invoke("import", str(second), "--publish", "--database-url", target)
    assert "unchanged=35" in again.output


def _bad_workbook(path: Path) -> None:
    good_code = implementation_code("market", "000117001000")
    good = complete_content(
        department="market", name="个体工商户设立登记", base_code="000117001000"
    )
    write_workbook([(good_code, good)], path)
    wb = load_workbook(path)
    sheet, materials = wb[ITEMS_SHEET], wb[MATERIALS_SHEET]
    header = [c.value for c in sheet[1]]
    col = {h.split("[")[1].rstrip("]"): i for i, h in enumerate(header)}
    template = [c.value for c in sheet[2]]

    def row(**changes: Any) -> list[Any]:
        values = list(template)
        values[col["materials"]] = None  # no rows on the materials sheet for these
        for key, value in changes.items():
            values[col[key]] = value
        return values

    bad_uscc = good_code[:17] + ("1" if good_code[17] != "1" else "2") + good_code[18:]
    sheet.append(row(implementation_code=bad_uscc))  # row 3: USCC check char
    sheet.append(
        row(implementation_code=implementation_code("police", "000105001000"), flow="[{not json")
    )  # row 4
    sheet.append(
        row(
            implementation_code=implementation_code("civil", "000108001000"), matter_type="行政魔法"
        )
    )  # row 5
    sheet.append(
        row(implementation_code=implementation_code("land", "000119001000"), promised_limit_days=99)
    )  # row 6
    sheet.append(row(implementation_code=good_code))  # row 7: duplicate
    sheet.append(
        row(
            implementation_code=implementation_code("env", "000125001000"),
            base_code="bad!",
            materials=3,
        )
    )  # row 8
    sheet.append(row(implementation_code=None))  # row 9
    sheet.append(
        row(
            implementation_code=implementation_code("urban", "000127001000"),
            visits="很多",
            materials="两份",
        )
    )  # row 10
    materials.append([implementation_code("env", "000125001000"), 1, "申请书"])
    wb.save(path)


def test_a_workbook_full_of_bad_rows_gets_a_row_level_report(pg: Any, tmp_path: Path) -> None:
    path = tmp_path / "bad.xlsx"
    _bad_workbook(path)
    url = pg.create_sync("matters-excel-bad")
    migrate("matters", url)
    report = tmp_path / "report.json"
    r = _invoke("import", str(path), "--database-url", url, "--report", str(report))
    assert r.exit_code == 1
    body = json.loads(report.read_text(encoding="utf-8"))
    assert body["rows"] == 9 and body["valid"] == 1 and body["created"] == 1
    by_row: dict[int, set[str]] = {}
    for e in body["errors"]:
        by_row.setdefault(e["row"], set()).add(e["field"])
    assert by_row == {
        3: {"implementation_code"},
        4: {"flow"},
        5: {"matter_type"},
        6: {"content"},
        7: {"implementation_code"},
        8: {"materials"},
        9: {"implementation_code"},
        10: {"materials"},
    }
    assert [code for code, _ in _items(url)] == [implementation_code("market", "000117001000")]
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"PK\x03\x04 not really a zip")
    assert _invoke("import", str(broken), "--database-url", url).exit_code == 2


async def test_http_import_for_staff(
    client: httpx.AsyncClient, staff: Staff, tmp_path: Path
) -> None:
    path = tmp_path / "one.xlsx"
    content = complete_content(department="market", name="食品生产许可", base_code="000117007000")
    write_workbook([(implementation_code("market", "000117007000"), content)], path)
    xlsx = {"content-type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    r = await client.post(
        "/v1/matters/import?dry_run=true",
        content=path.read_bytes(),
        headers={**staff.admin(), **xlsx},
    )
    assert r.status_code == 200 and r.json()["valid"] == 1 and r.json()["created"] == 0
    r = await client.post(
        "/v1/matters/import?publish=true",
        content=path.read_bytes(),
        headers={**staff.admin(), **xlsx},
    )
    assert r.json()["created"] == 1
    assert (await client.get("/v1/matters/search", params={"q": "食品生产"})).json()["items"]
    far = await client.post(
        "/v1/matters/import",
        content=path.read_bytes(),
        headers={**staff.admin(division="440300"), **xlsx},
    )
    assert far.json()["valid"] == 0 and far.json()["errors"][0]["message"] == "outside your 区划"
    assert (
        await client.post(
            "/v1/matters/import", content=path.read_bytes(), headers={**staff.editor(), **xlsx}
        )
    ).status_code == 403
    junk = await client.post(
        "/v1/matters/import", content=b"junk", headers={**staff.admin(), **xlsx}
    )
    assert junk.status_code == 422 and junk.json()["type"].endswith("/invalid-workbook")
    assert DEMO_FOOD_CODE  # the demo code is importable from the same module
