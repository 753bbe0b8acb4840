"""Moderation: flag abusive messages, review flags, mute and unmute authors.

A recorded message is flagged for an insult intent or a block-list term; an author flagged `flags` times
within the window gets one "repeated_abuse" flag (and, with `auto_mute`, is muted). Supervisors confirm
or dismiss flags (and reopen them), and mute or unmute authors. Muting pauses the author's Rasa
conversation, so the bot stops answering while Rasa still records what they write; unmuting resumes it,
unless a person has the conversation (an open or assigned handoff ticket): then it stays paused for them.
Every change is in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.conversations.rasa_api import DeliveryError, RasaClient
from bot.handoff.tickets import ACTIVE
from bot.monitoring.config import ModerationSettings
from bot.monitoring.const import BLOCK_LIST, INSULT, REPEATED_ABUSE, REVIEW_STATES, SYSTEM
from bot.monitoring.sql import insert_ignore
from bot.monitoring.terms import Terms
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.models import Agent, HandoffTicket, LoggedMessage, ModerationFlag, MutedAuthor, utcnow

logger = logging.getLogger(__name__)


class ModerationError(Exception):
    """A moderation change that cannot be made now; the message says why (shown to the supervisor)."""


BlockList = Terms  # the configured terms, matched as bot/monitoring/terms.py says


def reasons(text: str, intent: str | None, settings: ModerationSettings, block_list: BlockList) -> list[str]:
    """Why a message is flagged (empty: it is not)."""
    found = []
    if intent and intent in settings.insult_intents:
        found.append(INSULT)
    if block_list.matches(text):
        found.append(BLOCK_LIST)
    return found


def repeated(flag_times: Sequence[dt.datetime], now: dt.datetime, settings: ModerationSettings) -> bool:
    """Whether an author's flags (their times) within the window amount to repeated abuse."""
    since = now - settings.repeated_window
    return sum(1 for at in flag_times if since <= at <= now) >= settings.repeated_flags


async def is_muted(database: Database, channel: str, author_id: str) -> bool:
    """Whether the bot is told not to answer this author (also checked when an agent hands back)."""
    async with database.sessions() as session:
        return bool(
            await session.scalar(
                select(MutedAuthor.active).where(
                    MutedAuthor.channel == channel, MutedAuthor.author_id == author_id
                )
            )
        )


@dataclass(frozen=True)
class FlagRow:
    """A flag with what the review page shows of its message."""

    flag: ModerationFlag
    message: LoggedMessage | None
    muted: bool


class Moderation:
    """Flags on recorded messages, their review, and muting."""

    def __init__(self, database: Database, settings: ModerationSettings, rasa: RasaClient) -> None:
        self._db = database
        self.settings = settings
        self.block_list = BlockList(settings.block_list)
        self._rasa = rasa

    async def screen(self, message: LoggedMessage, author_id: str) -> list[ModerationFlag]:
        """Flag a newly recorded message if it is abusive; the flags made (repeated abuse included).

        `author_id` is who would be muted: the Rasa sender id of a DM, the platform user id of a mention.
        """
        why = reasons(message.text, message.intent, self.settings, self.block_list)
        if not why:
            return []
        author = message.author or author_id
        made = []
        async with self._db.sessions() as session, session.begin():
            flag = ModerationFlag(
                conversation_id=author_id,
                channel=message.channel,
                reason=",".join(why),
                text=message.text,
                author=author,
                message_id=message.id,
                created_at=message.at,
            )
            session.add(flag)
            await session.flush()
            audit.record(
                session, SYSTEM, "flagged", flag=flag.id, reason=flag.reason, channel=message.channel
            )
            made.append(flag)
            again = await self._repeated_abuse(session, message, author_id, author)
            if again is not None:
                made.append(again)
        if len(made) > 1 and self.settings.auto_mute:
            try:
                await self.mute(SYSTEM, message.channel, author_id, "repeated abuse (automatic)")
            except ModerationError as err:
                logger.warning("could not mute %s on %s automatically: %s", author_id, message.channel, err)
        return made

    async def _repeated_abuse(
        self, session: AsyncSession, message: LoggedMessage, author_id: str, author: str
    ) -> ModerationFlag | None:
        since = message.at - self.settings.repeated_window
        mine = (ModerationFlag.channel == message.channel, ModerationFlag.conversation_id == author_id)
        times = list(
            await session.scalars(
                select(ModerationFlag.created_at).where(
                    *mine,
                    ModerationFlag.created_at >= since,
                    ModerationFlag.reason != REPEATED_ABUSE,
                    ModerationFlag.status != "dismissed",
                )
            )
        )
        times = [t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc) for t in times]
        if not repeated(times, message.at, self.settings):
            return None
        # One per window; the bot's own repeated-abuse flags (action_flag_abuse: no message) do not count,
        # so a conversation the bot already flagged can still be muted automatically.
        already = await session.scalar(
            select(func.count())
            .select_from(ModerationFlag)
            .where(
                *mine,
                ModerationFlag.reason == REPEATED_ABUSE,
                ModerationFlag.message_id.is_not(None),
                ModerationFlag.created_at >= since,
            )
        )
        if already:
            return None
        flag = ModerationFlag(
            conversation_id=author_id,
            channel=message.channel,
            reason=REPEATED_ABUSE,
            text=f"{len(times)} flagged messages within {self.settings.repeated_window_minutes:g} minutes",
            author=author,
            message_id=message.id,
            created_at=message.at,
        )
        session.add(flag)
        await session.flush()
        audit.record(session, SYSTEM, "flagged", flag=flag.id, reason=REPEATED_ABUSE, channel=message.channel)
        return flag

    async def review(self, agent: Agent, flag_id: int, status: str) -> ModerationFlag:
        """Confirm, dismiss or reopen a flag (any state to any other: every decision is reversible)."""
        if status not in REVIEW_STATES:
            raise ModerationError(f"a flag is {', '.join(REVIEW_STATES)}, not {status!r}")
        async with self._db.sessions() as session, session.begin():
            flag = await session.get(ModerationFlag, flag_id)
            if flag is None:
                raise ModerationError(f"no flag #{flag_id}")
            if flag.status == status:
                raise ModerationError(f"flag #{flag_id} is already {status}")
            before = flag.status
            await session.execute(
                update(ModerationFlag)
                .where(ModerationFlag.id == flag_id)
                .values(status=status, reviewed_by=agent.id, reviewed_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            action = {"confirmed": "flag_confirmed", "dismissed": "flag_dismissed"}.get(
                status, "flag_reopened"
            )
            audit.record(session, agent, action, flag=flag_id, was=before)
        async with self._db.sessions() as session:
            found = await session.get(ModerationFlag, flag_id)
            assert found is not None
            return found

    async def is_muted(self, channel: str, author_id: str) -> bool:
        """Whether the bot is told not to answer this author."""
        return await is_muted(self._db, channel, author_id)

    async def _active_ticket(self, conversation_id: str) -> HandoffTicket | None:
        async with self._db.sessions() as session:
            return await session.scalar(
                select(HandoffTicket).where(
                    HandoffTicket.conversation_id == conversation_id, HandoffTicket.status.in_(ACTIVE)
                )
            )

    async def mute(self, actor: Agent | str, channel: str, author_id: str, reason: str = "") -> None:
        """The bot stops answering this author (their conversation is paused first: no pause, no mute)."""
        channel, author_id = channel.strip(), author_id.strip()
        if not channel or not author_id:
            raise ModerationError("mute whom? A channel and an author are needed")
        try:
            await self._rasa.pause(author_id)
        except DeliveryError as err:
            raise ModerationError(f"not muted: {err}") from err
        muted_by = actor.id if isinstance(actor, Agent) else None
        async with self._db.sessions() as session, session.begin():
            # One row per author, muted again and again: insert it if new (two supervisors at once
            # cannot make two), then set it.
            await session.execute(
                insert_ignore(session, MutedAuthor.__table__, ["channel", "author_id"]).values(
                    channel=channel, author_id=author_id, reason="", active=True, muted_at=utcnow()
                )
            )
            await session.execute(
                update(MutedAuthor)
                .where(MutedAuthor.channel == channel, MutedAuthor.author_id == author_id)
                .values(
                    active=True,
                    reason=reason[:500],
                    muted_by=muted_by,
                    muted_at=utcnow(),
                    unmuted_by=None,
                    unmuted_at=None,
                )
                .execution_options(synchronize_session=False)
            )
            audit.record(session, actor, "muted", channel=channel, author=author_id, reason=reason)
        logger.info("%s muted on %s", author_id, channel)

    async def unmute(self, actor: Agent, channel: str, author_id: str) -> bool:
        """Answer this author again; False when a person has the conversation (it stays paused for them)."""
        async with self._db.sessions() as session:
            row = await session.scalar(
                select(MutedAuthor).where(MutedAuthor.channel == channel, MutedAuthor.author_id == author_id)
            )
        if row is None or not row.active:
            raise ModerationError(f"{author_id} on {channel} is not muted")
        ticket = await self._active_ticket(author_id)
        if ticket is None:
            try:
                await self._rasa.resume(author_id)
            except DeliveryError as err:
                raise ModerationError(f"still muted: {err}") from err
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                update(MutedAuthor)
                .where(MutedAuthor.id == row.id)
                .values(active=False, unmuted_by=actor.id, unmuted_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            audit.record(
                session,
                actor,
                "unmuted",
                ticket.id if ticket else None,
                channel=channel,
                author=author_id,
                resumed=ticket is None,
            )
        return ticket is None

    async def enforce(self, message: LoggedMessage) -> None:
        """A muted author wrote while the bot had their conversation again (a person handed it back): pause.

        Rasa has already handled this message by the time it is recorded; the pause stops the next ones.
        """
        if message.conversation_id is None or not await self.is_muted(
            message.channel, message.conversation_id
        ):
            return
        if await self._active_ticket(message.conversation_id) is not None:
            return  # a person has it, and it is paused for them
        try:
            await self._rasa.pause(message.conversation_id)
        except DeliveryError as err:
            logger.warning("muted author %s not paused again: %s", message.conversation_id, err)

    async def flags(self, status: str | None = "open", limit: int = 200) -> list[FlagRow]:
        """Flags to review (newest first), with their messages and whether the author is muted."""
        query = (
            select(ModerationFlag, LoggedMessage)
            .outerjoin(LoggedMessage, LoggedMessage.id == ModerationFlag.message_id)
            .order_by(ModerationFlag.id.desc())
            .limit(limit)
        )
        if status:
            query = query.where(ModerationFlag.status == status)
        async with self._db.sessions() as session:
            rows = (await session.execute(query)).all()
            muted = {
                (m.channel, m.author_id)
                for m in await session.scalars(select(MutedAuthor).where(MutedAuthor.active))
            }
        return [
            FlagRow(flag, message, (flag.channel, flag.conversation_id) in muted) for flag, message in rows
        ]

    async def muted(self) -> list[tuple[MutedAuthor, str | None]]:
        """Authors muted now, with who muted them (None: monitoring did)."""
        async with self._db.sessions() as session:
            rows = (
                await session.execute(
                    select(MutedAuthor, Agent.display_name)
                    .outerjoin(Agent, Agent.id == MutedAuthor.muted_by)
                    .where(MutedAuthor.active)
                    .order_by(MutedAuthor.muted_at.desc())
                )
            ).all()
        return [(row, name) for row, name in rows]
