"""Alembic environment of the gateway (shared implementation in the runtime)."""

from gateway.store.tables import Base
from services.runtime.migrate import run_env

run_env(Base.metadata)
