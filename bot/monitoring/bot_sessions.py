"""Conversations the bot handled alone, followed through Rasa's events into `bot_sessions`.

A stored cursor, like the recorder's: a restart resumes where it stopped, and each row remembers the
last event applied to it (`last_event_id`), so an event read again (RESCAN, a second reader) changes
nothing. One row per Rasa session of a conversation: it opens with the customer's first message and
follows it until Rasa starts a new session. What makes it not the bot's alone (a handoff, a pause, a
person answering) marks it `handed` for good; the customer's thanks or goodbye after the bot answered
something real ends it. The quiet timer and the question are bot/monitoring/bot_csat.py's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversations import metadata as meta
from bot.conversations.events import HANDOFF_ACTION, customer_message
from bot.conversations.tail import StoredEvent, Tail, Transcripts, event_tail
from bot.monitoring.ingest import StoredCursor
from bot.storage.db import Database
from bot.storage.models import BotSession

CURSOR = "bot_sessions"
OPEN, ENDED, HANDED = "open", "ended", "handed"
THANKS, QUIET = "thanks", "quiet"  # end_reason
END_INTENTS = frozenset({"thank", "goodbye"})
# Intents that are no topic: what the customer came about is the first intent not among them.
SMALL_TALK = frozenset(
    {
        "greet", "goodbye", "thank", "affirm", "deny", "bot_challenge", "compliment", "insult",
        "rate_service", "out_of_scope", "nlu_fallback",
    }
)  # fmt: skip
# A person is in the conversation: the handoff, the desk's own rating question after a person resolved it.
NOT_THE_BOTS_ACTIONS = frozenset({HANDOFF_ACTION, "action_ask_csat"})
EVENT_TYPES = ("user", "bot", "action", "pause", "session_started", "active_loop")
INTENTS_LENGTH = 400


def _at(event: Mapping[str, Any]) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(event.get("timestamp") or 0), dt.timezone.utc)


def _add_intent(row: BotSession, intent: str) -> None:
    have = [i for i in (row.intents or "").split(",") if i]
    if intent not in have and len(row.intents or "") + len(intent) + 1 <= INTENTS_LENGTH:
        row.intents = ",".join([*have, intent])
    if row.topic is None and intent not in SMALL_TALK:
        row.topic = intent[:80]


def _customer_said(row: BotSession | None, event_id: int, conversation_id: str, event: Mapping[str, Any]):
    message = customer_message(event)
    if message is None or message.external:  # an API trigger (a rating question) is nobody's message
        return row
    if row is None or row.session_over:
        row = BotSession(
            conversation_id=conversation_id,
            channel=(message.input_channel or "")[:20],
            state=OPEN,
            started_at=message.at,
            last_customer_at=message.at,
            intents="",
            in_form=False,
            session_over=False,
            last_event_id=event_id,
            ask_attempts=0,
        )
    row.last_customer_at = max(row.last_customer_at, message.at)
    if message.intent:
        _add_intent(row, message.intent)
    ends = message.intent in END_INTENTS and row.topic is not None and row.last_bot_at is not None
    if row.state == OPEN and ends and not row.in_form:
        row.state, row.ended_at, row.end_reason = ENDED, message.at, THANKS
    return row


def apply(
    row: BotSession | None, event_id: int, conversation_id: str, event: Mapping[str, Any]
) -> BotSession | None:
    """The conversation's current session after one event (a new row when a new session started)."""
    if row is not None and event_id <= row.last_event_id:
        return row  # applied already
    kind = event.get("event")
    if kind == "user":
        row = _customer_said(row, event_id, conversation_id, event)
    elif row is None:
        return None  # nothing before the customer's first message is a session
    elif kind == "bot":
        if meta.author(event.get("metadata")) in (meta.AGENT, meta.HUMAN_AGENT):
            row.state = HANDED  # a person answered (the desk, or Meta's inbox)
        elif row.last_bot_at is None or _at(event) > row.last_bot_at:
            row.last_bot_at = _at(event)
    elif (kind == "action" and event.get("name") in NOT_THE_BOTS_ACTIONS) or kind == "pause":
        row.state = HANDED
    elif kind == "active_loop":
        row.in_form = bool(event.get("name"))
    elif kind == "session_started":
        row.session_over = True
    if row is not None:
        row.last_event_id = max(row.last_event_id or 0, event_id)
    return row


class SessionReader:
    """Follows Rasa's events into `bot_sessions` (one active monitoring replica, a stored cursor)."""

    def __init__(self, database: Database, trackers: Database) -> None:
        self._db = database
        self._tail: Tail[StoredEvent] = event_tail(
            Transcripts(trackers), StoredCursor(database, CURSOR), types=EVENT_TYPES
        )

    async def catch_up(self) -> int:
        """Apply everything new; how many events changed a session."""
        return await self._tail.catch_up(self._handle)

    async def _handle(self, rows: list[StoredEvent]) -> int:
        by_conversation: dict[str, list[StoredEvent]] = {}
        for row in rows:
            if row.event is not None:
                by_conversation.setdefault(row.conversation_id, []).append(row)
        changed = 0
        async with self._db.sessions() as session, session.begin():
            latest = await self._latest(session, list(by_conversation))
            for conversation_id, events in by_conversation.items():
                current = latest.get(conversation_id)
                for stored in events:
                    before = current
                    seen = before.last_event_id if before is not None else 0
                    current = apply(current, stored.id, conversation_id, stored.event or {})
                    if current is not None and current is not before:
                        session.add(current)
                    changed += current is not None and stored.id > seen
        return changed

    @staticmethod
    async def _latest(session: AsyncSession, conversation_ids: list[str]) -> dict[str, BotSession]:
        """Each conversation's current session, in one query per batch (not one per conversation)."""
        newest = (
            select(func.max(BotSession.id))
            .where(BotSession.conversation_id.in_(conversation_ids))
            .group_by(BotSession.conversation_id)
        )
        rows = await session.scalars(select(BotSession).where(BotSession.id.in_(newest)))
        return {row.conversation_id: row for row in rows}
