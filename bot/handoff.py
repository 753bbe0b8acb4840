"""Handoff tickets and moderation flags: what the desk (and supervisors) will work from."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.storage.db import Database
from bot.storage.models import HandoffTicket, ModerationFlag

OPEN = "open"  # waiting in the desk's queue
ASSIGNED = "assigned"  # an agent (or a person outside the desk) has it
RESOLVED = "resolved"  # back with the bot
ACTIVE = (OPEN, ASSIGNED)  # a person owns, or is about to own, the conversation


@dataclass(frozen=True)
class TicketInfo:
    """A ticket as actions see it."""

    id: int
    reason: str
    created: bool  # False when the conversation already had an open ticket


class HandoffService:
    """Opens tickets (one open ticket per conversation) and records moderation flags."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def open_ticket(
        self,
        conversation_id: str,
        channel: str,
        reason: str,
        sentiment_trend: float,
        priority: int,
        summary: str,
        customer_name: str | None = None,
    ) -> TicketInfo:
        """The conversation's open ticket, created if there is none."""
        async with self._db.sessions() as session, session.begin():
            existing = await session.scalar(
                select(HandoffTicket).where(
                    HandoffTicket.conversation_id == conversation_id, HandoffTicket.status.in_(ACTIVE)
                )
            )
            if existing is not None:
                return TicketInfo(existing.id, existing.reason, created=False)
            ticket = HandoffTicket(
                conversation_id=conversation_id,
                channel=channel,
                customer_name=customer_name,
                reason=reason,
                sentiment_trend=sentiment_trend,
                priority=priority,
                summary=summary,
                status=OPEN,
            )
            session.add(ticket)
            await session.flush()
            return TicketInfo(ticket.id, reason, created=True)

    async def flag(self, conversation_id: str, channel: str, reason: str, text: str) -> int:
        """Record a message for moderation; its flag id."""
        async with self._db.sessions() as session, session.begin():
            flag = ModerationFlag(conversation_id=conversation_id, channel=channel, reason=reason, text=text)
            session.add(flag)
            await session.flush()
            return flag.id
