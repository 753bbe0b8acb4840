"""A supervisor's word on a queued ticket: pin it to one agent, hold it for a manual claim, or let it go.

The assigner (bot/desk/assigner.py) only ever touches queued tickets and reads these marks, so it
never undoes a supervisor's decision: a pinned ticket goes to that agent only (when they are online
with room), a held one waits for someone to claim it, and a transferred one is not queued at all.
"""

from __future__ import annotations

from sqlalchemy import update

from bot.desk.ownership import SUPERVISOR, Change, NotFound, OwnershipError
from bot.handoff.tickets import OPEN
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.models import Agent, HandoffTicket

AUTO, MANUAL = "auto", "manual"


async def route(database: Database, supervisor: Agent, ticket_id: int, choice: str) -> Change:
    """`auto` (anyone skilled), `manual` (claims only) or `agent:<id>` (only that agent gets it)."""
    if supervisor.role != SUPERVISOR:
        raise OwnershipError("only a supervisor decides who a queued conversation goes to")
    async with database.sessions() as session, session.begin():
        ticket = await session.get(HandoffTicket, ticket_id)
        if ticket is None:
            raise NotFound(f"no ticket #{ticket_id}")
        if choice == AUTO:
            values: dict = {"pinned_to": None, "manual_only": False}
            detail: dict = {}
        elif choice == MANUAL:
            values, detail = {"pinned_to": None, "manual_only": True}, {}
        elif choice.startswith("agent:") and choice[6:].isdigit():
            target = await session.get(Agent, int(choice[6:]))
            if target is None or not target.active or target.role == "editor":
                raise OwnershipError("pin to whom? That agent does not exist or is inactive")
            values, detail = {"pinned_to": target.id, "manual_only": False}, {"to": target.username}
        else:
            raise OwnershipError("choose who this conversation goes to")
        result = await session.execute(
            update(HandoffTicket)
            .where(HandoffTicket.id == ticket_id, HandoffTicket.status == OPEN)
            .values(**values)
        )
        if result.rowcount != 1:
            raise OwnershipError(f"ticket #{ticket_id} is no longer in the queue: transfer it instead")
        action = {AUTO: "routed_auto", MANUAL: "held_for_claim"}.get(choice, "pinned")
        audit.record(session, supervisor, action, ticket_id, **detail)
        return Change(ticket_id, ticket.conversation_id, "queued")
