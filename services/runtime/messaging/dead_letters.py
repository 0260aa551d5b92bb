"""Dead letters at rest: sealed with the PII cipher, read back decrypted and masked.

A dead event is a whole canonical event: it may carry an applicant's 公民身份号码 or
mobile number. The ``dead_letters`` row keeps the record's value and headers encrypted
(``value`` and ``headers`` columns) and its error text masked; operators read it through
:func:`read_dead_letters`, which decrypts and masks. The ``<topic>.dlq`` Kafka record keeps
the original value: it belongs to the broker, like the main topic it came from.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.crypto import FieldCipher
from services.runtime.db import utcnow
from services.runtime.masking import mask_text
from services.runtime.messaging.tables import dead_letters

VALUE_CONTEXT = "dead_letters.value"
HEADERS_CONTEXT = "dead_letters.headers"
SEALED = "sealed"  # the headers column holds {"sealed": <token>} once encrypted

RESOLUTIONS = ("redriven", "discarded")


def seal_dead_letter(
    cipher: FieldCipher | None, headers: dict[str, str], value: str
) -> dict[str, Any]:
    """The ``headers`` and ``value`` columns of a new row (encrypted when a cipher is set)."""
    if cipher is None:  # only processes built without settings (unit tests of the consumer)
        return {"headers": {k: mask_text(v) for k, v in headers.items()}, "value": mask_text(value)}
    return {
        "headers": {SEALED: cipher.encrypt(json.dumps(headers), context=HEADERS_CONTEXT)},
        "value": cipher.encrypt(value, context=VALUE_CONTEXT),
    }


def open_dead_letter(
    cipher: FieldCipher, headers: dict[str, Any], value: str, *, masked: bool = True
) -> tuple[dict[str, str], str]:
    """Decrypt a row's headers and value; ``masked`` (the default) masks ID/mobile numbers."""
    if SEALED in headers:
        plain_headers = json.loads(cipher.decrypt(headers[SEALED], context=HEADERS_CONTEXT))
        plain_value = cipher.decrypt(value, context=VALUE_CONTEXT)
    else:
        plain_headers, plain_value = dict(headers), value
    if masked:
        plain_headers = {k: mask_text(str(v)) for k, v in plain_headers.items()}
        plain_value = mask_text(plain_value)
    return plain_headers, plain_value


async def read_dead_letters(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    consumer: str | None = None,
    unresolved_only: bool = True,
    limit: int = 100,
) -> list[dict[str, Any]]:
    """Dead letters for an operator: decrypted, with ID and mobile numbers masked."""
    query = select(dead_letters).order_by(dead_letters.c.id).limit(limit)
    if consumer is not None:
        query = query.where(dead_letters.c.consumer == consumer)
    if unresolved_only:
        query = query.where(dead_letters.c.resolved_at.is_(None))
    out = []
    for row in (await session.execute(query)).mappings():
        headers, value = open_dead_letter(cipher, row["headers"], row["value"])
        out.append({**dict(row), "headers": headers, "value": value})
    return out


async def resolve_dead_letter(
    session: AsyncSession, dead_letter_id: int, resolution: str, at: datetime | None = None
) -> bool:
    """Mark a dead letter redriven or discarded; retention purges it after a while."""
    if resolution not in RESOLUTIONS:
        raise ValueError(f"resolution must be one of {RESOLUTIONS}")
    result = await session.execute(
        update(dead_letters)
        .where(dead_letters.c.id == dead_letter_id, dead_letters.c.resolved_at.is_(None))
        .values(resolved_at=at or utcnow(), resolution=resolution)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
