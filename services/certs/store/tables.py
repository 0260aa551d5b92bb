"""Tables of the certs service (its own database; no other service reads them)."""

from services.runtime.db import make_base

Base = make_base()
