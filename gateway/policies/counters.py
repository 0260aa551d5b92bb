"""Windowed counters for rate limits and failure counts: Redis when configured, else
in-process (one gateway process; counters reset on restart).

Each counter is a fixed window that starts at its first hit (INCR, then PEXPIRE on the
first): cheap, one round trip, atomic in a Lua script. If Redis fails, the counters fail
OPEN (the request passes, a warning is logged at most every 30 s): losing the limits for a
while is better than taking the whole front door down with the cache. Timeouts: 2 s to
connect (a busy process's first connection needs slack), 1 s per command.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

log = logging.getLogger("hub.gateway.policies")

# KEYS[1] counter; ARGV[1] increment, ARGV[2] window in ms → {count, ms to reset}
_HIT = """
local c = redis.call('INCRBY', KEYS[1], ARGV[1])
local t = redis.call('PTTL', KEYS[1])
if t < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  t = tonumber(ARGV[2])
end
return {c, t}
"""


class Counters(Protocol):
    async def hit(self, key: str, window: int, amount: int = 1) -> tuple[int, float]:
        """Add ``amount``; the count and the seconds until the window resets."""
        ...

    async def hit_many(self, hits: list[tuple[str, int]]) -> list[tuple[int, float]]:
        """Several (key, window) hits at once (one round trip to Redis)."""
        ...

    async def peek(self, key: str) -> tuple[int, float]: ...

    async def close(self) -> None: ...


class MemoryCounters:
    """In-process counters (monotonic clock); expired ones are swept as the map grows."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[int, float]] = {}
        self._sweep_at = 10_000

    async def hit(self, key: str, window: int, amount: int = 1) -> tuple[int, float]:
        now = time.monotonic()
        count, until = self._values.get(key, (0, 0.0))
        if until <= now:
            count, until = 0, now + window
        count += amount
        self._values[key] = (count, until)
        if len(self._values) > self._sweep_at:
            self._sweep(now)
        return count, until - now

    async def hit_many(self, hits: list[tuple[str, int]]) -> list[tuple[int, float]]:
        return [await self.hit(key, window) for key, window in hits]

    async def peek(self, key: str) -> tuple[int, float]:
        now = time.monotonic()
        count, until = self._values.get(key, (0, 0.0))
        return (count, until - now) if until > now else (0, 0.0)

    def _sweep(self, now: float) -> None:
        self._values = {k: v for k, v in self._values.items() if v[1] > now}
        self._sweep_at = max(10_000, 2 * len(self._values))

    async def close(self) -> None:
        self._values.clear()


class RedisCounters:
    """Counters shared by every gateway process, in Redis; fail open on Redis errors."""

    def __init__(self, url: str, prefix: str = "hub:fd:") -> None:
        self.redis = aioredis.from_url(
            url, socket_connect_timeout=2.0, socket_timeout=1.0, health_check_interval=30
        )
        self.prefix = prefix
        self._hit = self.redis.register_script(_HIT)
        self._warned_at = 0.0

    async def hit(self, key: str, window: int, amount: int = 1) -> tuple[int, float]:
        try:
            count, ttl_ms = await self._hit(keys=[self.prefix + key], args=[amount, window * 1000])
        except (RedisError, OSError) as exc:
            self._warn(exc)
            return 0, 0.0
        return int(count), int(ttl_ms) / 1000

    async def hit_many(self, hits: list[tuple[str, int]]) -> list[tuple[int, float]]:
        if len(hits) == 1:
            return [await self.hit(*hits[0])]
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                for key, window in hits:
                    # Plain EVAL: a Script object in a pipeline costs a SCRIPT EXISTS trip.
                    pipe.eval(_HIT, 1, self.prefix + key, 1, window * 1000)
                results = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._warn(exc)
            return [(0, 0.0)] * len(hits)
        return [(int(count), int(ttl_ms) / 1000) for count, ttl_ms in results]

    async def peek(self, key: str) -> tuple[int, float]:
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.get(self.prefix + key)
                pipe.pttl(self.prefix + key)
                value, ttl_ms = await pipe.execute()
        except (RedisError, OSError) as exc:
            self._warn(exc)
            return 0, 0.0
        if value is None or ttl_ms is None or int(ttl_ms) < 0:
            return 0, 0.0
        return int(value), int(ttl_ms) / 1000

    def _warn(self, exc: BaseException) -> None:
        now = time.monotonic()
        if now - self._warned_at > 30:
            self._warned_at = now
            log.warning("rate-limit counters unavailable, failing open: %s", exc)

    async def close(self) -> None:
        await self.redis.aclose()


def counters_for(redis_url: str, prefix: str = "hub:fd:") -> Counters:
    return RedisCounters(redis_url, prefix) if redis_url else MemoryCounters()
