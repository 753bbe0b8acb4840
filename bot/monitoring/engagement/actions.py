"""What agents, supervisors and the bot do to public items: reply in public or in private, hide, dismiss.

Every action goes out through the connector that received the item (`RasaClient.public_action`), with a
client id fixed by the item and the kind of reply, so a double click, two agents, or a retry after a crash
never sends twice. The item's row is claimed first (open → sending), so only one answer is under way.
Every change is in the audit trail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import uuid

from sqlalchemy import Update, select, update

from bot.conversations.rasa_api import DeliveryError, RasaClient
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.models import Agent, EngagementItem, Mention, utcnow

logger = logging.getLogger(__name__)

PUBLIC, PRIVATE = "public", "private"
OPEN, SENDING, SENT, DISMISSED = "open", "sending", "sent", "dismissed"
BOT = "bot"
STUCK_AFTER = dt.timedelta(minutes=2)  # a `sending` row this old was left by a process that died


class EngagementError(Exception):
    """An action that cannot be done now; the message says why (shown in the desk)."""


def client_id(mention: Mention, kind: str) -> str:
    """One per platform item and kind of reply: whoever sends it, however often, it goes out once.

    From the platform's id, never our row's: the connectors remember client ids for a day (in Redis,
    shared by every deployment on it), and a database started afresh numbers its rows from 1 again.
    """
    digest = hashlib.sha256(f"{mention.channel}\n{mention.external_id}\n{kind}".encode()).hexdigest()
    return f"engagement-{digest[:40]}"


def status_change(item_id: int, after: str, before: str | None = None) -> Update:
    """The UPDATE that moves an item to `after` (only from `before`, when given: a claim)."""
    query = update(EngagementItem).where(EngagementItem.id == item_id)
    if before is not None:
        query = query.where(EngagementItem.status == before)
    return query.values(status=after, updated_at=utcnow())


class EngagementActions:
    """Replies, hiding and dismissing, each audited."""

    def __init__(self, database: Database, rasa: RasaClient) -> None:
        self._db = database
        self._rasa = rasa

    async def _load(self, item_id: int) -> tuple[EngagementItem, Mention]:
        async with self._db.sessions() as session:
            row = (
                await session.execute(
                    select(EngagementItem, Mention)
                    .join(Mention, Mention.id == EngagementItem.mention_id)
                    .where(EngagementItem.id == item_id)
                )
            ).first()
        if row is None:
            raise EngagementError(f"no public item {item_id}")
        return row[0], row[1]

    async def reply(self, item_id: int, actor: Agent | str, text: str, kind: str = PUBLIC) -> str:
        """Answer the item once (in public, or privately), as an agent or the bot; the platform's id."""
        text = text.strip()
        if kind not in (PUBLIC, PRIVATE):
            raise EngagementError(f"a reply is {PUBLIC} or {PRIVATE}, not {kind!r}")
        if not text:
            raise EngagementError("write a reply first")
        item, mention = await self._load(item_id)
        async with self._db.sessions() as session, session.begin():
            claimed = await session.execute(status_change(item.id, SENDING, before=OPEN))
        if claimed.rowcount != 1:
            raise EngagementError(f"this item is {item.status}: it was answered or dismissed already")
        return await self._send(item, mention, actor, text, kind)

    async def _send(
        self, item: EngagementItem, mention: Mention, actor: Agent | str, text: str, kind: str
    ) -> str:
        """The claimed item's reply through its connector; the row says how it went."""
        name = actor.username if isinstance(actor, Agent) else actor
        action = "reply" if kind == PUBLIC else "private_reply"
        try:
            made = await self._rasa.public_action(
                mention.channel, action, mention.external_id, text, client_id(mention, kind), name
            )
        except DeliveryError:
            async with self._db.sessions() as session, session.begin():
                await session.execute(status_change(item.id, OPEN))
            raise
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                update(EngagementItem)
                .where(EngagementItem.id == item.id)
                .values(
                    status=SENT,
                    reply_text=text,
                    reply_kind=kind,
                    reply_id=made,
                    replied_by=name,
                    updated_at=utcnow(),
                )
            )
            audit.record(
                session, actor, f"engagement_{action}", item=item.id, channel=mention.channel, id=made
            )
        logger.info("public item %s answered (%s) by %s: %s", item.id, kind, name, made)
        return made

    async def resume_stuck(self, now: dt.datetime | None = None) -> int:
        """Finish the bot's answers a dead process left `sending` (same client id: sent at most once)."""
        cutoff = (now or utcnow()) - STUCK_AFTER
        async with self._db.sessions() as session:
            rows = (
                await session.execute(
                    select(EngagementItem, Mention)
                    .join(Mention, Mention.id == EngagementItem.mention_id)
                    .where(EngagementItem.status == SENDING, EngagementItem.updated_at < cutoff)
                )
            ).all()
        for item, mention in rows:
            if item.decision == "auto" and item.suggestion:
                try:
                    await self._send(item, mention, BOT, item.suggestion, item.suggestion_kind)
                except DeliveryError as err:
                    logger.warning("public item %s: the bot's answer failed again: %s", item.id, err)
            else:  # an agent's: back in the queue; resending the same text replays the first answer
                async with self._db.sessions() as session, session.begin():
                    await session.execute(status_change(item.id, OPEN, before=SENDING))
        return len(rows)

    async def set_hidden(self, item_id: int, actor: Agent | str, hidden: bool) -> None:
        """Hide the item on the platform (or show it again), and remember it."""
        item, mention = await self._load(item_id)
        name = actor.username if isinstance(actor, Agent) else actor
        action = "hide" if hidden else "unhide"
        await self._rasa.public_action(
            mention.channel, action, mention.external_id, "", f"engagement-{item.id}-{uuid.uuid4().hex}", name
        )
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                update(EngagementItem)
                .where(EngagementItem.id == item.id)
                .values(hidden=hidden, updated_at=utcnow())
            )
            audit.record(session, actor, f"engagement_{action}", item=item.id, channel=mention.channel)
        logger.info("public item %s %s by %s", item.id, "hidden" if hidden else "shown again", name)

    async def dismiss(self, item_id: int, actor: Agent, reopen: bool = False) -> None:
        """Take an item out of the queue without answering (or put it back)."""
        item, _ = await self._load(item_id)
        before, after = (DISMISSED, OPEN) if reopen else (OPEN, DISMISSED)
        async with self._db.sessions() as session, session.begin():
            changed = await session.execute(status_change(item.id, after, before=before))
            if changed.rowcount != 1:
                raise EngagementError(f"this item is {item.status}, not {before}")
            audit.record(
                session, actor, "engagement_reopen" if reopen else "engagement_dismiss", item=item.id
            )
