"""The review queue's reader: files unsure customer messages from Rasa's events for content editors.

Runs in the monitoring service's rounds (one active replica) with a stored cursor, as the recorder
does; the rules of what is unsure are bot/content/review.py's. One row per message
(`review_items.event_id`), so a re-read or a second reason never files it twice: a second reason is
added to the row.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Table, func, select, update

from bot.content.review import (
    BOT_QUESTION,
    HANDOFF,
    LOOK_BACK,
    LOW_CSAT,
    LOW_RATING,
    PEOPLE_QUESTION,
    RATING_ACTION,
    REASONS,
    REPHRASE,
    REPHRASE_ACTIONS,
    Reading,
    is_unsure,
    own_reasons,
    reading,
)
from bot.conversations.events import HANDOFF_ACTION
from bot.conversations.tail import EVENTS, StoredEvent, Tail, Transcripts, event_tail
from bot.monitoring.ingest import StoredCursor
from bot.monitoring.sql import insert_ignore
from bot.storage.bot_ratings import BotRatings
from bot.storage.db import Database
from bot.storage.models import HandoffTicket, ReviewItem, utcnow

CURSOR = "review"


@dataclass(frozen=True)
class Filed:
    """One message to file (or to add a reason to)."""

    event_id: int
    conversation_id: str
    read: Reading
    reason: str


class ReviewReader:
    """Files unsure messages from Rasa's events into `review_items`; a stored cursor, like monitoring's."""

    def __init__(self, database: Database, trackers: Database) -> None:
        self._db = database
        self._bot_ratings = BotRatings(database)
        self._transcripts = Transcripts(trackers)
        self._tail: Tail[StoredEvent] = event_tail(
            self._transcripts, StoredCursor(database, CURSOR), types=("user", "action")
        )

    async def catch_up(self) -> int:
        """Read everything new; how many messages were filed or given another reason."""
        return await self._tail.catch_up(self._handle)

    async def _handle(self, rows: list[StoredEvent]) -> int:
        filed: list[Filed] = []
        for row in rows:
            event = row.event or {}
            if row.type_name == "user":
                read = reading(event)
                if read is not None:
                    filed += [Filed(row.id, row.conversation_id, read, r) for r in own_reasons(read)]
            elif row.type_name == "action":
                name = event.get("name")
                if name == RATING_ACTION:
                    filed += await self._rated(row)
                elif name in REPHRASE_ACTIONS:
                    filed += (await self._before(row, REPHRASE))[:1]
                elif name == HANDOFF_ACTION:
                    recent = await self._before(row, HANDOFF)
                    if any(own_reasons(f.read) for f in recent):
                        filed += recent
        return await self.file(filed)

    async def _rated(self, row: StoredEvent) -> list[Filed]:
        """What a 1-2 rating files: before the handoff (people rated) or the bot's question (it was rated)."""
        query = (
            select(EVENTS.c.action_name)
            .where(EVENTS.c.sender_id == row.conversation_id, EVENTS.c.id < row.id)
            .where(EVENTS.c.type_name == "action", EVENTS.c.action_name.in_((PEOPLE_QUESTION, BOT_QUESTION)))
            .order_by(EVENTS.c.id.desc())
            .limit(1)
        )
        asked = await self._transcripts.rows(query)
        if asked and asked[0][0] == BOT_QUESTION:
            score = await self._bot_ratings.latest_score(row.conversation_id)
            if score is not None and score <= LOW_RATING:
                return await self._before(row, LOW_CSAT, before_action=BOT_QUESTION)
            return []
        if await self._rated_low(row.conversation_id):
            return await self._before(row, LOW_CSAT, before_action=HANDOFF_ACTION)
        return []

    async def _rated_low(self, conversation_id: str) -> bool:
        """Whether the conversation's latest rating (stored on its ticket by the CSAT action) is 1-2."""
        async with self._db.sessions() as session:
            score = await session.scalar(
                select(HandoffTicket.csat_score)
                .where(HandoffTicket.conversation_id == conversation_id)
                .where(HandoffTicket.csat_score.is_not(None))
                .order_by(HandoffTicket.csat_at.desc())
                .limit(1)
            )
        return score is not None and score <= LOW_RATING

    async def _before(self, row: StoredEvent, reason: str, before_action: str | None = None) -> list[Filed]:
        """The customer's last unsure messages before `row` in its conversation (newest first).

        A rephrase request files the message it answered whatever its confidence. For a rating
        (`before_action`), the messages before the latest such action: the handoff (what the bot
        handled before a person took over, who was then rated) or the assistant's own question.
        """
        before_id = row.id
        if before_action is not None:
            query = (
                select(func.max(EVENTS.c.id))
                .where(EVENTS.c.sender_id == row.conversation_id, EVENTS.c.id < row.id)
                .where(EVENTS.c.type_name == "action", EVENTS.c.action_name == before_action)
            )
            found = await self._transcripts.rows(query)
            if not found or found[0][0] is None:
                return []
            before_id = int(found[0][0])
        query = (
            select(EVENTS.c.id, EVENTS.c.data)
            .where(EVENTS.c.sender_id == row.conversation_id, EVENTS.c.id < before_id)
            .where(EVENTS.c.type_name == "user")
            .order_by(EVENTS.c.id.desc())
            .limit(LOOK_BACK)
        )
        filed = []
        for found_row in await self._transcripts.rows(query):
            try:
                read = reading(json.loads(found_row.data))
            except ValueError:
                continue
            if read is not None and (reason == REPHRASE or is_unsure(read)):
                filed.append(Filed(found_row.id, row.conversation_id, read, reason))
        return filed

    async def file(self, filed: Sequence[Filed]) -> int:
        """Insert new messages, add reasons to those already filed; how many rows changed."""
        changed = 0
        table: Table = ReviewItem.__table__  # type: ignore[assignment]
        async with self._db.sessions() as session, session.begin():
            for item in filed:
                read = item.read
                row = {
                    "event_id": item.event_id,
                    "conversation_id": item.conversation_id[:255],
                    "channel": read.channel,
                    "text": read.text,
                    "intent": read.intent,
                    "confidence": read.confidence,
                    "entities": json.dumps(list(read.entities)),
                    "reasons": item.reason,
                    "status": "open",
                    "said_at": read.at,
                    "created_at": utcnow(),
                }
                inserted = await session.execute(
                    insert_ignore(session, table, ["event_id"]).values(**row).returning(table.c.id)
                )
                if inserted.scalar() is not None:
                    changed += 1
                    continue
                reasons = await session.scalar(
                    select(ReviewItem.reasons).where(ReviewItem.event_id == item.event_id)
                )
                have = [r for r in (reasons or "").split(",") if r]
                if item.reason not in have:
                    ordered = [r for r in REASONS if r in {*have, item.reason}]
                    await session.execute(
                        update(ReviewItem)
                        .where(ReviewItem.event_id == item.event_id)
                        .values(reasons=",".join(ordered))
                    )
                    changed += 1
        return changed
