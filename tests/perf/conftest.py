"""Benchmarks share the suite's fixtures (PostgreSQL, broker) and record their figures."""

from __future__ import annotations

import json
import os
import platform
import re
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "var" / "bench"
DOC = Path(__file__).resolve().parents[2] / "docs" / "benchmarks.md"


def record(name: str, figures: dict[str, object]) -> None:
    """Keep each run's figures (var/bench/<name>.json) for docs/benchmarks.md."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    payload = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {os.cpu_count()} cores, "
        f"Python {platform.python_version()}",
        **figures,
    }
    (RESULTS / f"{name}.json").write_text(json.dumps(payload, ensure_ascii=False, indent=2))
    print(f"\n[{name}] " + json.dumps(payload, ensure_ascii=False))


def write_doc_section(title: str, section: str) -> None:
    """Replace (or append) the ``## <title>`` section of docs/benchmarks.md."""
    section = section.rstrip("\n") + "\n"
    text = DOC.read_text(encoding="utf-8") if DOC.exists() else "# Benchmarks\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOC.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
