"""Excel workbooks of the 实施清单 (import and export with openpyxl).

Sheet ``实施清单``: one row per implementation item; simple elements as plain cells,
structured ones (流程, 设定依据, 表单 …) as JSON text. Sheet ``材料``: one row per material
(实施编码, 序号, then the material's fields). Sheet ``情形引导``: the guide definition as JSON
in chunks (a cell holds at most 32,767 characters). Headers read ``中文名 [key]``; import
reads the key in brackets, so columns may be reordered or relabelled.

Export then import yields identical content: every value is written in its JSON form.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.utils.exceptions import InvalidFileException
from openpyxl.worksheet.worksheet import Worksheet

from services.matters import catalog
from services.matters.bulk import load_item
from services.matters.catalog import Actor
from services.matters.domain.elements import FIELDS
from services.runtime.app import Hub
from services.runtime.problems import Problem

ITEMS_SHEET = "实施清单"
MATERIALS_SHEET = "材料"
GUIDE_SHEET = "情形引导"
CHUNK = 30_000
MAX_ROWS = 100_000

LABELS = {
    "implementation_code": "实施编码",
    "name": "事项名称",
    "base_code": "基本编码",
    "matter_type": "事项类型",
    "level": "行使层级",
    "main_item": "主项",
    "sub_item": "子项拆分",
    "handling_items": "业务办理项",
    "legal_basis": "设定依据",
    "implementing_body": "实施主体",
    "division_code": "行政区划",
    "service_objects": "服务对象",
    "flow": "办理流程",
    "statutory_limit_days": "法定时限（工作日）",
    "promised_limit_days": "承诺时限（工作日）",
    "special_procedures": "特别程序",
    "materials": "材料数",
    "forms": "表单内容",
    "acceptance_conditions": "受理条件",
    "intermediary_services": "中介服务",
    "result": "办理结果",
    "fees": "收费",
    "place": "办理地点",
    "hours": "办理时间",
    "consult_phone": "咨询电话",
    "complaint_phone": "监督投诉电话",
    "online_available": "是否网办",
    "online_url": "网办地址",
    "visits": "到现场次数",
    "tongban_scope": "通办范围",
    "effective_from": "生效日期",
    "keywords": "关键词",
    "guide": "情形引导",
}
MATERIAL_FIELDS = (
    "name",
    "required",
    "paper",
    "paper_copies",
    "original",
    "electronic",
    "source",
    "certificate_type",
    "note",
)
MATERIAL_LABELS = {
    "name": "材料名称",
    "required": "是否必需",
    "paper": "纸质",
    "paper_copies": "份数",
    "original": "原件",
    "electronic": "电子",
    "source": "来源",
    "certificate_type": "可替代的电子证照类型",
    "note": "备注",
}
# Cells that hold JSON text (structured elements).
JSON_FIELDS = frozenset(
    {
        "main_item",
        "sub_item",
        "handling_items",
        "legal_basis",
        "implementing_body",
        "service_objects",
        "flow",
        "special_procedures",
        "forms",
        "intermediary_services",
        "result",
        "fees",
        "keywords",
    }
)
ITEM_COLUMNS = ("implementation_code", *(f for f in FIELDS if f != "guide"))
_KEY = re.compile(r"\[([a-z_]+)\]\s*$")


def _header(key: str, labels: dict[str, str]) -> str:
    return f"{labels.get(key, key)} [{key}]"


# -- export ----------------------------------------------------------------------------------


def write_workbook(items: Iterable[tuple[str, dict[str, Any]]], path: Path) -> int:
    """Write items (实施编码, content) to ``path``; returns the number of items."""
    wb = Workbook(write_only=True)
    sheet = wb.create_sheet(ITEMS_SHEET)
    materials = wb.create_sheet(MATERIALS_SHEET)
    guides = wb.create_sheet(GUIDE_SHEET)
    sheet.append([_header(k, LABELS) for k in ITEM_COLUMNS])
    materials.append(
        [_header("implementation_code", LABELS), "序号 [seq]"]
        + [_header(k, MATERIAL_LABELS) for k in MATERIAL_FIELDS]
    )
    guides.append([_header("implementation_code", LABELS), "分段 [part]", "定义 [definition]"])
    count = 0
    for code, content in items:
        row: list[Any] = []
        for key in ITEM_COLUMNS:
            if key == "implementation_code":
                row.append(code)
            elif key == "materials":
                row.append(None if content.get("materials") is None else len(content["materials"]))
            else:
                row.append(_cell(key, content.get(key)))
        sheet.append(row)
        for seq, material in enumerate(content.get("materials") or [], start=1):
            materials.append([code, seq] + [material.get(k) for k in MATERIAL_FIELDS])
        if content.get("guide") is not None:
            text = json.dumps(content["guide"], ensure_ascii=False, separators=(",", ":"))
            for part, start in enumerate(range(0, len(text), CHUNK), start=1):
                guides.append([code, part, text[start : start + CHUNK]])
        count += 1
    wb.save(path)
    return count


def _cell(key: str, value: Any) -> Any:
    if value is None:
        return None
    if key in JSON_FIELDS:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return value


# -- import: reading ---------------------------------------------------------------------------


@dataclass
class RowError:
    sheet: str
    row: int
    field: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"sheet": self.sheet, "row": self.row, "field": self.field, "message": self.message}


@dataclass
class ParsedRow:
    row: int
    code: str
    content: dict[str, Any]
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ImportReport:
    rows: int = 0
    valid: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    dry_run: bool = False
    errors: list[RowError] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "valid": self.valid,
            "invalid": self.rows - self.valid,
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "dry_run": self.dry_run,
            "errors": [e.to_dict() for e in self.errors],
        }


class WorkbookError(ValueError):
    """The file is not a readable 实施清单 workbook at all."""


def _keys(sheet: Worksheet, expected: Iterable[str]) -> dict[str, int]:
    header = next(sheet.iter_rows(min_row=1, max_row=1, values_only=True), None)
    if header is None:
        raise WorkbookError(f"sheet {sheet.title} has no header row")
    keys: dict[str, int] = {}
    for index, cell in enumerate(header):
        match = _KEY.search(str(cell or ""))
        if match:
            keys[match.group(1)] = index
    missing = [k for k in expected if k not in keys]
    if missing:
        raise WorkbookError(f"sheet {sheet.title} lacks the columns: {', '.join(missing)}")
    return keys


def _code_of(value: Any) -> str:
    return str(value).strip().upper() if value is not None else ""


def read_workbook(source: Path | Any) -> list[ParsedRow]:
    """Parse the workbook into rows of raw content; structural errors are per row."""
    try:
        wb = load_workbook(source, read_only=True, data_only=True)
    except (InvalidFileException, OSError, KeyError, ValueError) as exc:
        raise WorkbookError(f"not an .xlsx workbook: {type(exc).__name__}") from exc
    except Exception as exc:  # zipfile.BadZipFile and friends from corrupt uploads
        raise WorkbookError(f"not an .xlsx workbook: {type(exc).__name__}") from exc
    try:
        if ITEMS_SHEET not in wb.sheetnames:
            raise WorkbookError(f"the workbook has no sheet named {ITEMS_SHEET}")
        sheet = wb[ITEMS_SHEET]
        keys = _keys(sheet, ("implementation_code", "name"))
        parsed: list[ParsedRow] = []
        by_code: dict[str, ParsedRow] = {}
        for number, values in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
            if number > MAX_ROWS + 1:
                raise WorkbookError(f"more than {MAX_ROWS} rows")
            if values is None or all(v is None or v == "" for v in values):
                continue
            row = _parse_item_row(number, values, keys)
            if row.code in by_code:
                row.errors.append(
                    RowError(
                        ITEMS_SHEET,
                        number,
                        "implementation_code",
                        f"实施编码 repeats row {by_code[row.code].row}",
                    )
                )
            elif row.code:
                by_code[row.code] = row
            parsed.append(row)
        if MATERIALS_SHEET in wb.sheetnames:
            _attach_materials(wb[MATERIALS_SHEET], by_code)
        if GUIDE_SHEET in wb.sheetnames:
            _attach_guides(wb[GUIDE_SHEET], by_code)
        for row in parsed:
            expected = row.content.pop("__material_count", None)
            got = row.content.get("materials")
            if expected is not None and (got is None or len(got) != expected):
                n = 0 if got is None else len(got)
                row.errors.append(
                    RowError(
                        ITEMS_SHEET,
                        row.row,
                        "materials",
                        f"材料数 says {expected} but sheet {MATERIALS_SHEET} has {n}",
                    )
                )
            if expected is None and got:
                row.errors.append(
                    RowError(
                        ITEMS_SHEET,
                        row.row,
                        "materials",
                        "materials are listed but 材料数 is empty",
                    )
                )
        return parsed
    finally:
        wb.close()


def _parse_item_row(number: int, values: tuple[Any, ...], keys: dict[str, int]) -> ParsedRow:
    def get(key: str) -> Any:
        index = keys.get(key)
        value = values[index] if index is not None and index < len(values) else None
        return None if value == "" else value

    code = _code_of(get("implementation_code"))
    row = ParsedRow(number, code, {})
    if not code:
        row.errors.append(RowError(ITEMS_SHEET, number, "implementation_code", "实施编码 is empty"))
    for key in ITEM_COLUMNS[1:]:
        if key not in keys:
            continue
        value = get(key)
        if key == "materials":
            if value is not None:
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    row.errors.append(RowError(ITEMS_SHEET, number, key, "材料数 must be a count"))
                else:
                    row.content["__material_count"] = int(value)
                    row.content["materials"] = []
            continue
        if key in JSON_FIELDS and value is not None:
            try:
                value = json.loads(str(value))
            except json.JSONDecodeError as exc:
                row.errors.append(RowError(ITEMS_SHEET, number, key, f"not valid JSON: {exc.msg}"))
                continue
        elif isinstance(value, float) and value.is_integer():
            value = int(value)
        elif hasattr(value, "isoformat"):
            value = value.isoformat()[:10]
        if value is not None:  # an empty cell leaves the element unset (its default)
            row.content[key] = value
    return row


def _attach_materials(sheet: Worksheet, by_code: dict[str, ParsedRow]) -> None:
    keys = _keys(sheet, ("implementation_code", "name"))
    for number, values in enumerate(sheet.iter_rows(min_row=2, values_only=True), start=2):
        if values is None or all(v is None or v == "" for v in values):
            continue
        code = _code_of(values[keys["implementation_code"]])
        target = by_code.get(code)
        if target is None:
            continue  # reported as an item-level problem only if the item exists
        material: dict[str, Any] = {}
        for key in MATERIAL_FIELDS:
            index = keys.get(key)
            if index is None or index >= len(values):
                continue
            value = values[index]
            if value is None or value == "":
                continue
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            material[key] = value
        materials = target.content.get("materials")
        if materials is None:
            target.errors.append(
                RowError(MATERIALS_SHEET, number, "materials", "材料数 of the item is empty")
            )
            continue
        materials.append(material)


def _attach_guides(sheet: Worksheet, by_code: dict[str, ParsedRow]) -> None:
    keys = _keys(sheet, ("implementation_code", "part", "definition"))
    parts: dict[str, list[tuple[int, str]]] = {}
    for values in sheet.iter_rows(min_row=2, values_only=True):
        if values is None or all(v is None or v == "" for v in values):
            continue
        code = _code_of(values[keys["implementation_code"]])
        try:
            part = int(values[keys["part"]])
        except (TypeError, ValueError):
            part = 0
        parts.setdefault(code, []).append((part, str(values[keys["definition"]] or "")))
    for code, chunks in parts.items():
        target = by_code.get(code)
        if target is None:
            continue
        text = "".join(chunk for _, chunk in sorted(chunks))
        try:
            target.content["guide"] = json.loads(text)
        except json.JSONDecodeError as exc:
            target.errors.append(
                RowError(GUIDE_SHEET, target.row, "guide", f"not valid JSON: {exc.msg}")
            )


# -- import: validating and loading -------------------------------------------------------------


def validate_rows(rows: list[ParsedRow], base_code_pattern: str) -> None:
    """Element-level validation of every row that parsed (errors appended to the row)."""
    for row in rows:
        if row.errors:
            continue
        try:
            code = catalog.check_code(row.code)
            catalog.check_content(row.content, code, base_code_pattern)
        except Problem as exc:
            errors = exc.extensions.get("errors")
            if errors:
                row.errors.extend(
                    RowError(ITEMS_SHEET, row.row, e["field"], e["message"]) for e in errors
                )
            else:
                row.errors.append(RowError(ITEMS_SHEET, row.row, "implementation_code", exc.detail))


Progress = Callable[[int, int], None]


async def import_workbook(
    hub: Hub,
    actor: Actor,
    source: Path | Any,
    *,
    dry_run: bool = False,
    publish: bool = False,
    progress: Progress | None = None,
    allow: Callable[[ParsedRow], str | None] | None = None,
) -> ImportReport:
    """Validate every row; unless ``dry_run``, load each valid row in its own transaction.

    ``allow`` may refuse a row (returns the reason), e.g. outside the caller's 区划.
    """
    rows = read_workbook(source)
    validate_rows(rows, catalog.base_code_pattern(hub))
    report = ImportReport(rows=len(rows), dry_run=dry_run)
    for index, row in enumerate(rows, start=1):
        if not row.errors and allow is not None:
            reason = allow(row)
            if reason:
                row.errors.append(RowError(ITEMS_SHEET, row.row, "division_code", reason))
        if row.errors:
            report.errors.extend(row.errors)
        else:
            report.valid += 1
            if not dry_run:
                try:
                    outcome = await load_item(hub, actor, row.code, row.content, publish=publish)
                except Problem as exc:
                    report.valid -= 1
                    report.errors.append(RowError(ITEMS_SHEET, row.row, "content", exc.detail))
                else:
                    setattr(report, outcome, getattr(report, outcome) + 1)
        if progress is not None:
            progress(index, len(rows))
    return report
