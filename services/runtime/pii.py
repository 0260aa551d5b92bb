"""The process's PII cipher and the shared subject reference (``id_ref``).

Every service that stores personal data encrypts it with :func:`pii_cipher` and finds it
by blind index. ``id_ref`` is the blind index of a 公民身份号码 under the index key that
identity and the services share: identity puts it in tokens, the cases service computes
it from an applicant's ID number, and the two meet without the number itself travelling.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from functools import lru_cache

from services.runtime.crypto import FieldCipher
from services.runtime.settings import HubSettings

log = logging.getLogger("hub.pii")

_DEV_SEED = b"ywtb-hub development key - never use in production"


def _dev_key(label: str) -> str:
    return base64.b64encode(hashlib.sha256(_DEV_SEED + label.encode()).digest()).decode()


@lru_cache(maxsize=8)
def _cipher(keys: str, index_key: str) -> FieldCipher:
    return FieldCipher.from_settings(keys, index_key)


def pii_cipher(settings: HubSettings) -> FieldCipher:
    keys, index_key = settings.pii_encryption_keys, settings.pii_index_key
    if not keys or not index_key:
        if settings.environment == "production":
            raise RuntimeError("HUB_PII_ENCRYPTION_KEYS and HUB_PII_INDEX_KEY must be set")
        keys = keys or f"dev:{_dev_key('encryption')}"
        index_key = index_key or _dev_key("index")
    return _cipher(keys, index_key)


def citizen_id_ref(cipher: FieldCipher, citizen_id: str) -> str:
    """The ``id_ref`` claim / column value for a 公民身份号码."""
    return cipher.blind_index(citizen_id, scope="citizen_id")
