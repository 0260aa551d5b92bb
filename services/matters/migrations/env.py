"""Alembic environment of the matters service (shared implementation in the runtime)."""

from services.matters.store.tables import Base
from services.runtime.migrate import run_env

run_env(Base.metadata)
