"""存量证照 import: one spreadsheet row → the type, issuer, 颁证日期 and 照面 (pure rules).

Columns: ``type_code`` (证照类型代码), ``issuer_uscc`` (颁发机构代码), optional ``issued_on``
(颁证日期, YYYY-MM-DD; default the import day), then one column per 照面 field, headed by
its key or its Chinese ``title`` from the type's schema. Cells are text: array fields split
on ``、`` or ``;``, integer/number fields are converted, empty cells are left out (so the
schema reports a missing required field rather than an empty string).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from services.certs.domain.types import CertificateType

META_COLUMNS = {
    "type_code": "type_code",
    "证照类型代码": "type_code",
    "issuer_uscc": "issuer_uscc",
    "颁发机构代码": "issuer_uscc",
    "issued_on": "issued_on",
    "颁证日期": "issued_on",
}
_SPLIT = re.compile(r"[、;；]")


@dataclass
class ImportRow:
    line: int
    type_code: str
    issuer_uscc: str
    issued_on: dt.date | None
    face: dict[str, Any]
    errors: list[str] = field(default_factory=list)


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def split_meta(line: int, cells: Mapping[str, object]) -> ImportRow:
    """Separate the meta columns from the 照面 cells (still keyed by header)."""
    meta: dict[str, str] = {}
    rest: dict[str, Any] = {}
    for header, value in cells.items():
        key = META_COLUMNS.get(str(header).strip())
        text = _cell(value)
        if key:
            meta[key] = text
        elif text:
            rest[str(header).strip()] = text
    row = ImportRow(line, meta.get("type_code", ""), meta.get("issuer_uscc", ""), None, rest)
    if not row.type_code:
        row.errors.append("type_code: missing")
    if not row.issuer_uscc:
        row.errors.append("issuer_uscc: missing")
    if meta.get("issued_on"):
        try:
            row.issued_on = dt.date.fromisoformat(meta["issued_on"])
        except ValueError:
            row.errors.append("issued_on: not a YYYY-MM-DD date")
    return row


def face_from_cells(cert_type: CertificateType, cells: Mapping[str, str]) -> dict[str, Any]:
    """Map headers (key or Chinese title) to 照面 keys and convert by the schema's types.
    Unknown headers stay as they are, so the schema names them as not allowed."""
    props: Mapping[str, Any] = cert_type.face_schema.get("properties", {})
    by_title = {str(p.get("title", k)): k for k, p in props.items()}
    face: dict[str, Any] = {}
    for header, text in cells.items():
        key = header if header in props else by_title.get(header, header)
        face[key] = _convert(props.get(key, {}), text)
    return face


def _convert(prop: Mapping[str, Any], text: str) -> Any:
    kind = prop.get("type")
    if isinstance(kind, list):  # e.g. ["string", "null"]: the first non-null one
        kind = next((k for k in kind if k != "null"), None)
    if kind == "array":
        return [p.strip() for p in _SPLIT.split(text) if p.strip()]
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            return text  # the schema reports the wrong type, with its path
    if kind == "number":
        try:
            return float(text)
        except ValueError:
            return text
    if kind == "boolean":
        return {"是": True, "true": True, "否": False, "false": False}.get(text.lower(), text)
    return text
