"""Proactive rate limits on outbound platform calls: token buckets per kind of call and account.

The platforms limit per Page or account, not per replica: reacting to 429 alone lets every replica
send at full speed until all of them are refused at once. So a call takes a token before it goes.
With `REDIS_URL` the buckets live in Redis and every replica draws on the same budget (one Lua script
per call, atomic); without it, in this process (the single-process embedded default).

A rate `count/period` is a bucket of `count` tokens refilled at `count/period` per second: a burst of
`count` goes at once, and the long-run pace is the platform's. Several rates (`200/15m,1000/24h`)
must all have a token. A call without one reserves the next (callers go in turn) and waits for it, up
to `RATE_LIMIT_MAX_WAIT` seconds; one that would wait longer takes nothing and fails at once with
`RateLimited`, which the clients turn into a retryable error (a bot reply is then deferred to the
inbox's next try instead of holding the conversation). If Redis cannot be reached the call goes
unthrottled: the platform's own limit and our reaction to its 429 still apply.

Defaults are the platforms' published limits, applied to the platforms' own hosts; calls to another
host (the local simulator, a test server) are limited only by a rate set in the environment.
- Meta Send API: 300 calls/s per Page or Instagram account; Pages and Instagram Graph calls (comments,
  hides) are limited to 4,800 calls per engaged user per 24 h, so 4,800/24h is the floor:
  https://developers.facebook.com/documentation/business-messaging/messenger-platform/overview/rate-limiting
  https://developers.facebook.com/docs/graph-api/overview/rate-limiting
- X, per user (our account): DMs 200 per 15 min and 1,000 per 24 h, posts 200 per 15 min and 300 per 3 h:
  https://docs.x.com/x-api/fundamentals/rate-limits
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from bot.settings import ConfigError

logger = logging.getLogger(__name__)

DEFAULT_MAX_WAIT = 30.0
MAX_WAIT_LIMIT = 600.0
KEY_PREFIX = "loom:ratelimit:"
OFF = ("off", "none", "0")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*([smhd])\s*")
META_HOSTS = frozenset({"graph.facebook.com", "graph.instagram.com"})
X_HOSTS = frozenset({"api.x.com", "api.twitter.com"})


class RateLimited(Exception):
    """The call would wait longer than allowed for a token; nothing was taken."""

    def __init__(self, kind: str, wait: float) -> None:
        super().__init__(f"{kind} rate limit: next call possible in {wait:.1f} s")
        self.kind = kind
        self.wait = wait


@dataclass(frozen=True)
class Rate:
    """`count` calls per `seconds`: a bucket of `count` tokens refilled at `count/seconds` a second."""

    count: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Tokens gained per second."""
        return self.count / self.seconds

    def __str__(self) -> str:
        return f"{self.count}/{self.seconds:g}s"


@dataclass(frozen=True)
class Kind:
    """A kind of outbound call: its variable, its default, and the hosts that default is for."""

    variable: str
    default: str
    hosts: frozenset[str]


KINDS: dict[str, Kind] = {
    "meta_send": Kind("META_SEND_RATE", "300/1s", META_HOSTS),
    "meta_graph": Kind("META_GRAPH_RATE", "4800/24h", META_HOSTS),
    "x_dm": Kind("X_SEND_RATE", "200/15m,1000/24h", X_HOSTS),
    "x_tweet": Kind("X_TWEET_RATE", "200/15m,300/3h", X_HOSTS),
}


def parse_rates(text: str, name: str) -> tuple[Rate, ...]:
    """`300/1s`, `200/15m,1000/24h` (units s, m, h, d; `300/s` is `300/1s`); `off` for no limit."""
    if text.strip().lower() in OFF:
        return ()
    rates = []
    for part in text.split(","):
        match = _RATE.fullmatch(part)
        if match is None:
            raise ConfigError(f"{name} must be like 300/1s or 200/15m,1000/24h (or off), not {text!r}")
        count, amount, unit = int(match.group(1)), float(match.group(2) or 1), match.group(3)
        if count <= 0 or amount <= 0:
            raise ConfigError(f"{name} needs a positive count and period, not {part.strip()!r}")
        rates.append(Rate(count, amount * _UNITS[unit]))
    return tuple(rates)


@dataclass(frozen=True)
class RateLimits:
    """The rates set in the environment (others: the platform's default on its own hosts) and the wait."""

    explicit: tuple[tuple[str, tuple[Rate, ...]], ...] = ()
    max_wait: float = DEFAULT_MAX_WAIT

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RateLimits:
        """`META_SEND_RATE`, `META_GRAPH_RATE`, `X_SEND_RATE`, `X_TWEET_RATE`, `RATE_LIMIT_MAX_WAIT`.

        Unset or empty: the default. A value that cannot work stops start-up (`ConfigError`).
        """
        explicit = tuple(
            (kind, parse_rates(env[spec.variable], spec.variable))
            for kind, spec in KINDS.items()
            if (env.get(spec.variable) or "").strip()
        )
        raw = (env.get("RATE_LIMIT_MAX_WAIT") or "").strip()
        try:
            max_wait = float(raw) if raw else DEFAULT_MAX_WAIT
        except ValueError as err:
            raise ConfigError(f"RATE_LIMIT_MAX_WAIT must be a number of seconds, not {raw!r}") from err
        if not 0 <= max_wait <= MAX_WAIT_LIMIT:
            raise ConfigError(f"RATE_LIMIT_MAX_WAIT must be between 0 and {MAX_WAIT_LIMIT:g} seconds")
        return cls(explicit=explicit, max_wait=max_wait)

    def rates(self, kind: str, api_url: str) -> tuple[Rate, ...]:
        """The rates of `kind` calls to `api_url`: as set, else the default on the platform's own host."""
        for name, rates in self.explicit:
            if name == kind:
                return rates
        spec = KINDS[kind]
        host = (urlsplit(api_url).hostname or "").lower()
        return parse_rates(spec.default, spec.variable) if host in spec.hosts else ()


class Buckets(Protocol):
    """Where token levels are kept."""

    async def reserve(self, key: str, rates: tuple[Rate, ...], now: float | None, max_wait: float) -> float:
        """Take a token from each bucket of `key` (reserving one not yet there); the wait for it.

        Raises `RateLimited` without taking anything if the wait would exceed `max_wait`, and
        `LimiterUnavailable` if the store cannot be reached.
        """


class LimiterUnavailable(Exception):
    """The shared store of the buckets could not be reached."""


def refill(
    levels: list[float] | None, last: float | None, rates: tuple[Rate, ...], now: float
) -> tuple[list[float], float]:
    """Each bucket's level at `now` (full when never used) and the wait until all hold one token."""
    elapsed = max(0.0, now - last) if last is not None else 0.0
    current = [
        min(rate.count, (levels[i] if levels and i < len(levels) else rate.count) + elapsed * rate.per_second)
        for i, rate in enumerate(rates)
    ]
    wait = max(
        (max(0.0, 1 - level) / rate.per_second for level, rate in zip(current, rates, strict=True)),
        default=0.0,
    )
    return current, wait


class MemoryBuckets:
    """Buckets in this process (the embedded default): one event loop, so no lock is needed."""

    def __init__(self) -> None:
        self._state: dict[str, tuple[float, list[float]]] = {}

    async def reserve(self, key: str, rates: tuple[Rate, ...], now: float | None, max_wait: float) -> float:
        """See `Buckets.reserve`; `now` defaults to the monotonic clock."""
        now = time.monotonic() if now is None else now
        last, levels = self._state.get(key, (None, None))
        current, wait = refill(levels, last, rates, now)
        if wait > max_wait:
            raise RateLimited(key.split(":", 1)[0], wait)
        self._state[key] = (now if last is None else max(now, last), [level - 1 for level in current])
        return wait


# The same arithmetic as `refill` and `MemoryBuckets.reserve`, atomic in Redis. KEYS[1]: the hash
# (`ts` and one level `t<i>` per rate). ARGV: now (empty: Redis's clock, the same for every replica),
# max_wait, TTL in ms, then capacity and tokens per second of each rate. Returns {taken, wait}.
RESERVE_LUA = """
local now = tonumber(ARGV[1])
if now == nil then
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local max_wait = tonumber(ARGV[2])
local n = (#ARGV - 3) / 2
local fields = {'ts'}
for i = 1, n do fields[i + 1] = 't' .. i end
local stored = redis.call('HMGET', KEYS[1], unpack(fields))
local last = tonumber(stored[1])
local elapsed = 0
if last ~= nil then elapsed = math.max(0, now - last) else last = now end
local levels = {}
local wait = 0
for i = 1, n do
  local capacity = tonumber(ARGV[2 + 2 * i])
  local per_second = tonumber(ARGV[3 + 2 * i])
  local level = math.min(capacity, (tonumber(stored[i + 1]) or capacity) + elapsed * per_second)
  levels[i] = level
  if level < 1 then wait = math.max(wait, (1 - level) / per_second) end
end
if wait > max_wait then return {0, string.format('%.6f', wait)} end
local update = {'ts', string.format('%.6f', math.max(now, last))}
for i = 1, n do
  update[#update + 1] = 't' .. i
  update[#update + 1] = string.format('%.6f', levels[i] - 1)
end
redis.call('HSET', KEYS[1], unpack(update))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {1, string.format('%.6f', wait)}
"""


class RedisBuckets:
    """Buckets in Redis, shared by every replica; the connection opens on first use."""

    def __init__(self, url: str, prefix: str = KEY_PREFIX) -> None:
        from redis import asyncio as aioredis

        self._redis = aioredis.from_url(url, decode_responses=True)
        self._script = self._redis.register_script(RESERVE_LUA)
        self._prefix = prefix

    async def reserve(self, key: str, rates: tuple[Rate, ...], now: float | None, max_wait: float) -> float:
        """See `Buckets.reserve`; `now` defaults to Redis's own clock."""
        from redis.exceptions import RedisError

        # Idle that long, every bucket is full again (even one in debt by `max_wait`): the key may go.
        ttl_ms = math.ceil((max(rate.seconds for rate in rates) + max_wait) * 1000)
        args: list[Any] = ["" if now is None else repr(now), repr(max_wait), ttl_ms]
        for rate in rates:
            args += [rate.count, repr(rate.per_second)]
        try:
            taken, wait = await self._script(keys=[self._prefix + key], args=args)
        except (RedisError, OSError) as err:
            raise LimiterUnavailable(f"{type(err).__name__}: {err}") from err
        if not int(taken):
            raise RateLimited(key.split(":", 1)[0], float(wait))
        return float(wait)

    async def close(self) -> None:
        """Close the connection pool."""
        await self._redis.close()


def account_key(*parts: str) -> str:
    """A bucket's account part: a digest, so no access token is ever written to Redis."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


class RateLimiter:
    """Waits for a token before each outbound call; `clock` and `sleep` are injectable for tests."""

    def __init__(
        self,
        limits: RateLimits,
        buckets: Buckets | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.limits = limits
        self._buckets = buckets or MemoryBuckets()
        self._clock = clock
        self._sleep = sleep

    async def acquire(self, kind: str, account: str, api_url: str) -> float:
        """Wait for a token for a `kind` call on behalf of `account` (a digest) to `api_url`; the wait.

        `RateLimited` if the wait would exceed the limit's `max_wait` (nothing taken then).
        """
        rates = self.limits.rates(kind, api_url)
        if not rates:
            return 0.0
        now = self._clock() if self._clock is not None else None
        try:
            wait = await self._buckets.reserve(f"{kind}:{account}", rates, now, self.limits.max_wait)
        except LimiterUnavailable as err:
            logger.warning("%s rate limiter unavailable, calling without it: %s", kind, err)
            return 0.0
        if wait > 0:
            logger.info("%s rate limit: waiting %.2f s for a token", kind, wait)
            await self._sleep(wait)
        return wait


_PROCESS_LIMITERS: dict[tuple[str | None, RateLimits], RateLimiter] = {}


def limiter_from_env(env: Mapping[str, str] | None = None) -> RateLimiter:
    """The process's limiter for the environment's settings: one per Redis URL and limits, made once.

    Called when a platform client is built (Rasa start-up); every client of the process shares it,
    so two clients of one Page draw on one budget here too.
    """
    from connectors.settings import ConnectorSettings

    config = ConnectorSettings.from_env(env)
    key = (config.redis_url, config.rate_limits)
    if key not in _PROCESS_LIMITERS:
        buckets: Buckets = RedisBuckets(config.redis_url) if config.redis_url else MemoryBuckets()
        _PROCESS_LIMITERS[key] = RateLimiter(config.rate_limits, buckets)
    return _PROCESS_LIMITERS[key]
