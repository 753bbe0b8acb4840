"""The durable inbox: a webhook is acknowledged only once its events are stored here.

Each event is stored with the platform's id for it; storing is also the dedupe (a redelivered id is
refused in the same atomic step, and remembered as long as `SEEN_TTL`), so "new" and "durable" are one
answer. Events are spread over `shards` by conversation: a shard is worked by one consumer at a time
(a lease), in the order the events were stored, so each conversation's events are handled one at a time
and in order whichever replica received them (`connectors.inbox_worker`).

Engines: Redis Streams with a consumer group per platform when `REDIS_URL` is set
(`connectors.inbox_redis`), otherwise a SQL table in the database of `DATABASE_URL` (PostgreSQL) or in
`$VAR_DIR/inbox.db` (SQLite, the embedded default) (`connectors.inbox_sql`). Runs in runtime A.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from connectors.state import SEEN_TTL

__all__ = [
    "SEEN_TTL",
    "Entry",
    "Inbox",
    "InboxSettings",
    "InboxUnavailable",
    "NewEntry",
    "inbox_from_env",
    "shard_of",
]

DEFAULT_SHARDS = 8
PRUNE_EVERY = 600.0  # seconds between two removals of what is older than SEEN_TTL (both engines)
DEFAULT_LEASE_SECONDS = 5.0
DEFAULT_DRAIN_SECONDS = 20.0
# Turns in flight per channel. They overlap their waits (action server, Send API, database), and the
# messages of turns in flight are understood together (bot/rasa_server/batch_parse.py): at 4 a batch
# held 1.6 messages on average at 20 conversations, at 20 it held 5.5, and throughput rose by a fifth
# (bench/PROFILE.md). Webhooks are still acknowledged first: storing one is a single short step. At 16,
# 4 of 20 conversations waited for a free place (125 ms a message); at 32, 29 ms (fifth round).
DEFAULT_CONCURRENCY = 32
SQLITE_FILE = "inbox.db"


class InboxUnavailable(RuntimeError):
    """The inbox could not be written or read (engine down): the webhook answers 503, the platform retries."""


@dataclass(frozen=True)
class NewEntry:
    """An event to store: the platform's id for it, its conversation, and a body that re-parses to it."""

    event_id: str
    conversation: str
    body: str  # JSON: a one-event webhook body of the platform's own shape


@dataclass(frozen=True)
class Entry:
    """A stored event, as a consumer reads it."""

    entry_id: str  # the engine's id (a stream id, or a row id)
    platform: str
    shard: int
    event_id: str
    conversation: str
    body: str
    received_at: float  # wall-clock seconds when it was stored

    @property
    def key(self) -> str:
        """Unique within a platform's inbox (stream ids repeat across a platform's shards)."""
        return f"{self.shard}:{self.entry_id}"


def shard_of(platform: str, conversation: str, shards: int) -> int:
    """The shard of a conversation: stable across processes and restarts (not Python's `hash`)."""
    return zlib.crc32(f"{platform}:{conversation}".encode()) % shards


@dataclass(frozen=True)
class InboxSettings:
    """Shards, lease length, SIGTERM's wait for work in progress, events handled at once per channel."""

    shards: int = DEFAULT_SHARDS
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    drain_seconds: float = DEFAULT_DRAIN_SECONDS
    concurrency: int = DEFAULT_CONCURRENCY

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> InboxSettings:
        """`INBOX_SHARDS`, `_LEASE_SECONDS`, `_DRAIN_SECONDS`, `_CONCURRENCY`; a bad value stops start-up."""
        if env is None:
            from connectors.settings import ConnectorSettings

            return ConnectorSettings.from_env().inbox
        try:
            settings = cls(
                shards=int(env.get("INBOX_SHARDS") or DEFAULT_SHARDS),
                lease_seconds=float(env.get("INBOX_LEASE_SECONDS") or DEFAULT_LEASE_SECONDS),
                drain_seconds=float(env.get("INBOX_DRAIN_SECONDS") or DEFAULT_DRAIN_SECONDS),
                concurrency=int(env.get("INBOX_CONCURRENCY") or DEFAULT_CONCURRENCY),
            )
        except ValueError as err:
            raise ValueError(f"INBOX_* settings must be numbers: {err}") from err
        if not 1 <= settings.shards <= 1024:
            raise ValueError("INBOX_SHARDS must be between 1 and 1024")
        if not 1 <= settings.lease_seconds <= 300:
            raise ValueError("INBOX_LEASE_SECONDS must be between 1 and 300")
        if not 0 <= settings.drain_seconds <= 600:
            raise ValueError("INBOX_DRAIN_SECONDS must be between 0 and 600")
        if not 1 <= settings.concurrency <= 256:
            raise ValueError("INBOX_CONCURRENCY must be between 1 and 256")
        return settings


class Inbox(Protocol):
    """What the webhooks and the worker need from an engine. Every method may raise InboxUnavailable."""

    engine: str  # "redis", "sqlite" or "postgresql", for logs and /readyz
    shards: int

    async def append(self, platform: str, entries: list[NewEntry]) -> list[bool]:
        """Store the entries not seen before, atomically with the dedupe; per entry, whether it was new."""

    async def heartbeat(self, platform: str, member: str, ttl: float) -> int:
        """Say `member` is alive for `ttl` seconds; how many members of the platform are alive."""

    async def leave(self, platform: str, member: str) -> None:
        """`member` stops (its leases are released separately)."""

    async def lease(self, platform: str, shard: int, member: str, ttl: float) -> bool:
        """Take or renew the lease of a shard for `ttl` seconds; False if another member holds it."""

    async def release(self, platform: str, shard: int, member: str) -> None:
        """Give a shard's lease back, if `member` holds it, so another member may take it at once."""

    async def adopt(self, platform: str, shard: int, member: str) -> list[Entry]:
        """After taking a lease: the shard's unfinished entries, oldest first (a dead consumer's too)."""

    async def fetch(
        self, platform: str, shards: list[int], member: str, skip: set[str], limit: int, wait: float
    ) -> list[Entry]:
        """Entries of these shards not handed out nor in `skip` (by `key`), oldest first; waits `wait` s."""

    async def done(self, entry: Entry) -> None:
        """The entry's work is finished: it is never handed out again (its id stays known as seen)."""

    async def ping(self) -> None:
        """Raise InboxUnavailable unless the engine answers (readiness)."""

    async def count_pending(self, platform: str) -> int:
        """Entries of the platform not yet done (tests, benchmarks, diagnostics)."""

    async def close(self) -> None:
        """Release connections."""


def inbox_from_env(env: Mapping[str, str] | None = None, settings: InboxSettings | None = None) -> Inbox:
    """Redis Streams when `REDIS_URL` is set; else the `DATABASE_URL` database; else `$VAR_DIR/inbox.db`."""
    from connectors.settings import ConnectorSettings

    config = ConnectorSettings.from_env(env)
    settings = settings or config.inbox
    if config.redis_url:
        from connectors.inbox_redis import RedisInbox

        return RedisInbox(config.redis_url, settings.shards)
    from connectors.inbox_sql import SqlInbox

    url = config.database_url or ""
    if not url:
        path = Path(config.var_dir) / SQLITE_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        url = f"sqlite:///{path}"
    return SqlInbox(url, settings.shards)
