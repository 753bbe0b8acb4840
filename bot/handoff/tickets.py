"""Handoff tickets and moderation flags: what the desk (and supervisors) will work from."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select, update

from bot.storage.db import Database
from bot.storage.models import HandoffTicket, ModerationFlag, utcnow

if TYPE_CHECKING:
    from sqlalchemy import Select

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
        language: str | None = None,
    ) -> TicketInfo:
        """The conversation's open ticket, created if there is none (`language`: the customer's)."""
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
                language=language,
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

    # Customer satisfaction: the bot asks for a 1-5 rating once a person resolved the conversation.
    CSAT_SCORES = range(1, 6)

    @staticmethod
    def _last_resolved(conversation_id: str) -> Select[tuple[int, int | None]]:
        """The id and rating of the conversation's most recently resolved ticket."""
        return (
            select(HandoffTicket.id, HandoffTicket.csat_score)
            .where(HandoffTicket.conversation_id == conversation_id, HandoffTicket.status == RESOLVED)
            .order_by(HandoffTicket.resolved_at.desc().nulls_last(), HandoffTicket.id.desc())
            .limit(1)
        )

    async def record_csat(self, conversation_id: str, score: int) -> int | None:
        """Store a 1-5 rating on the conversation's most recently resolved ticket; that ticket's id.

        One rating per ticket, set by a conditional UPDATE, so a double tap or two racing messages
        cannot overwrite the first. None when there is no resolved ticket or the latest one is already
        rated: a later rating never moves to an older ticket the customer is not talking about.
        """
        if score not in self.CSAT_SCORES:
            raise ValueError(f"a CSAT score is 1-5, got {score}")
        async with self._db.sessions() as session, session.begin():
            last = (await session.execute(self._last_resolved(conversation_id))).first()
            if last is None or last.csat_score is not None:
                return None
            result = await session.execute(
                update(HandoffTicket)
                .where(HandoffTicket.id == last.id, HandoffTicket.csat_score.is_(None))
                .values(csat_score=score, csat_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            return last.id if result.rowcount == 1 else None

    async def already_rated(self, conversation_id: str) -> bool:
        """Whether the conversation's most recently resolved ticket already has a rating."""
        async with self._db.sessions() as session:
            last = (await session.execute(self._last_resolved(conversation_id))).first()
            return last is not None and last.csat_score is not None
