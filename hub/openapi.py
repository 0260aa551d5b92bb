"""Export each process's OpenAPI document to ``contracts/openapi`` and check it is current."""

from __future__ import annotations

import json
import os
from pathlib import Path

from contracts import OPENAPI_DIR
from hub.registry import ALL_PROCESSES, ProcessSpec


def render(spec: ProcessSpec) -> str:
    # Building the app touches no database or broker. Telemetry is switched off while
    # it is built, and the environment restored, so callers (tests) are not affected.
    previous = os.environ.get("OTEL_SDK_DISABLED")
    os.environ["OTEL_SDK_DISABLED"] = "true"
    try:
        app = spec.load_factory()()
    finally:
        if previous is None:
            del os.environ["OTEL_SDK_DISABLED"]
        else:
            os.environ["OTEL_SDK_DISABLED"] = previous
    document = app.openapi()
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def export(directory: Path = OPENAPI_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in ALL_PROCESSES:
        path = directory / f"{spec.name}.json"
        path.write_text(render(spec), encoding="utf-8")
        written.append(path)
    return written


def stale(directory: Path = OPENAPI_DIR) -> list[str]:
    """Names whose exported document differs from what the code serves now."""
    out = []
    for spec in ALL_PROCESSES:
        path = directory / f"{spec.name}.json"
        if not path.exists() or path.read_text(encoding="utf-8") != render(spec):
            out.append(spec.name)
    return out
