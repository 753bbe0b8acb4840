"""Mentions of the brand, stored for monitoring in the service database (table `mentions`).

This runs in the Rasa process (runtime A, SQLAlchemy 1.4), so it writes with one plain SQL statement
that both PostgreSQL and SQLite understand; the table belongs to the service schema
(bot/storage/models.py, created by `bot db upgrade`). A redelivered mention is stored once.
"""

from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timezone
from typing import Any

import sqlalchemy

from bot.settings import Settings
from connectors.x_events import Mention

logger = logging.getLogger(__name__)

INSERT = sqlalchemy.text(
    "INSERT INTO mentions (channel, external_id, author_id, author_handle, author_name, text, url, "
    "in_reply_to, posted_at, received_at, raw) VALUES (:channel, :external_id, :author_id, :author_handle, "
    ":author_name, :text, :url, :in_reply_to, :posted_at, CURRENT_TIMESTAMP, :raw) "
    "ON CONFLICT (channel, external_id) DO NOTHING"
)


def rasa_side_url(url: str) -> str:
    """The same database through the drivers of this runtime (psycopg2, sqlite3)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.split('+')[0]}://{rest}"


class MentionStore:
    """Writes mentions; blocking SQL runs in a worker thread."""

    def __init__(self, database_url: str | None = None) -> None:
        url = rasa_side_url(database_url or Settings.from_env().database_url)
        self._engine = sqlalchemy.create_engine(url, pool_pre_ping=True)

    async def save(self, channel: str, mention: Mention) -> bool:
        """Store a mention; True if it was new."""
        return await asyncio.to_thread(self._insert, channel, mention)

    def _insert(self, channel: str, mention: Mention) -> bool:
        params: dict[str, Any] = {
            "channel": channel,
            "external_id": mention.id,
            "author_id": mention.author_id,
            "author_handle": mention.author_screen_name,
            "author_name": mention.author_name,
            "text": mention.text,
            "url": mention.url,
            "in_reply_to": mention.in_reply_to,
            "posted_at": self._timestamp(mention.created_at or datetime.now(timezone.utc)),
            "raw": json.dumps(dict(mention.raw), ensure_ascii=False),
        }
        with self._engine.begin() as connection:
            return connection.execute(INSERT, params).rowcount == 1

    def _timestamp(self, value: datetime) -> datetime:
        """UTC; naive for SQLite, whose column type reads back naive ISO text as UTC."""
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if self._engine.dialect.name == "sqlite" else value

    def close(self) -> None:
        """Release the connection pool."""
        self._engine.dispose()
