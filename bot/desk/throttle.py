"""Sign-in throttling: failures counted per user name and per client address, in a fixed window.

With `REDIS_URL` the counters live in Redis, so every desk replica sees the same count; otherwise in
this process. A name is counted whether or not an account has it, so a refusal that comes from the
throttle says nothing about which accounts exist. Keys hold a hash of the name, never the name itself.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from typing import Any

from bot.desk.config import Lockout

logger = logging.getLogger(__name__)
PREFIX = "loom:desk:signin"
MAX_LOCAL_KEYS = 100_000  # an attacker spraying names must not grow this process without bound


def _key(kind: str, value: str) -> str:
    return f"{PREFIX}:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


class LocalCounters:
    """Counters with an expiry, in this process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._counts: dict[str, tuple[int, float]] = {}

    async def get(self, key: str) -> int:
        """The live count of `key` (0 once its window ended)."""
        count, expires = self._counts.get(key, (0, 0.0))
        return count if expires > self._clock() else 0

    async def add(self, key: str, window: float) -> int:
        """Count one more; a new window starts with the first count. The new count."""
        now = self._clock()
        if len(self._counts) >= MAX_LOCAL_KEYS:
            self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            while len(self._counts) >= MAX_LOCAL_KEYS:  # still full: the oldest windows go first
                del self._counts[min(self._counts, key=lambda k: self._counts[k][1])]
        count, expires = self._counts.get(key, (0, 0.0))
        if expires <= now:
            count, expires = 0, now + window
        self._counts[key] = (count + 1, expires)
        return count + 1

    async def clear(self, key: str) -> None:
        """Forget `key`."""
        self._counts.pop(key, None)

    async def close(self) -> None:
        """Release connections."""
        return None


class RedisCounters:
    """Counters shared by every desk replica: INCR, with the window set on the first failure."""

    def __init__(self, url: str) -> None:
        from redis import asyncio as aioredis

        self._redis: Any = aioredis.from_url(url, decode_responses=True)

    async def get(self, key: str) -> int:
        """The live count of `key` (0 once its window ended)."""
        return int(await self._redis.get(key) or 0)

    async def add(self, key: str, window: float) -> int:
        """Count one more; a new window starts with the first count. The new count."""
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=max(1, int(window)), nx=True)
            pipe.incr(key)
            _, count = await pipe.execute()
        return int(count)

    async def clear(self, key: str) -> None:
        """Forget `key`."""
        await self._redis.delete(key)

    async def close(self) -> None:
        """Release connections."""
        await self._redis.aclose()


class SignInThrottle:
    """At most `lockout.attempts` failures per name and `lockout.ip_attempts` per address per window."""

    def __init__(
        self, lockout: Lockout, redis_url: str | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._lockout = lockout
        self._window = lockout.minutes * 60.0
        self._local = LocalCounters(clock)
        self._shared: RedisCounters | LocalCounters = RedisCounters(redis_url) if redis_url else self._local

    async def _run(self, work: Callable[[LocalCounters | RedisCounters], Any]) -> Any:
        try:
            return await work(self._shared)
        except Exception as err:  # Redis down: keep throttling, per replica, rather than lock everyone out
            if self._shared is self._local:
                raise
            logger.warning("sign-in throttle: Redis unavailable (%s); counting in this process", err)
            return await work(self._local)

    async def blocked(self, username: str, address: str) -> bool:
        """Whether this name or this address has used up its failures for now."""
        name, ip = _key("name", username), _key("ip", address)

        async def check(counters: LocalCounters | RedisCounters) -> bool:
            return (
                await counters.get(name) >= self._lockout.attempts
                or await counters.get(ip) >= self._lockout.ip_attempts
            )

        return bool(await self._run(check))

    async def failed(self, username: str, address: str) -> bool:
        """Count a failure; whether the name has now reached its limit."""
        name, ip = _key("name", username), _key("ip", address)

        async def count(counters: LocalCounters | RedisCounters) -> bool:
            await counters.add(ip, self._window)
            return await counters.add(name, self._window) >= self._lockout.attempts

        return bool(await self._run(count))

    async def succeeded(self, username: str) -> None:
        """A right password clears the name's count (the address keeps its own)."""
        name = _key("name", username)
        await self._run(lambda counters: counters.clear(name))

    async def close(self) -> None:
        """Close the Redis connection, if any."""
        await self._shared.close()
