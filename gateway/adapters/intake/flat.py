"""Flat rows (前置库 exchange-table columns, CSV headers) ↔ the nested raw event.

Column names join the nested path with ``_`` (``applicant_id_no``, ``result_decision``);
``result_certificate_data`` and ``detail`` hold JSON text. A group whose columns are all
empty becomes ``null`` (no applicant, no handler, no result).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

SCALAR_COLUMNS = (
    "event_id",
    "case_no",
    "implementation_code",
    "stage",
    "occurred_at",
    "seq",
    "case_type",
)
GROUPS: dict[str, tuple[str, ...]] = {
    "applicant": ("type", "id_type", "id_no", "name"),
    "handler": ("org_uscc", "department", "staff_no"),
    "result": ("decision", "certificate_type", "certificate_data"),
}
FLAT_COLUMNS = (
    *SCALAR_COLUMNS,
    *(f"{group}_{name}" for group, names in GROUPS.items() for name in names),
    "detail",
)


def _value(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def row_to_raw(row: Mapping[str, Any]) -> dict[str, Any]:
    """One flat row → the raw nested event that :func:`canonical.normalise` reads."""
    raw: dict[str, Any] = {k: _value(row.get(k)) for k in SCALAR_COLUMNS}
    for group, names in GROUPS.items():
        values = {name: _value(row.get(f"{group}_{name}")) for name in names}
        raw[group] = None if all(_blank(v) for v in values.values()) else values
    raw["detail"] = _value(row.get("detail"))
    return raw
