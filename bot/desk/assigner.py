"""The assigner: a desk background task that hands queued conversations to online agents.

Every `interval_seconds` it raises the priority of SLA breaches (bot/desk/breaches.py), then applies
the choice of bot/desk/assignment.py. Only the desk replica holding the `desk-assignment` lease runs
it (Redis with REDIS_URL, else a row of `service_leases`: bot/monitoring/lease.py). Each assignment is
one conditional UPDATE (still open, still nobody's), so an agent claiming the same ticket by hand at
the same moment either wins, and the assigner skips it, or loses and is told; never two owners. Each
is audited and nudges the pages, so the agent's queue shows it without a reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update

from bot.conversations.tail import Transcripts
from bot.desk import assignment
from bot.desk.breaches import ACTOR, raise_breached
from bot.desk.config import Assignment, Sla
from bot.desk.metrics import AUTO_ASSIGNED, SLA_RAISES
from bot.desk.presence import Presence
from bot.desk.service import urgency
from bot.handoff.tickets import ASSIGNED, OPEN
from bot.live_bus import Bus
from bot.monitoring.lease import Lease, make_lease
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.models import Agent, AgentPresence, HandoffTicket, utcnow

logger = logging.getLogger(__name__)
LEASE_NAME = "desk-assignment"


@dataclass(frozen=True)
class Assigned:
    """One automatic assignment that took effect."""

    ticket_id: int
    conversation_id: str
    agent_id: int


class Assigner:
    """Raises breached tickets and assigns queued ones, while this replica holds the lease."""

    def __init__(
        self,
        database: Database,
        transcripts: Transcripts,
        presence: Presence,
        bus: Bus,
        settings: Assignment,
        targets: Sla,
        lease: Lease | None = None,
        redis_url: str | None = None,
    ) -> None:
        self._db = database
        self._transcripts = transcripts
        self._presence = presence
        self._bus = bus
        self.settings = settings
        self._targets = targets
        self.lease = lease or make_lease(redis_url, database, LEASE_NAME, settings.lease_seconds)
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Run in the background until `stop`."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop, and give the lease up so another replica assigns at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.lease.release()
        await self.lease.close()

    async def _run(self) -> None:
        # Ask for (or renew) the lease at least three times per TTL; a round every interval while held.
        tick = min(self.settings.interval_seconds, self.settings.lease_seconds / 3)
        last = float("-inf")
        while True:
            try:
                if await self.lease.hold() and time.monotonic() - last >= self.settings.interval_seconds:
                    last = time.monotonic()
                    await self.round()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database may be briefly away: the next tick tries again
                logger.exception("desk assigner round failed")
            await asyncio.sleep(tick)

    async def round(self) -> list[Assigned]:
        """Raise breached tickets, then assign what can be assigned now; the assignments made."""
        now = utcnow()
        breaches = await raise_breached(
            self._db, self._transcripts, self._targets, self.settings.sla_bump, now
        )
        online = await self._presence.online(now)
        done: list[Assigned] = []
        if online:
            async with self._db.sessions() as session:
                queued = list(
                    await session.scalars(select(HandoffTicket).where(HandoffTicket.status == OPEN))
                )
                loads = dict(
                    (
                        await session.execute(
                            select(HandoffTicket.assignee_id, func.count())
                            .where(HandoffTicket.status == ASSIGNED, HandoffTicket.assignee_id.is_not(None))
                            .group_by(HandoffTicket.assignee_id)
                        )
                    ).all()
                )
            waiting = [
                assignment.Waiting(
                    t.id,
                    urgency(t, now - t.created_at),
                    t.created_at,
                    t.channel,
                    t.language,
                    t.pinned_to,
                    t.manual_only,
                    t.released_by,
                )
                for t in queued
            ]
            candidates = [
                assignment.Candidate.of(
                    s.agent, loads.get(s.agent.id, 0), s.last_assigned_at, self.settings.capacity
                )
                for s in online
            ]
            agents = {s.agent.id: s.agent for s in online}
            by_id = {t.id: t for t in queued}
            for ticket_id, agent_id in assignment.plan(waiting, candidates, self.settings.primary_language):
                if await self.assign(ticket_id, agents[agent_id]):
                    done.append(Assigned(ticket_id, by_id[ticket_id].conversation_id, agent_id))
        for breach in breaches:
            SLA_RAISES.labels(breach.timer.replace(" ", "_")).inc()
        AUTO_ASSIGNED.inc(len(done))
        for change in [*breaches, *done]:
            await self._bus.publish({"kind": "conversation", "conversation_id": change.conversation_id})
        for given in done:  # the agent's other pages (a conversation, engagement) say so too
            nudge = {"kind": "assigned", "agent_id": given.agent_id, "ticket_id": given.ticket_id}
            await self._bus.publish(nudge)
        if breaches or done:
            await self._bus.publish({"kind": "queue"})
        return done

    async def assign(self, ticket_id: int, agent: Agent) -> bool:
        """Give a queued ticket to an agent, unless someone took it (or a supervisor decided) meanwhile."""
        now = utcnow()
        async with self._db.sessions() as session, session.begin():
            result = await session.execute(
                update(HandoffTicket)
                .where(
                    HandoffTicket.id == ticket_id,
                    HandoffTicket.status == OPEN,
                    HandoffTicket.assignee_id.is_(None),
                    HandoffTicket.manual_only.is_(False),  # a supervisor's hold or pin made meanwhile stands
                    or_(HandoffTicket.pinned_to.is_(None), HandoffTicket.pinned_to == agent.id),
                )
                .values(status=ASSIGNED, assignee_id=agent.id, claimed_at=now, external_owner=None)
            )
            if result.rowcount != 1:
                logger.info(
                    "ticket #%s left the queue before the assigner gave it to %s", ticket_id, agent.username
                )
                return False
            await session.execute(
                update(AgentPresence).where(AgentPresence.agent_id == agent.id).values(last_assigned_at=now)
            )
            audit.record(session, ACTOR, "auto_assigned", ticket_id, to=agent.username)
        logger.info("ticket #%s assigned to %s", ticket_id, agent.username)
        return True
