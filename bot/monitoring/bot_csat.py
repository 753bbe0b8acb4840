"""The assistant's own satisfaction question: when a conversation the bot handled alone ended, ask once.

Each monitoring round (bot/monitoring/monitor.py) follows Rasa's events into `bot_sessions`
(bot/monitoring/bot_sessions.py), ends the sessions that went quiet (no customer message for
BOT_CSAT_QUIET_MINUTES after the bot's answer), and decides for each newly ended one whether to ask:
only in DMs (never a public comment or mention), only within Meta's 24-hour messaging window, at most
once a day per customer (their conversation on that channel), and never after a person was involved.

Exactly once: the session is marked asked (`asked_at`) and committed before Rasa is asked to trigger
the question, so a restart never asks twice on its own; a trigger whose answer was lost is retried a
few times, and `action_ask_bot_csat` says nothing when the question is already in this Rasa session.
"""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy import exists, select, update

from bot.conversations.rasa_api import DeliveryError, RasaClient
from bot.monitoring.bot_sessions import ENDED, OPEN, QUIET, SessionReader
from bot.storage.db import Database
from bot.storage.models import BotSession, HandoffTicket, utcnow

logger = logging.getLogger(__name__)

DEFAULT_QUIET = dt.timedelta(minutes=30)
DM_CHANNELS = frozenset({"messenger", "instagram", "twitter"})  # the connectors' input channels
ONCE_PER = dt.timedelta(hours=24)  # a customer is asked at most once in this long
# Meta lets the bot message a person only within 24 hours of their last message; keep well inside it.
# https://developers.facebook.com/docs/messenger-platform/policy/policy-overview#24hours_window
ASK_WITHIN = dt.timedelta(hours=23)
RETRY_FOR = dt.timedelta(minutes=10)  # a trigger that failed is retried this long...
MAX_ATTEMPTS = 3  # ...at most this many times in all
# Why an ended session was not asked (`bot_sessions.not_asked`).
PUBLIC, LATE, RECENT = "not_a_dm", "outside_window", "asked_recently"


class BotCsat:
    """Sessions followed, quiet ones ended, ended ones asked (once) for the assistant's rating."""

    def __init__(
        self, database: Database, trackers: Database, rasa: RasaClient, quiet: dt.timedelta = DEFAULT_QUIET
    ) -> None:
        self._db = database
        self._rasa = rasa
        self.quiet = quiet
        self.sessions = SessionReader(database, trackers)

    async def tick(self, now: dt.datetime | None = None) -> int:
        """One round: follow new events, end quiet sessions, ask; how many questions Rasa accepted."""
        await self.sessions.catch_up()
        now = now or utcnow()
        await self.end_quiet(now)
        return await self.ask(now)

    async def end_quiet(self, now: dt.datetime) -> int:
        """End open sessions where the bot answered last and the customer has been quiet since."""
        async with self._db.sessions() as session, session.begin():
            ended = await session.execute(
                update(BotSession)
                .where(
                    BotSession.state == OPEN,
                    BotSession.topic.is_not(None),
                    BotSession.in_form.is_(False),
                    BotSession.last_bot_at.is_not(None),
                    BotSession.last_bot_at >= BotSession.last_customer_at,
                    BotSession.last_customer_at <= now - self.quiet,
                )
                .values(state=ENDED, ended_at=now, end_reason=QUIET)
            )
            return int(ended.rowcount or 0)

    async def decide(self, now: dt.datetime) -> list[tuple[int, str]]:
        """Mark the sessions to ask now, durably; (session id, conversation id) of each to trigger.

        Retries (asked, not confirmed, recent, attempts left) first, then newly ended sessions: each is
        either marked asked or given the reason it never will be.
        """
        due: list[tuple[int, str]] = []
        async with self._db.sessions() as session, session.begin():
            retries = await session.execute(
                select(BotSession.id, BotSession.conversation_id).where(
                    BotSession.asked_at >= now - RETRY_FOR,
                    BotSession.ask_sent_at.is_(None),
                    BotSession.ask_attempts < MAX_ATTEMPTS,
                )
            )
            due += [(row.id, row.conversation_id) for row in retries]
            if due:
                await session.execute(
                    update(BotSession)
                    .where(BotSession.id.in_([i for i, _ in due]))
                    .values(ask_attempts=BotSession.ask_attempts + 1)
                )
            ended = await session.scalars(
                select(BotSession)
                .where(
                    BotSession.state == ENDED, BotSession.asked_at.is_(None), BotSession.not_asked.is_(None)
                )
                .order_by(BotSession.ended_at, BotSession.id)
            )
            for row in list(ended):
                reason = await self._not_now(session, row, now)
                if reason is not None:
                    row.not_asked = reason
                    continue
                row.asked_at, row.ask_attempts = now, 1
                await session.flush()  # the next session of the same customer sees this one as asked
                due.append((row.id, row.conversation_id))
        return due

    async def _not_now(self, session, row: BotSession, now: dt.datetime) -> str | None:
        """Why this ended session must not be asked (None: ask)."""
        if row.channel not in DM_CHANNELS:
            return PUBLIC
        if row.last_customer_at < now - ASK_WITHIN:
            return LATE
        since = now - ONCE_PER
        asked = exists().where(
            BotSession.conversation_id == row.conversation_id,
            BotSession.id != row.id,
            BotSession.asked_at >= since,
        )
        rated_by_people = exists().where(
            HandoffTicket.conversation_id == row.conversation_id, HandoffTicket.resolved_at >= since
        )  # the desk asks for the people's rating when a person resolves a conversation
        if await session.scalar(select(asked | rated_by_people)):
            return RECENT
        return None

    async def ask(self, now: dt.datetime) -> int:
        """Trigger the question for every session due; how many Rasa accepted."""
        sent = 0
        for session_id, conversation_id in await self.decide(now):
            try:
                await self._rasa.ask_bot_csat(conversation_id)
            except DeliveryError as err:  # retried next round while attempts and time are left
                logger.warning("could not ask %s for the assistant's rating: %s", conversation_id, err)
                continue
            async with self._db.sessions() as session, session.begin():
                await session.execute(
                    update(BotSession).where(BotSession.id == session_id).values(ask_sent_at=utcnow())
                )
            sent += 1
        return sent
