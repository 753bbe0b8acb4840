"""Conversations as Rasa keeps them: read from the SQL tracker store's `events` table.

Rasa writes every event of every conversation there before anything else happens (customer messages
while the bot is paused included), so the desk never holds a second copy that could disagree, and a
desk restart loses nothing. Only `user` and `bot` events become transcript lines.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, func, inspect, select

from bot.storage.db import Database

# Rasa 3.x SQLTrackerStore's table (rasa/core/tracker_store.py, SQLEvent); we only read it.
EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)
SPOKEN = ("user", "bot")


@dataclass(frozen=True)
class Card:
    """A product card the bot showed (generic template element)."""

    title: str
    subtitle: str = ""
    image_url: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Line:
    """One turn of a transcript."""

    event_id: int
    at: dt.datetime
    author: str  # customer | bot | agent | outside (a person in Meta's inbox)
    text: str
    intent: str | None = None
    intent_confidence: float | None = None
    sentiment_label: str | None = None
    sentiment_score: float | None = None
    agent_name: str | None = None
    image_urls: tuple[str, ...] = ()
    cards: tuple[Card, ...] = ()
    options: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        """For the live view's JSON API (the browser renders it as text, never as HTML)."""
        return {
            "event_id": self.event_id,
            "at": self.at.isoformat(),
            "author": self.author,
            "text": self.text,
            "intent": self.intent,
            "sentiment_label": self.sentiment_label,
            "sentiment_score": self.sentiment_score,
            "agent_name": self.agent_name,
            "image_urls": list(self.image_urls),
            "cards": [card.__dict__ for card in self.cards],
            "options": list(self.options),
        }


def _link(value: Any) -> str | None:
    """A card's link, only when it is a web address (a `javascript:` URL is never a link)."""
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def _cards(data: dict[str, Any]) -> tuple[Card, ...]:
    elements = data.get("elements") or []
    attachment = data.get("attachment")
    if isinstance(attachment, dict):
        elements = elements or (attachment.get("payload") or {}).get("elements") or []
    cards = []
    for element in elements if isinstance(elements, list) else []:
        if isinstance(element, dict) and element.get("title"):
            buttons = element.get("buttons") or []
            url = next((b.get("url") for b in buttons if isinstance(b, dict) and b.get("url")), None)
            cards.append(
                Card(
                    title=str(element["title"]),
                    subtitle=str(element.get("subtitle") or ""),
                    image_url=str(element["image_url"]) if element.get("image_url") else None,
                    url=_link(url) or _link((element.get("default_action") or {}).get("url")),
                )
            )
    return tuple(cards)


def _urls(value: Any) -> tuple[str, ...]:
    """Metadata's image URLs: a list of strings when a channel wrote it; anything else shows none."""
    if not isinstance(value, list):
        return ()
    return tuple(str(u) for u in value if isinstance(u, str) and u)


def to_line(event_id: int, event: dict[str, Any]) -> Line | None:
    """A transcript line from one stored Rasa event, or None for events nobody said."""
    at = dt.datetime.fromtimestamp(float(event.get("timestamp") or 0), dt.timezone.utc)
    metadata = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
    if event.get("event") == "user":
        parse = event.get("parse_data") or {}
        intent = parse.get("intent") or {}
        sentiment = parse.get("sentiment") or {}
        return Line(
            event_id=event_id,
            at=at,
            author="customer",
            text=event.get("text") or "",
            intent=intent.get("name"),
            intent_confidence=intent.get("confidence"),
            sentiment_label=sentiment.get("label"),
            sentiment_score=sentiment.get("score"),
            image_urls=_urls(metadata.get("image_urls")),
        )
    if event.get("event") == "bot":
        data = event.get("data") or {}
        author = {"agent": "agent", "human_agent": "outside"}.get(metadata.get("author"), "bot")
        options = tuple(
            str(b.get("title"))
            for b in (data.get("buttons") or data.get("quick_replies") or [])
            if isinstance(b, dict) and b.get("title")
        )
        return Line(
            event_id=event_id,
            at=at,
            author=author,
            text=event.get("text") or "",
            agent_name=metadata.get("agent_name"),
            image_urls=(data["image"],) if isinstance(data.get("image"), str) else (),
            cards=_cards(data),
            options=options,
        )
    return None


class Transcripts:
    """Reads conversations from Rasa's tracker store."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._table_seen = False

    async def rows(self, query: Any) -> list[Any]:
        """Run a query; nothing at all until Rasa has created its table (it does at start-up)."""
        async with self._db.engine.connect() as connection:
            if not self._table_seen:
                self._table_seen = await connection.run_sync(lambda c: inspect(c).has_table("events"))
                if not self._table_seen:
                    return []
            return list((await connection.execute(query)).all())

    async def lines(self, conversation_id: str, after: int = 0) -> list[Line]:
        """Every spoken turn of a conversation, oldest first (only those after event `after`)."""
        query = (
            select(EVENTS.c.id, EVENTS.c.data)
            .where(
                EVENTS.c.sender_id == conversation_id,
                EVENTS.c.type_name.in_(SPOKEN),
                EVENTS.c.id > after,
            )
            .order_by(EVENTS.c.id)
        )
        rows = await self.rows(query)
        lines = [to_line(row.id, json.loads(row.data)) for row in rows]
        return [line for line in lines if line is not None]

    async def last_customer_times(self, conversation_ids: list[str]) -> dict[str, float]:
        """When each conversation's customer last wrote (POSIX seconds)."""
        if not conversation_ids:
            return {}
        query = (
            select(EVENTS.c.sender_id, func.max(EVENTS.c.timestamp))
            .where(EVENTS.c.sender_id.in_(conversation_ids), EVENTS.c.type_name == "user")
            .group_by(EVENTS.c.sender_id)
        )
        return {row[0]: float(row[1]) for row in await self.rows(query)}

    async def input_channel(self, conversation_id: str) -> str | None:
        """The channel the customer last wrote on (Rasa's input channel name)."""
        query = (
            select(EVENTS.c.data)
            .where(EVENTS.c.sender_id == conversation_id, EVENTS.c.type_name == "user")
            .order_by(EVENTS.c.id.desc())
            .limit(1)
        )
        rows = await self.rows(query)
        return json.loads(rows[0][0]).get("input_channel") if rows else None

    async def latest_id(self) -> int:
        """The newest event id (0 when there is none, or no table yet)."""
        rows = await self.rows(select(func.max(EVENTS.c.id)))
        return int(rows[0][0] or 0) if rows else 0

    async def since(self, after: int, limit: int = 500) -> list[tuple[int, str, dict[str, Any]]]:
        """(id, conversation, event) of events newer than `after`, oldest first."""
        query = (
            select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.data)
            .where(EVENTS.c.id > after)
            .order_by(EVENTS.c.id)
            .limit(limit)
        )
        rows = await self.rows(query)
        return [(row.id, row.sender_id, json.loads(row.data)) for row in rows]
