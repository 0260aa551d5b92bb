"""Benchmarks share the suite's fixtures (PostgreSQL, broker) and record their figures."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parents[2] / "var" / "bench"


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
