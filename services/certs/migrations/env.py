"""Alembic environment of the certs service (shared implementation in the runtime)."""

from services.certs.store.tables import Base
from services.runtime.migrate import run_env

run_env(Base.metadata)
