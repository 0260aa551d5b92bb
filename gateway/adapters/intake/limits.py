"""Poison limits of intake: how deep a document or an event may nest.

A deep enough JSON or XML document makes recursive code (``json.dumps``, the XML → event
conversion, downstream consumers) raise ``RecursionError``; measured here without
recursion, it is refused as bad input (4xx / a rejected item) before any of that runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Canonical events nest 3 levels (result.certificate_data.x); ``detail`` is free-form.
MAX_DEPTH = 32


def depth_exceeds(value: Any, limit: int = MAX_DEPTH) -> bool:
    """Whether objects/arrays in ``value`` nest deeper than ``limit`` (iterative)."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        current, depth = stack.pop()
        if isinstance(current, Mapping):
            children: Any = current.values()
        elif isinstance(current, list | tuple):
            children = current
        else:
            continue
        if depth + 1 > limit:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False
