"""What every certs use case needs: settings, the outbox publisher and the PII cipher."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from services.certs.settings import CertsSettings
from services.runtime.crypto import FieldCipher

Publish = Callable[..., Awaitable[str]]

# 颁证日期 and validity are calendar days in China.
LOCAL_TZ = ZoneInfo("Asia/Shanghai")


def local_date(at: dt.datetime) -> dt.date:
    return at.astimezone(LOCAL_TZ).date()


@dataclass(frozen=True)
class CertsContext:
    settings: CertsSettings
    publish: Publish
    cipher: FieldCipher
    # Signed status lists by (issuer, purpose): (version key, credential). Signing is the cost
    # of a status-list GET; the version key changes with the bits and with the signing key.
    status_lists: dict[tuple[str, str], tuple[tuple[Any, ...], dict[str, Any]]] = field(
        default_factory=dict, compare=False, repr=False
    )

    def issuer_name(self, uscc: str) -> str:
        return self.settings.certs_issuer_names.get(uscc, uscc)

    def status_list_url(self, uscc: str, purpose: str) -> str:
        return f"{self.settings.certs_public_base_url}/v1/status-lists/{uscc}/{purpose}"

    def verify_url(self, certificate_id: str) -> str:
        return f"{self.settings.certs_public_base_url}/v1/verify/{certificate_id}"
