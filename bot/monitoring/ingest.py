"""Recording every customer message into `message_log`: DMs from Rasa's tracker store, X mentions.

Two readers tail their tables by id, each from a position kept in `monitor_cursors`, so a desk restart
resumes where it stopped. Every read also looks RESCAN ids behind the cursor (PostgreSQL can commit ids
out of order), and a message's `source` ("event:<id>", "mention:<id>") is unique: inserts that meet an
existing source do nothing, so nothing is recorded twice, even by two desk replicas reading at once.
Only the replica whose insert made the row screens it for moderation.

DMs carry their intent and sentiment in Rasa's parse data. Mentions are not conversations (nobody
answers them), so they are scored here with the same sentiment scorer as the Rasa component, and their
intent comes from Rasa's `/model/parse` when Rasa answers (without it, they are recorded without one).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Table, select, update

from bot.conversations.rasa_api import DeliveryError, RasaClient
from bot.conversations.transcript import EVENTS, Transcripts
from bot.monitoring.const import (
    BATCH,
    DM,
    EVENT_SOURCE,
    EVENTS_CURSOR,
    MENTION,
    MENTION_SOURCE,
    MENTIONS_CURSOR,
    RESCAN,
)
from bot.monitoring.moderation import Moderation
from bot.monitoring.sql import insert_ignore
from bot.sentiment.scorer import SentimentScorer
from bot.storage.db import Database
from bot.storage.models import LoggedMessage, Mention, MonitorCursor

logger = logging.getLogger(__name__)
EXTERNAL_PREFIX = "EXTERNAL: "  # Rasa's text for intents triggered through its API, not said by anyone
LABELS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Record:
    """A customer message about to be recorded; `author_id` is whom moderation would mute."""

    source: str
    kind: str
    channel: str
    conversation_id: str | None
    author: str | None
    author_id: str | None
    link: str | None
    text: str
    intent: str | None
    sentiment_label: str
    sentiment_score: float
    at: dt.datetime

    def row(self) -> dict[str, Any]:
        """The message_log columns."""
        values = asdict(self)
        del values["author_id"]
        return values


def _author(metadata: dict[str, Any]) -> str | None:
    handle, name = metadata.get("sender_screen_name"), metadata.get("sender_name")
    if handle:
        return f"@{handle}"[:200]
    return str(name)[:200] if name else None


def _label(value: Any) -> str:
    return value if value in LABELS else "neutral"


def from_event(event_id: int, sender_id: str, event: dict[str, Any]) -> Record | None:
    """The record of a stored Rasa `user` event; None for what no customer said (API-triggered intents)."""
    if event.get("event") != "user":
        return None
    metadata = event.get("metadata") or {}
    text = str(event.get("text") or "")
    if metadata.get("is_external") or text.startswith(EXTERNAL_PREFIX):
        return None
    if text.startswith("/"):  # a button's payload or a photo without a caption: what the customer saw
        text = str(metadata.get("title") or metadata.get("caption") or text)
    parse = event.get("parse_data") or {}
    sentiment = parse.get("sentiment") or {}
    return Record(
        source=f"{EVENT_SOURCE}{event_id}",
        kind=DM,
        channel=str(event.get("input_channel") or "unknown")[:20],
        conversation_id=sender_id,
        author=_author(metadata),
        author_id=sender_id,
        link=None,
        text=text,
        intent=((parse.get("intent") or {}).get("name") or None),
        sentiment_label=_label(sentiment.get("label")),
        sentiment_score=float(sentiment.get("score") or 0.0),
        at=dt.datetime.fromtimestamp(float(event.get("timestamp") or 0), dt.timezone.utc),
    )


def from_mention(mention: Mention, scorer: SentimentScorer, intent: str | None) -> Record:
    """The record of a stored X mention, scored here."""
    sentiment = scorer.score(mention.text)
    at = mention.posted_at if mention.posted_at.tzinfo else mention.posted_at.replace(tzinfo=dt.timezone.utc)
    handle = mention.author_handle or mention.author_name or mention.author_id
    return Record(
        source=f"{MENTION_SOURCE}{mention.id}",
        kind=MENTION,
        channel=mention.channel[:20],
        conversation_id=None,
        author=f"@{handle}"[:200] if mention.author_handle else handle[:200],
        author_id=mention.author_id,
        link=mention.url or None,
        text=mention.text,
        intent=intent,
        sentiment_label=sentiment.label,
        sentiment_score=sentiment.score,
        at=at,
    )


class Recorder:
    """Reads new customer messages from both sources and records them (then screens the new ones)."""

    def __init__(
        self,
        database: Database,
        trackers: Database,
        scorer: SentimentScorer,
        rasa: RasaClient,
        moderation: Moderation,
    ) -> None:
        self._db = database
        self._events = Transcripts(trackers)
        self._scorer = scorer
        self._rasa = rasa
        self._moderation = moderation

    async def position(self, name: str) -> int:
        """How far the reader `name` got (0 before its first step)."""
        async with self._db.sessions() as session:
            return int(
                await session.scalar(select(MonitorCursor.position).where(MonitorCursor.name == name)) or 0
            )

    async def _advance(self, name: str, position: int) -> None:
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                insert_ignore(session, MonitorCursor.__table__, ["name"]).values(name=name, position=0)
            )
            await session.execute(  # never backwards: another replica may be further already
                update(MonitorCursor)
                .where(MonitorCursor.name == name, MonitorCursor.position < position)
                .values(position=position)
            )

    async def _unrecorded(self, sources: Sequence[str]) -> set[str]:
        if not sources:
            return set()
        async with self._db.sessions() as session:
            known = set(
                await session.scalars(select(LoggedMessage.source).where(LoggedMessage.source.in_(sources)))
            )
        return set(sources) - known

    async def record(self, records: Sequence[Record]) -> list[LoggedMessage]:
        """Insert what is not recorded yet; the rows this call made, each screened for moderation."""
        made: list[tuple[LoggedMessage, Record]] = []
        table: Table = LoggedMessage.__table__  # type: ignore[assignment]
        async with self._db.sessions() as session, session.begin():
            for record in records:
                result = await session.execute(
                    insert_ignore(session, table, ["source"]).values(**record.row()).returning(table.c.id)
                )
                new_id = result.scalar()
                if new_id is not None:
                    made.append((LoggedMessage(id=new_id, **record.row()), record))
        for message, record in made:
            try:
                if record.author_id:
                    await self._moderation.screen(message, record.author_id)
                if record.kind == DM:
                    await self._moderation.enforce(message)
            except Exception:  # one message's moderation must not stop the recording of the rest
                logger.exception("moderation of message %s failed", message.id)
        return [message for message, _ in made]

    async def events_step(self) -> tuple[int, bool]:
        """Record the next batch of customer messages from Rasa's events: (recorded, more to read)."""
        position = await self.position(EVENTS_CURSOR)
        query = (
            select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.data)
            .where(EVENTS.c.id > position - RESCAN, EVENTS.c.type_name == "user")
            .order_by(EVENTS.c.id)
            .limit(BATCH)
        )
        rows = await self._events.rows(query)  # nothing until Rasa has created its table
        if not rows:
            return 0, False
        fresh = await self._unrecorded([f"{EVENT_SOURCE}{row.id}" for row in rows])
        records = []
        for row in rows:
            if f"{EVENT_SOURCE}{row.id}" not in fresh:
                continue
            try:
                record = from_event(row.id, row.sender_id, json.loads(row.data))
            except (ValueError, TypeError) as err:
                logger.warning("Rasa event %s is not readable, skipped: %s", row.id, err)
                continue
            if record is not None:
                records.append(record)
        made = await self.record(records)
        last = rows[-1].id
        await self._advance(EVENTS_CURSOR, last)
        return len(made), len(rows) == BATCH and last > position

    async def mentions_step(self) -> tuple[int, bool]:
        """Record the next batch of X mentions: (recorded, more to read)."""
        position = await self.position(MENTIONS_CURSOR)
        async with self._db.sessions() as session:
            mentions = list(
                await session.scalars(
                    select(Mention).where(Mention.id > position - RESCAN).order_by(Mention.id).limit(BATCH)
                )
            )
        if not mentions:
            return 0, False
        fresh = await self._unrecorded([f"{MENTION_SOURCE}{m.id}" for m in mentions])
        records = [
            from_mention(m, self._scorer, await self._intent(m.text))
            for m in mentions
            if f"{MENTION_SOURCE}{m.id}" in fresh
        ]
        made = await self.record(records)
        last = mentions[-1].id
        await self._advance(MENTIONS_CURSOR, last)
        return len(made), len(mentions) == BATCH and last > position

    async def _intent(self, text: str) -> str | None:
        try:
            parsed = await self._rasa.parse(text)
        except DeliveryError as err:
            logger.info("mention recorded without an intent: %s", err)
            return None
        name = (parsed.get("intent") or {}).get("name")
        return str(name)[:80] if name else None

    async def catch_up(self) -> int:
        """Record everything new from both sources; how many messages were recorded."""
        recorded = 0
        for step in (self.events_step, self.mentions_step):
            more = True
            while more:
                made, more = await step()
                recorded += made
        return recorded
