"""Alembic environment of the cases service (shared implementation in the runtime)."""

from services.cases.store.tables import Base
from services.runtime.migrate import run_env

run_env(Base.metadata)
