"""Tables of the gateway: client registry, exchange log, intake outbox."""

from services.runtime.db import make_base

Base = make_base()
