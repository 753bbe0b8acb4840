"""Recording every customer message into `message_log`: DMs from Rasa's tracker store, public items.

Two tails (bot/conversations/tail.py) follow their tables by id, each from a position kept in
`monitor_cursors`, so a restart resumes where it stopped. Every read also looks RESCAN ids behind the
cursor (PostgreSQL can commit ids out of order), and a message's `source` ("event:<id>",
"mention:<id>") is unique: inserts that meet an existing source do nothing, so nothing is recorded
twice, even by two replicas reading at once.
Only the replica whose insert made the row screens it for moderation.

DMs carry their intent and sentiment in Rasa's parse data. Public items (X mentions, comments under
our Facebook and Instagram posts) are not conversations (bot/monitoring/engagement answers them):
their intent and sentiment come from Rasa's `/model/parse` (the learned sentiment model), and when
Rasa does not answer they are recorded without an intent and scored here with the lexicon scorer the
model is built on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Table, select, update

from bot.conversations.events import customer_message
from bot.conversations.rasa_api import DeliveryError, RasaClient
from bot.conversations.tail import StoredEvent, Tail, Transcripts, event_tail
from bot.language.detection import from_parse
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
    language: str | None = None  # ISO 639-1, from the language component's reading

    def row(self) -> dict[str, Any]:
        """The message_log columns."""
        values = asdict(self)
        del values["author_id"]
        return values


def _label(value: Any) -> str:
    return value if value in LABELS else "neutral"


def from_event(event_id: int, sender_id: str, event: dict[str, Any]) -> Record | None:
    """The record of a stored Rasa `user` event; None for what no customer said (API-triggered intents)."""
    message = customer_message(event)
    if message is None or message.external:
        return None
    label = message.customer_label
    return Record(
        source=f"{EVENT_SOURCE}{event_id}",
        kind=DM,
        channel=(message.input_channel or "unknown")[:20],
        conversation_id=sender_id,
        author=label[:200] if label else None,
        author_id=sender_id,
        link=None,
        text=message.shown_text,  # a button's title or a photo's caption: what the customer saw
        intent=message.intent,
        sentiment_label=_label(message.sentiment_label),
        sentiment_score=message.sentiment_score or 0.0,
        at=message.at,
        language=message.language,
    )


def parsed_sentiment(parsed: dict[str, Any], text: str, scorer: SentimentScorer) -> tuple[str, float]:
    """The learned model's sentiment in Rasa's parse; the lexicon scorer's when the parse has none.

    (Rasa away, or a model without the sentiment component.)
    """
    sentiment = parsed.get("sentiment") or {}
    if sentiment.get("label") in LABELS and isinstance(sentiment.get("score"), (int, float)):
        return sentiment["label"], float(sentiment["score"])
    scored = scorer.score(text)
    return scored.label, scored.score


def from_mention(mention: Mention, scorer: SentimentScorer, parsed: dict[str, Any] | None) -> Record:
    """The record of a stored X mention, with Rasa's parse of it (None: Rasa did not answer)."""
    parsed = parsed or {}
    name = (parsed.get("intent") or {}).get("name")
    intent = str(name)[:80] if name else None
    label, score = parsed_sentiment(parsed, mention.text, scorer)
    at = mention.posted_at if mention.posted_at.tzinfo else mention.posted_at.replace(tzinfo=dt.timezone.utc)
    handle = mention.author_handle or mention.author_name or mention.author_id
    return Record(
        source=f"{MENTION_SOURCE}{mention.id}",
        kind=mention.kind or MENTION,  # "mention", or "comment" (under our Facebook and Instagram posts)
        channel=mention.channel[:20],
        conversation_id=None,
        author=f"@{handle}"[:200] if mention.author_handle else handle[:200],
        author_id=mention.author_id,
        link=mention.url or None,
        text=mention.text,
        intent=intent,
        sentiment_label=label,
        sentiment_score=score,
        at=at,
        language=language.code if (language := from_parse(parsed)) else None,
    )


class StoredCursor:
    """A tail's position as a row in `monitor_cursors`, so a restart resumes where the last run stopped."""

    floor = 0

    def __init__(self, database: Database, name: str) -> None:
        self._db = database
        self.name = name

    async def load(self) -> int:
        """The stored position (0 before the first save)."""
        async with self._db.sessions() as session:
            query = select(MonitorCursor.position).where(MonitorCursor.name == self.name)
            return int(await session.scalar(query) or 0)

    async def save(self, position: int) -> None:
        """Store it, never backwards: another replica may be further already."""
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                insert_ignore(session, MonitorCursor.__table__, ["name"]).values(name=self.name, position=0)
            )
            await session.execute(
                update(MonitorCursor)
                .where(MonitorCursor.name == self.name, MonitorCursor.position < position)
                .values(position=position)
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
        self._scorer = scorer
        self._rasa = rasa
        self._moderation = moderation
        self._events: Tail[StoredEvent] = event_tail(
            Transcripts(trackers),
            StoredCursor(database, EVENTS_CURSOR),
            types=("user",),
            unhandled=lambda ids: self._unrecorded(EVENT_SOURCE, ids),
            rescan=RESCAN,
            batch=BATCH,
        )
        self._mentions: Tail[Mention] = Tail(
            self._read_mentions,
            StoredCursor(database, MENTIONS_CURSOR),
            unhandled=lambda ids: self._unrecorded(MENTION_SOURCE, ids),
            rescan=RESCAN,
            batch=BATCH,
        )

    async def position(self, name: str) -> int:
        """How far the reader `name` got (0 before its first step)."""
        return await StoredCursor(self._db, name).load()

    async def _unrecorded(self, prefix: str, ids: Sequence[int]) -> set[int]:
        """Which of these rows no replica has recorded yet (their `source` is not in message_log)."""
        sources = {f"{prefix}{i}": i for i in ids}
        async with self._db.sessions() as session:
            known = set(
                await session.scalars(select(LoggedMessage.source).where(LoggedMessage.source.in_(sources)))
            )
        return {i for source, i in sources.items() if source not in known}

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
        return await self._events.step(self._record_events)

    async def _record_events(self, rows: list[StoredEvent]) -> int:
        records = []
        for row in rows:
            record = from_event(row.id, row.conversation_id, row.event) if row.event is not None else None
            if record is not None:
                records.append(record)
        return len(await self.record(records))

    async def mentions_step(self) -> tuple[int, bool]:
        """Record the next batch of X mentions: (recorded, more to read)."""
        return await self._mentions.step(self._record_mentions)

    async def _read_mentions(self, after: int, limit: int) -> list[Mention]:
        async with self._db.sessions() as session:
            query = select(Mention).where(Mention.id > after).order_by(Mention.id).limit(limit)
            return list(await session.scalars(query))

    async def _record_mentions(self, mentions: list[Mention]) -> int:
        records = [from_mention(m, self._scorer, await self._parse(m.text)) for m in mentions]
        return len(await self.record(records))

    async def _parse(self, text: str) -> dict[str, Any] | None:
        try:
            return await self._rasa.parse(text)
        except DeliveryError as err:
            logger.info("mention recorded without an intent, scored by the lexicon: %s", err)
            return None

    async def catch_up(self) -> int:
        """Record everything new from both sources; how many messages were recorded."""
        recorded = 0
        for step in (self.events_step, self.mentions_step):
            more = True
            while more:
                made, more = await step()
                recorded += made
        return recorded
