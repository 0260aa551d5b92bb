"""``Idempotency-Key`` (IETF draft "The Idempotency-Key HTTP Header Field") for POSTs of
external systems: keyed by (verified client, key); a replay gets the stored answer with
``Idempotency-Replayed: true``, the same key with another body 422, a duplicate while the
first call runs 409. Answers are kept ``idempotency_ttl_hours`` (default 24 h).

Records live in Redis when ``HUB_REDIS_URL`` is set, else in the gateway database.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import timedelta
from typing import Protocol

import redis.asyncio as aioredis

from gateway.store.idempotency import StoredCall

KEY_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")


def request_digest(method: str, path: str, query: str, body: bytes) -> str:
    """Same key + same digest = the same request (a replay)."""
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode()):
        h.update(part + b"\0")
    h.update(body)
    return h.hexdigest()


def parse_key(header: str | None) -> str | None:
    """The key from the header; a structured-field string (``"abc"``) or a bare token."""
    if header is None:
        return None
    value = header.strip()
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
    return value if KEY_PATTERN.fullmatch(value) else ""


class IdempotencyStore(Protocol):
    async def begin(
        self, client_id: str, key: str, digest: str, lock_seconds: float
    ) -> StoredCall | None: ...

    async def finish(
        self,
        client_id: str,
        key: str,
        *,
        status_code: int,
        content_type: str | None,
        body: bytes,
        ttl: timedelta,
    ) -> None: ...

    async def release(self, client_id: str, key: str) -> None: ...


class RedisIdempotencyStore:
    """Records as JSON strings: SET NX claims, SET XX stores the answer with its TTL."""

    def __init__(self, url: str, prefix: str = "hub:idem:") -> None:
        self.redis = aioredis.from_url(url, socket_connect_timeout=2.0, socket_timeout=1.0)
        self.prefix = prefix

    def _key(self, client_id: str, key: str) -> str:
        return f"{self.prefix}{client_id}\0{key}"

    async def begin(
        self, client_id: str, key: str, digest: str, lock_seconds: float
    ) -> StoredCall | None:
        name = self._key(client_id, key)
        claim = json.dumps({"state": "pending", "digest": digest})
        for _ in range(2):
            if await self.redis.set(name, claim, nx=True, px=int(lock_seconds * 1000)):
                return None
            raw = await self.redis.get(name)
            if raw is None:
                continue  # expired between the two calls
            value = json.loads(raw)
            return StoredCall(
                value["state"],
                value["digest"],
                value.get("status"),
                value.get("content_type"),
                base64.b64decode(value.get("body", "")),
            )
        raise RuntimeError("idempotency record could not be claimed")  # pragma: no cover

    async def finish(
        self,
        client_id: str,
        key: str,
        *,
        status_code: int,
        content_type: str | None,
        body: bytes,
        ttl: timedelta,
    ) -> None:
        name = self._key(client_id, key)
        raw = await self.redis.get(name)
        digest = json.loads(raw)["digest"] if raw else ""
        value = {
            "state": "done",
            "digest": digest,
            "status": status_code,
            "content_type": content_type,
            "body": base64.b64encode(body).decode(),
        }
        await self.redis.set(name, json.dumps(value), px=int(ttl.total_seconds() * 1000))

    async def release(self, client_id: str, key: str) -> None:
        await self.redis.delete(self._key(client_id, key))

    async def close(self) -> None:
        await self.redis.aclose()
