"""Small shared state of the connectors: our sent ids, customers' last message, agent replies, the outbox.

Agent replies are kept by the desk's client id, so a retried request sends once; bot replies by inbound
event and position (`connectors.outbox`). Seen webhook ids live in the inbox (`connectors.inbox`).

Redis when `REDIS_URL` is set (shared by every Rasa replica, survives restarts), otherwise a SQLite file
in `$VAR_DIR` (`connectors.kv_sqlite`, also survives restarts); `MemoryStore` is for tests. Keys
expire: nothing here grows without bound.
"""

from __future__ import annotations

import json
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from connectors.kv_sqlite import SqliteStore

# How long the inbox remembers an event id (`connectors.inbox`). Meta retries failed deliveries for
# hours; keep ids well beyond that, and beyond the webhooks' age limit (`limits.DEFAULT_MAX_AGE_SECONDS`,
# 2 days): a replayed event is then a known duplicate or too old.
SEEN_TTL = 3 * 24 * 3600
SENT_TTL = 24 * 3600  # echoes of our own messages arrive within seconds
INBOUND_TTL = 8 * 24 * 3600  # longer than the 7-day human agent window
OPTIONS_TTL = 24 * 3600  # numbered options offered on X stay answerable for a day
AGENT_REPLY_TTL = 24 * 3600  # the desk retries within minutes; a day leaves a wide margin
# A claimed but unfinished agent reply: longer than a send with all its retries (rate-limit waits of up
# to 60 s), short enough that a process that died mid-send frees its client id soon.
AGENT_REPLY_PENDING_TTL = 10 * 60
OPTION_NUMBER = re.compile(r"^\s*#?(\d{1,2})\s*[.)]?\s*$")
MEMORY_LIMIT = 100_000  # entries kept by the in-process store
DEFAULT_VAR_DIR = "var"  # as bot.settings; the connectors run in Rasa's runtime, without bot's settings
SQLITE_FILE = "connectors.db"


class KeyValueStore(Protocol):
    """The four operations the connectors need."""

    async def add(self, key: str, value: str, ttl: int) -> bool:
        """Store `key` unless present; True if this call stored it (atomic)."""

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store `key`, replacing any value."""

    async def get(self, key: str) -> str | None:
        """The value of `key`, or None."""

    async def delete(self, key: str) -> None:
        """Forget `key` (no error if absent)."""


class MemoryStore:
    """In-process store with expiry and a size bound (oldest entries go first)."""

    def __init__(self, limit: int = MEMORY_LIMIT) -> None:
        self._items: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._limit = limit

    def _live(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[1] < time.monotonic():
            del self._items[key]
            return None
        return item[0]

    async def add(self, key: str, value: str, ttl: int) -> bool:
        """Store unless present."""
        if self._live(key) is not None:
            return False
        await self.set(key, value, ttl)
        return True

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store, evicting the oldest entries beyond the limit."""
        self._items[key] = (value, time.monotonic() + ttl)
        self._items.move_to_end(key)
        while len(self._items) > self._limit:
            self._items.popitem(last=False)

    async def get(self, key: str) -> str | None:
        """Read a live value."""
        return self._live(key)

    async def delete(self, key: str) -> None:
        """Forget."""
        self._items.pop(key, None)


class RedisStore:
    """Redis store; `add` is SET NX EX, atomic across replicas."""

    def __init__(self, url: str, prefix: str = "loom:connectors:") -> None:
        from redis import asyncio as aioredis

        self._redis = aioredis.from_url(url, decode_responses=True)
        self._prefix = prefix

    async def add(self, key: str, value: str, ttl: int) -> bool:
        """Store unless present."""
        return bool(await self._redis.set(self._prefix + key, value, ex=ttl, nx=True))

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store."""
        await self._redis.set(self._prefix + key, value, ex=ttl)

    async def get(self, key: str) -> str | None:
        """Read."""
        return await self._redis.get(self._prefix + key)

    async def delete(self, key: str) -> None:
        """Forget."""
        await self._redis.delete(self._prefix + key)


def store_from_env(env: Mapping[str, str] | None = None) -> KeyValueStore:
    """Redis when REDIS_URL is set, otherwise a SQLite file in `$VAR_DIR` (default `var/connectors.db`).

    Not in memory: seen ids must outlive a restart, or a batch the platform redelivers after one would
    be answered twice.
    """
    from connectors.settings import ConnectorSettings

    config = ConnectorSettings.from_env(env)
    if config.redis_url:
        return RedisStore(config.redis_url)
    return SqliteStore(Path(config.var_dir) / SQLITE_FILE)


class ConnectorState:
    """What the platform connectors remember, on top of a key-value store."""

    def __init__(self, store: KeyValueStore) -> None:
        self.store = store

    async def remember_sent(self, platform: str, mid: str) -> None:
        """Remember a message id we sent, so its echo is known as ours."""
        await self.store.set(f"sent:{platform}:{mid}", "1", SENT_TTL)

    async def was_sent_by_us(self, platform: str, mid: str | None) -> bool:
        """Whether we sent the message with this id."""
        return bool(mid) and await self.store.get(f"sent:{platform}:{mid}") is not None

    async def record_inbound(self, platform: str, user_id: str, timestamp_ms: int) -> None:
        """The time of the customer's latest message (starts Meta's 24-hour window)."""
        current = await self.last_inbound(platform, user_id)
        if current is None or timestamp_ms > current:
            await self.store.set(f"inbound:{platform}:{user_id}", str(timestamp_ms), INBOUND_TTL)

    async def last_inbound(self, platform: str, user_id: str) -> int | None:
        """Milliseconds timestamp of the customer's latest message, if known."""
        value = await self.store.get(f"inbound:{platform}:{user_id}")
        return int(value) if value else None

    async def remember_options(self, platform: str, user_id: str, payloads: list[str]) -> None:
        """Payloads of the numbered options just offered (channels without buttons, like X DMs)."""
        await self.store.set(f"options:{platform}:{user_id}", json.dumps(payloads), OPTIONS_TTL)

    async def chosen_option(self, platform: str, user_id: str, text: str) -> str | None:
        """The payload of the option a reply like "2" or "2." picks, if options were offered."""
        match = OPTION_NUMBER.match(text or "")
        if not match:
            return None
        stored = await self.store.get(f"options:{platform}:{user_id}")
        payloads = json.loads(stored) if stored else []
        index = int(match.group(1)) - 1
        return payloads[index] if 0 <= index < len(payloads) else None

    async def claim_agent_reply(
        self, platform: str, client_id: str, fingerprint: str
    ) -> dict[str, Any] | None:
        """Claim an agent reply's client id for one send (atomic across replicas).

        None when this call claimed it; otherwise what is stored: `{"state": "pending" | "sent",
        "fingerprint": ..., "response": ...}` (`response` once sent).
        """
        key = f"agent_reply:{platform}:{client_id}"
        pending = {"state": "pending", "fingerprint": fingerprint}
        if await self.store.add(key, json.dumps(pending), AGENT_REPLY_PENDING_TTL):
            return None
        stored = await self.store.get(key)
        return json.loads(stored) if stored else pending  # expired just now: the caller may retry

    async def finish_agent_reply(
        self, platform: str, client_id: str, fingerprint: str, response: dict[str, Any]
    ) -> None:
        """Keep a sent reply's answer for a day: a retry with its client id gets it, nothing is resent."""
        record = {"state": "sent", "fingerprint": fingerprint, "response": response}
        await self.store.set(f"agent_reply:{platform}:{client_id}", json.dumps(record), AGENT_REPLY_TTL)

    async def release_agent_reply(self, platform: str, client_id: str) -> None:
        """A claimed reply was not sent: free its client id so the desk may retry it."""
        await self.store.delete(f"agent_reply:{platform}:{client_id}")
