"""Who owns a conversation, and every way that changes (README.md, "How it is built": conversation ownership).

A ticket is `open` (queued), `assigned` (to an agent, or to a person outside the desk such as Meta's
inbox) or `resolved` (the bot has the conversation again). Every transition is one conditional UPDATE,
so two agents clicking "claim" at once get exactly one owner, on SQLite and PostgreSQL alike; every
transition writes an audit row in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.handoff.tickets import ACTIVE, ASSIGNED, OPEN, RESOLVED
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.models import Agent, HandoffTicket, TicketNote, utcnow

SUPERVISOR = "supervisor"


class OwnershipError(Exception):
    """The transition is not allowed now; the message says why (shown to the agent)."""


class NotFound(OwnershipError):
    """No such ticket, or one this agent may not see."""


def owner(ticket: HandoffTicket | None) -> str:
    """`bot`, `queued`, `agent:<id>`, `external:<who>` or `closed`, as ARCHITECTURE.md names them."""
    if ticket is None:
        return "bot"
    if ticket.status == OPEN:
        return "queued"
    if ticket.status == ASSIGNED:
        return f"agent:{ticket.assignee_id}" if ticket.assignee_id else f"external:{ticket.external_owner}"
    return "closed"


def can_view(agent: Agent, ticket: HandoffTicket) -> bool:
    """Supervisors see everything; agents see the queue, their own work and what people outside hold."""
    if agent.role == SUPERVISOR:
        return True
    if ticket.status == OPEN or ticket.assignee_id == agent.id or ticket.resolved_by == agent.id:
        return True
    return ticket.status == ASSIGNED and ticket.assignee_id is None


def can_act(agent: Agent, ticket: HandoffTicket) -> bool:
    """Reply, note, transfer, release, resolve: the owner, or a supervisor."""
    return ticket.status == ASSIGNED and (ticket.assignee_id == agent.id or agent.role == SUPERVISOR)


@dataclass(frozen=True)
class Change:
    """What a transition did, for the live feed."""

    ticket_id: int
    conversation_id: str
    owner: str


class Ownership:
    """Ticket transitions: claim, release, transfer, resolve, and takeover from outside the desk."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def ticket(self, ticket_id: int, agent: Agent | None = None) -> HandoffTicket:
        """A ticket the agent may see (any ticket without an agent)."""
        async with self._db.sessions() as session:
            ticket = await session.get(HandoffTicket, ticket_id)
        if ticket is None or (agent is not None and not can_view(agent, ticket)):
            raise NotFound(f"no ticket #{ticket_id} for you")
        return ticket

    async def _transition(
        self,
        session: AsyncSession,
        ticket_id: int,
        condition: list,
        values: dict,
    ) -> bool:
        result = await session.execute(
            update(HandoffTicket).where(HandoffTicket.id == ticket_id, *condition).values(**values)
        )
        return result.rowcount == 1

    async def claim(self, ticket_id: int, agent: Agent) -> Change:
        """Take a queued ticket. Exactly one of any number of simultaneous claims succeeds."""
        async with self._db.sessions() as session, session.begin():
            won = await self._transition(
                session,
                ticket_id,
                [HandoffTicket.status == OPEN],
                {"status": ASSIGNED, "assignee_id": agent.id, "claimed_at": utcnow(), "external_owner": None},
            )
            ticket = await session.get(HandoffTicket, ticket_id)
            if ticket is None:
                raise NotFound(f"no ticket #{ticket_id}")
            if not won:
                raise OwnershipError(f"ticket #{ticket_id} is no longer in the queue ({owner(ticket)})")
            audit.record(session, agent, "claimed", ticket_id)
            return Change(ticket_id, ticket.conversation_id, owner(ticket))

    async def _owned(self, session: AsyncSession, ticket_id: int, agent: Agent) -> HandoffTicket:
        ticket = await session.get(HandoffTicket, ticket_id)
        if ticket is None or not can_view(agent, ticket):
            raise NotFound(f"no ticket #{ticket_id} for you")
        if not can_act(agent, ticket):
            raise OwnershipError(f"ticket #{ticket_id} is not yours ({owner(ticket)})")
        return ticket

    async def _move(self, session: AsyncSession, ticket: HandoffTicket, values: dict) -> None:
        """Change an owned ticket, provided nobody changed its owner since we read it."""
        still_owned = [
            HandoffTicket.status == ASSIGNED,
            HandoffTicket.assignee_id.is_(None)
            if ticket.assignee_id is None
            else HandoffTicket.assignee_id == ticket.assignee_id,
        ]
        if not await self._transition(session, ticket.id, still_owned, values):
            raise OwnershipError(f"ticket #{ticket.id} changed hands meanwhile")

    async def release(self, ticket_id: int, agent: Agent) -> Change:
        """Back to the queue, for someone else (the bot stays paused)."""
        async with self._db.sessions() as session, session.begin():
            ticket = await self._owned(session, ticket_id, agent)
            values = {"status": OPEN, "assignee_id": None, "external_owner": None, "claimed_at": None}
            values["released_by"] = agent.id  # the assigner does not hand it straight back
            await self._move(session, ticket, values)
            audit.record(session, agent, "released", ticket_id)
            return Change(ticket_id, ticket.conversation_id, "queued")

    async def transfer(self, ticket_id: int, agent: Agent, to_agent_id: int) -> Change:
        """Give the ticket to another active agent."""
        async with self._db.sessions() as session, session.begin():
            ticket = await self._owned(session, ticket_id, agent)
            target = await session.get(Agent, to_agent_id)
            if target is None or not target.active:
                raise OwnershipError("transfer to whom? That agent does not exist or is inactive")
            if target.id == ticket.assignee_id:
                raise OwnershipError(f"ticket #{ticket_id} is already with {target.display_name}")
            values = {"assignee_id": target.id, "external_owner": None, "claimed_at": utcnow()}
            await self._move(session, ticket, values)
            audit.record(session, agent, "transferred", ticket_id, to=target.username)
            return Change(ticket_id, ticket.conversation_id, f"agent:{target.id}")

    async def check_can_resolve(self, ticket_id: int, agent: Agent) -> HandoffTicket:
        """The ticket, if this agent may resolve it now (before the bot is resumed)."""
        async with self._db.sessions() as session:
            return await self._owned(session, ticket_id, agent)

    async def resolve(self, ticket_id: int, agent: Agent) -> Change:
        """Close the ticket: the conversation belongs to the bot again (the caller resumes Rasa first)."""
        async with self._db.sessions() as session, session.begin():
            ticket = await self._owned(session, ticket_id, agent)
            values = {"status": RESOLVED, "resolved_at": utcnow(), "resolved_by": agent.id}
            await self._move(session, ticket, values)
            audit.record(session, agent, "resolved", ticket_id)
            return Change(ticket_id, ticket.conversation_id, "bot")

    async def taken_outside(self, conversation_id: str, channel: str, who: str) -> Change:
        """A person answered from outside the desk (Meta's inbox): they own the conversation now."""
        async with self._db.sessions() as session, session.begin():
            ticket = await session.scalar(
                select(HandoffTicket)
                .where(HandoffTicket.conversation_id == conversation_id, HandoffTicket.status.in_(ACTIVE))
                .order_by(HandoffTicket.id.desc())
            )
            if ticket is None:
                ticket = HandoffTicket(
                    conversation_id=conversation_id,
                    channel=channel,
                    reason="answered_outside",
                    summary=f"A person replied from {who}; the bot is paused.",
                    status=ASSIGNED,
                )
                session.add(ticket)
            elif ticket.external_owner == who and ticket.assignee_id is None:
                return Change(ticket.id, conversation_id, owner(ticket))
            ticket.status, ticket.assignee_id, ticket.external_owner = ASSIGNED, None, who
            ticket.claimed_at = utcnow()
            if ticket.first_response_at is None:
                ticket.first_response_at = utcnow()
            await session.flush()
            audit.record(session, who, "taken_outside_desk", ticket.id)
            return Change(ticket.id, conversation_id, owner(ticket))

    async def add_note(self, ticket_id: int, agent: Agent, body: str) -> str:
        """An internal note: anyone who may see the ticket may annotate it. The conversation's id."""
        body = body.strip()
        if not body:
            raise OwnershipError("an empty note says nothing")
        async with self._db.sessions() as session, session.begin():
            ticket = await session.get(HandoffTicket, ticket_id)
            if ticket is None or not can_view(agent, ticket):
                raise NotFound(f"no ticket #{ticket_id} for you")
            session.add(TicketNote(ticket_id=ticket_id, agent_id=agent.id, body=body[:5000]))
            audit.record(session, agent, "noted", ticket_id)
            return ticket.conversation_id
