"""The inbox in Redis Streams: one stream per platform and shard, one consumer group per stream.

Storing is one Lua script for the whole webhook: for each event, `SET seen-key NX EX` and, only if that
set it, `XADD` to its shard's stream; Redis runs a script atomically, so an event is either new and
stored, or a known duplicate, never one without the other. A consumer holding a shard's lease reads
new entries with `XREADGROUP ... >`; after taking a lease it first claims, with `XAUTOCLAIM`, whatever
the previous holder had read but not finished (its pending entries), in stream order. A finished entry
is acknowledged and deleted (`XACK` + `XDEL`), so a stream holds only unfinished work; `XTRIM MINID`
drops entries older than `SEEN_TTL` as a backstop (every `PRUNE_EVERY`, as the SQL engine prunes).
Leases are `SET NX PX` keys renewed by their owner (compare-and-expire in Lua); members are a sorted
set scored by expiry.

Durability is Redis's: run it with `appendonly yes` (`deploy/docker-compose.yml` does), or a Redis
restart forgets what was acknowledged.
"""

from __future__ import annotations

import time
from typing import Any

from redis import asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from connectors.inbox import PRUNE_EVERY, SEEN_TTL, Entry, InboxUnavailable, NewEntry, shard_of

PREFIX = "loom:inbox:"
GROUP = "workers"

# KEYS: seen key and stream key per entry; ARGV: ttl, event id, conversation and body per entry, time.
APPEND = """
local stored = {}
for i = 1, #KEYS, 2 do
  local n = (i + 1) / 2
  local a = 3 * (n - 1) + 2
  if redis.call('SET', KEYS[i], '1', 'NX', 'EX', ARGV[1]) then
    redis.call('XADD', KEYS[i + 1], '*', 'event_id', ARGV[a], 'conversation', ARGV[a + 1],
               'body', ARGV[a + 2], 'received_at', ARGV[#ARGV])
    stored[n] = 1
  else
    stored[n] = 0
  end
end
return stored
"""
RENEW = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not owner then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisInbox:
    """Streams `loom:inbox:<platform>:<shard>`, seen keys `loom:inbox:seen:<platform>:<event id>`."""

    engine = "redis"

    def __init__(self, url: str, shards: int, prefix: str = PREFIX) -> None:
        self.shards = shards
        self.prefix = prefix
        self._redis = aioredis.from_url(url, decode_responses=True, health_check_interval=30)
        # XREADGROUP BLOCK holds its connection; a separate client keeps it from starving the others.
        self._reader = aioredis.from_url(url, decode_responses=True, health_check_interval=30)
        self._append = self._redis.register_script(APPEND)
        self._renew = self._redis.register_script(RENEW)
        self._release = self._redis.register_script(RELEASE)
        self._groups: set[str] = set()
        self._trimmed_at: dict[str, float] = {}

    def stream(self, platform: str, shard: int) -> str:
        """The stream of one shard."""
        return f"{self.prefix}{platform}:{shard}"

    async def _call(self, coroutine: Any) -> Any:
        try:
            return await coroutine
        except RedisError as err:
            raise InboxUnavailable(f"redis inbox: {err.__class__.__name__}: {err}") from err

    async def _group(self, stream: str) -> None:
        """Create the stream's consumer group once (from the start of the stream)."""
        if stream in self._groups:
            return
        try:
            await self._redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as err:
            if "BUSYGROUP" not in str(err):
                raise
        self._groups.add(stream)

    async def append(self, platform: str, entries: list[NewEntry]) -> list[bool]:
        """One atomic script: dedupe and store every entry of the webhook."""
        if not entries:
            return []
        keys: list[str] = []
        args: list[Any] = [SEEN_TTL]
        for entry in entries:
            keys += [
                f"{self.prefix}seen:{platform}:{entry.event_id}",
                self.stream(platform, shard_of(platform, entry.conversation, self.shards)),
            ]
            args += [entry.event_id, entry.conversation, entry.body]
        args.append(repr(time.time()))
        stored = await self._call(self._append(keys=keys, args=args))
        return [bool(flag) for flag in stored]

    async def heartbeat(self, platform: str, member: str, ttl: float) -> int:
        """Score `member` by its expiry; drop expired members; count the rest."""
        key = f"{self.prefix}members:{platform}"
        now = time.time()
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {member: now + ttl})
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zcard(key)
            pipe.expire(key, int(ttl * 10) + 1)
            results = await self._call(pipe.execute())
        if now - self._trimmed_at.get(platform, 0.0) > PRUNE_EVERY:
            self._trimmed_at[platform] = now
            await self._trim(platform, now)
        return int(results[2])

    async def _trim(self, platform: str, now: float) -> None:
        """Entries older than SEEN_TTL are dropped (finished ones are deleted at once anyway)."""
        oldest = f"{int((now - SEEN_TTL) * 1000)}-0"
        async with self._redis.pipeline(transaction=False) as pipe:
            for shard in range(self.shards):
                pipe.xtrim(self.stream(platform, shard), minid=oldest, approximate=True)
            await self._call(pipe.execute())

    async def leave(self, platform: str, member: str) -> None:
        """Remove `member` from the live set."""
        await self._call(self._redis.zrem(f"{self.prefix}members:{platform}", member))

    async def lease(self, platform: str, shard: int, member: str, ttl: float) -> bool:
        """Take the lease if free, renew it if ours."""
        key = f"{self.prefix}lease:{platform}:{shard}"
        return bool(await self._call(self._renew(keys=[key], args=[member, int(ttl * 1000)])))

    async def release(self, platform: str, shard: int, member: str) -> None:
        """Delete the lease if ours."""
        await self._call(self._release(keys=[f"{self.prefix}lease:{platform}:{shard}"], args=[member]))

    def _entry(self, platform: str, shard: int, entry_id: str, fields: dict[str, str]) -> Entry:
        return Entry(
            entry_id=entry_id,
            platform=platform,
            shard=shard,
            event_id=fields.get("event_id", ""),
            conversation=fields.get("conversation", ""),
            body=fields.get("body", ""),
            received_at=float(fields.get("received_at") or 0),
        )

    async def adopt(self, platform: str, shard: int, member: str) -> list[Entry]:
        """Claim every pending entry of the shard (read by an earlier holder, not finished), in order."""
        stream = self.stream(platform, shard)
        await self._call(self._group(stream))
        adopted: list[Entry] = []
        cursor = "0-0"
        while True:
            answer = await self._call(
                self._redis.xautoclaim(stream, GROUP, member, min_idle_time=0, start_id=cursor, count=100)
            )
            cursor, claimed = answer[0], answer[1]
            adopted += [self._entry(platform, shard, i, f) for i, f in claimed if f is not None]
            if cursor == "0-0":
                break
        # An entry deleted while pending comes back as (id, None): acknowledge it, nothing to do.
        return sorted(adopted, key=lambda e: tuple(int(p) for p in e.entry_id.split("-")))

    async def fetch(
        self, platform: str, shards: list[int], member: str, skip: set[str], limit: int, wait: float
    ) -> list[Entry]:
        """New entries of the held shards (`XREADGROUP >`), blocking up to `wait` seconds."""
        if not shards or limit <= 0:
            return []
        streams = {self.stream(platform, shard): ">" for shard in shards}
        for stream in streams:
            await self._call(self._group(stream))
        answer = await self._call(
            self._reader.xreadgroup(GROUP, member, streams, count=limit, block=max(1, int(wait * 1000)))
        )
        shard_by_stream = {self.stream(platform, shard): shard for shard in shards}
        entries = [
            self._entry(platform, shard_by_stream[stream], entry_id, fields)
            for stream, items in answer or []
            for entry_id, fields in items
        ]
        return [entry for entry in entries if entry.key not in skip]

    async def done(self, entry: Entry) -> None:
        """Acknowledge and delete the entry (its seen key stays)."""
        stream = self.stream(entry.platform, entry.shard)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.xack(stream, GROUP, entry.entry_id)
            pipe.xdel(stream, entry.entry_id)
            await self._call(pipe.execute())

    async def ping(self) -> None:
        """PING."""
        await self._call(self._redis.ping())

    async def count_pending(self, platform: str) -> int:
        """Entries not yet finished, over every shard (tests and diagnostics)."""
        total = 0
        for shard in range(self.shards):
            total += int(await self._call(self._redis.xlen(self.stream(platform, shard))))
        return total

    async def close(self) -> None:
        """Close both clients."""
        await self._redis.close()
        await self._reader.close()
