"""Alembic environment of the eval service (shared implementation in the runtime)."""

from services.eval.store.tables import Base
from services.runtime.migrate import run_env

run_env(Base.metadata)
