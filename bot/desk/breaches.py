"""SLA breaches raise a ticket's priority, once per breach, so late conversations go first.

A first-response breach counts once per ticket (`first_breach_at`); a next-response breach once per
late customer message (`next_breach_for` holds that message's time), so a customer who waits again
after an answer raises it again. Each raise is a conditional UPDATE that re-checks the mark, so a
second assigner (during a lease hand-over) cannot raise the same breach twice, and it is audited.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy import or_, select, update

from bot.conversations.tail import Transcripts
from bot.desk import sla
from bot.desk.config import Sla
from bot.desk.service import last_agent_replies
from bot.handoff.tickets import ACTIVE, ASSIGNED
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.models import HandoffTicket

logger = logging.getLogger(__name__)
ACTOR = "assigner"  # the audit trail's name for automatic assignment and its priority raises


@dataclass(frozen=True)
class Breach:
    """A raise: which ticket, which timer, the priority it has now."""

    ticket_id: int
    conversation_id: str
    timer: str
    priority: int


async def raise_breached(
    database: Database, transcripts: Transcripts, targets: Sla, bump: int, now: dt.datetime
) -> list[Breach]:
    """Raise the priority of every active ticket whose first- or next-response timer is breached."""
    if bump <= 0:
        return []
    async with database.sessions() as session:
        tickets = list(await session.scalars(select(HandoffTicket).where(HandoffTicket.status.in_(ACTIVE))))
        ids = [t.id for t in tickets]
        last_replies = await last_agent_replies(session, ids)
    talking = [t.conversation_id for t in tickets if t.status == ASSIGNED and t.first_response_at]
    seen = await transcripts.last_customer_times(talking)
    raised = []
    for ticket in tickets:
        first = sla.first_response(ticket.created_at, ticket.first_response_at, targets)
        if ticket.first_breach_at is None and first.state(now) == "breached":
            raised += await _raise(database, ticket, "first response", bump, now, first_breach_at=now)
            continue
        if ticket.conversation_id not in seen:
            continue
        customer = dt.datetime.fromtimestamp(seen[ticket.conversation_id], dt.timezone.utc)
        reply = _aware(last_replies.get(ticket.id))
        following = sla.next_response(customer, reply, ticket.first_response_at, targets)
        already = ticket.next_breach_for is not None and ticket.next_breach_for >= customer
        if not already and following.state(now) == "breached":
            raised += await _raise(database, ticket, "next response", bump, now, next_breach_for=customer)
    return raised


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value.replace(tzinfo=dt.timezone.utc) if value is not None and value.tzinfo is None else value


async def _raise(
    database: Database,
    ticket: HandoffTicket,
    timer: str,
    bump: int,
    now: dt.datetime,
    **mark: dt.datetime,
) -> list[Breach]:
    """One raise, if nobody counted this breach meanwhile."""
    [(column, value)] = mark.items()
    field = getattr(HandoffTicket, column)
    unmarked = field.is_(None) if column == "first_breach_at" else or_(field.is_(None), field < value)
    async with database.sessions() as session, session.begin():
        result = await session.execute(
            update(HandoffTicket)
            .where(HandoffTicket.id == ticket.id, unmarked)
            .values(priority=HandoffTicket.priority + bump, **mark)
        )
        if result.rowcount != 1:
            return []
        priority = await session.scalar(select(HandoffTicket.priority).where(HandoffTicket.id == ticket.id))
        audit.record(session, ACTOR, "sla_breached", ticket.id, timer=timer, priority=priority, at=now)
    logger.info("ticket #%s breached its %s target: priority %s", ticket.id, timer, priority)
    return [Breach(ticket.id, ticket.conversation_id, timer, int(priority or 0))]
