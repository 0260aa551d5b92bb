"""The processes that make up the hub, their apps, migrations and default ports."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from services.runtime.settings import PROJECT_ROOT


@dataclass(frozen=True)
class ProcessSpec:
    name: str
    app_factory: str  # "module:function"
    port: int

    @property
    def module(self) -> str:
        return self.app_factory.split(":")[0]

    @property
    def migrations_dir(self) -> Path:
        package = self.module.rsplit(".", 1)[0]
        return PROJECT_ROOT.joinpath(*package.split("."), "migrations")

    def load_factory(self):  # type: ignore[no-untyped-def]
        module, func = self.app_factory.split(":")
        return getattr(importlib.import_module(module), func)


SERVICES = [
    ProcessSpec("identity", "services.identity.app:create_app", 8001),
    ProcessSpec("matters", "services.matters.app:create_app", 8002),
    ProcessSpec("cases", "services.cases.app:create_app", 8003),
    ProcessSpec("certs", "services.certs.app:create_app", 8004),
    ProcessSpec("eval", "services.eval.app:create_app", 8005),
]
GATEWAY = ProcessSpec("gateway", "gateway.app:create_app", 8000)
ALL_PROCESSES = [*SERVICES, GATEWAY]
BY_NAME = {p.name: p for p in ALL_PROCESSES}
