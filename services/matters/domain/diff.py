"""Field-level differences between two versions of an item (版本差异). Pure: no I/O."""

from __future__ import annotations

from typing import Any

_MISSING = object()


def field_diff(old: dict[str, Any] | None, new: dict[str, Any]) -> list[dict[str, Any]]:
    """Changes from ``old`` to ``new`` as ``{"path", "op", "old", "new"}`` entries.

    Paths name nested fields (``materials[2].paper_copies``); lists of equal length are
    compared element by element, otherwise the list is reported as replaced.
    """
    changes: list[dict[str, Any]] = []
    _walk("", old or {}, new, changes)
    return changes


def changed_fields(diff: list[dict[str, Any]]) -> set[str]:
    """The top-level fields a diff touches."""
    return {entry["path"].split(".")[0].split("[")[0] for entry in diff}


def _walk(path: str, old: Any, new: Any, out: list[dict[str, Any]]) -> None:
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new), key=str):
            sub = f"{path}.{key}" if path else str(key)
            _walk(sub, old.get(key, _MISSING), new.get(key, _MISSING), out)
        return
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            _walk(f"{path}[{index}]", a, b, out)
        return
    if old is _MISSING and new is _MISSING:
        return
    if old is _MISSING:
        out.append({"path": path, "op": "add", "old": None, "new": new})
    elif new is _MISSING:
        out.append({"path": path, "op": "remove", "old": old, "new": None})
    elif old != new or type(old) is not type(new):
        out.append({"path": path, "op": "change", "old": old, "new": new})
