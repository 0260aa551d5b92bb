"""Alembic environment of the identity service (shared implementation in the runtime)."""

from services.identity.store.tables import Base
from services.runtime.migrate import run_env

run_env(Base.metadata)
