"""Public items about the brand (X mentions, comments under our posts), stored in table `mentions`.

This runs in the Rasa process (runtime A, SQLAlchemy 1.4), so it writes with one plain SQL statement
that both PostgreSQL and SQLite understand; the table belongs to the service schema
(bot/storage/models.py, created by `bot db upgrade`). A redelivered item is stored once. Monitoring
records them (bot/monitoring/ingest.py); the engagement queue answers them (bot/monitoring/engagement).
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import sqlalchemy

from bot.settings import Settings

logger = logging.getLogger(__name__)

MENTION, COMMENT = "mention", "comment"  # `mentions.kind`

INSERT = sqlalchemy.text(
    "INSERT INTO mentions (channel, kind, external_id, account_id, author_id, author_handle, author_name, "
    "author_followers, text, url, in_reply_to, post_id, media_urls, posted_at, received_at, raw) "
    "VALUES (:channel, :kind, :external_id, :account_id, :author_id, :author_handle, :author_name, "
    ":author_followers, :text, :url, :in_reply_to, :post_id, :media_urls, :posted_at, CURRENT_TIMESTAMP, "
    ":raw) ON CONFLICT (channel, external_id) DO NOTHING"
)
FIND = sqlalchemy.text(
    "SELECT kind, account_id, author_id, post_id FROM mentions WHERE channel = :channel AND external_id = :id"
)


@dataclass(frozen=True)
class PublicItem:
    """One public item as the channels hand it over (every platform's shape mapped to these columns)."""

    channel: str  # "twitter", "facebook", "instagram"
    kind: str  # MENTION or COMMENT
    external_id: str
    account_id: str  # our account it came to: replies go out from it
    author_id: str
    text: str
    url: str = ""
    author_handle: str = ""
    author_name: str = ""
    author_followers: int | None = None
    in_reply_to: str | None = None
    post_id: str | None = None
    media_urls: tuple[str, ...] = ()
    posted_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class StoredItem:
    """What a public action needs to know of a stored item (connectors/public_actions.py)."""

    kind: str
    account_id: str
    author_id: str
    post_id: str | None


def rasa_side_url(url: str) -> str:
    """The same database through the drivers of this runtime (psycopg2, sqlite3)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.split('+')[0]}://{rest}"


class MentionStore:
    """Writes and looks up public items; blocking SQL runs in a worker thread."""

    def __init__(self, database_url: str | None = None) -> None:
        url = rasa_side_url(database_url or Settings.from_env().database_url)
        self._engine = sqlalchemy.create_engine(url, pool_pre_ping=True)

    async def save(self, item: PublicItem) -> bool:
        """Store an item; True if it was new."""
        return await asyncio.to_thread(self._insert, item)

    async def find(self, channel: str, external_id: str) -> StoredItem | None:
        """The stored item of this channel with this platform id, or None: we only act on what we received."""
        return await asyncio.to_thread(self._find, channel, external_id)

    def _insert(self, item: PublicItem) -> bool:
        params: dict[str, Any] = {
            "channel": item.channel,
            "kind": item.kind,
            "external_id": item.external_id,
            "account_id": item.account_id,
            "author_id": item.author_id,
            "author_handle": item.author_handle,
            "author_name": item.author_name,
            "author_followers": item.author_followers,
            "text": item.text,
            "url": item.url,
            "in_reply_to": item.in_reply_to,
            "post_id": item.post_id,
            "media_urls": json.dumps(list(item.media_urls)),
            "posted_at": self._timestamp(item.posted_at or datetime.now(timezone.utc)),
            "raw": json.dumps(item.raw, ensure_ascii=False),
        }
        with self._engine.begin() as connection:
            return connection.execute(INSERT, params).rowcount == 1

    def _find(self, channel: str, external_id: str) -> StoredItem | None:
        with self._engine.connect() as connection:
            row = connection.execute(FIND, {"channel": channel, "id": external_id}).first()
        return StoredItem(row[0], row[1], row[2], row[3]) if row is not None else None

    def _timestamp(self, value: datetime) -> datetime:
        """UTC; naive for SQLite, whose column type reads back naive ISO text as UTC."""
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if self._engine.dialect.name == "sqlite" else value

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()
