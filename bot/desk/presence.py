"""Who is at the desk: an agent is online while a desk page of theirs beats and they are not "away".

An open page holds the live stream (`/stream`), which beats every few seconds; a page that closed, a
laptop that slept, a replica that died all stop the beats, and the agent is offline once
`presence_seconds` pass without one. "Away" is the agent's own choice (the header's toggle), kept
until they change it. Both live in the database, so every desk replica and the one assigner agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update

from bot.monitoring.sql import insert_ignore
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.models import Agent, AgentPresence, utcnow

ONLINE, AWAY, OFFLINE = "online", "away", "offline"


@dataclass(frozen=True)
class Seen:
    """An agent as the assigner sees them: the account, and its presence row (if it ever beat)."""

    agent: Agent
    seen_at: dt.datetime | None
    last_assigned_at: dt.datetime | None


def state(agent: Agent, seen_at: dt.datetime | None, now: dt.datetime, expiry: dt.timedelta) -> str:
    """Online | away | offline: away wins over a beating page, and no beat for `expiry` is offline."""
    if agent.away:
        return AWAY
    if seen_at is None or now - seen_at > expiry:
        return OFFLINE
    return ONLINE


class Presence:
    """Beats, sign-outs and the away toggle, stored; who is online now."""

    def __init__(self, database: Database, presence_seconds: float) -> None:
        self._db = database
        self.expiry = dt.timedelta(seconds=presence_seconds)

    @property
    def beat_every(self) -> float:
        """How often an open page beats: three times per expiry, so one late beat loses nothing."""
        return self.expiry.total_seconds() / 3

    async def beat(self, agent_id: int, now: dt.datetime | None = None) -> None:
        """A page of this agent is open now."""
        now = now or utcnow()
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                insert_ignore(session, AgentPresence.__table__, ["agent_id"]).values(
                    agent_id=agent_id, seen_at=now
                )
            )
            await session.execute(
                update(AgentPresence).where(AgentPresence.agent_id == agent_id).values(seen_at=now)
            )

    async def leave(self, agent_id: int) -> None:
        """Signed out: offline at once, not a minute later."""
        async with self._db.sessions() as session, session.begin():
            await session.execute(
                update(AgentPresence).where(AgentPresence.agent_id == agent_id).values(seen_at=None)
            )

    async def set_away(self, agent: Agent, away: bool) -> bool:
        """The agent's own toggle (audited); whether it changed anything."""
        async with self._db.sessions() as session, session.begin():
            result = await session.execute(
                update(Agent).where(Agent.id == agent.id, Agent.away != away).values(away=away)
            )
            if result.rowcount != 1:
                return False
            audit.record(session, agent, "went_away" if away else "came_online")
        agent.away = away
        return True

    async def everyone(self) -> list[Seen]:
        """Every active account that may take conversations, with its presence (editors never do)."""
        async with self._db.sessions() as session:
            rows = (
                await session.execute(
                    select(Agent, AgentPresence.seen_at, AgentPresence.last_assigned_at)
                    .outerjoin(AgentPresence, AgentPresence.agent_id == Agent.id)
                    .where(Agent.active, Agent.role != "editor")
                    .order_by(Agent.id)
                )
            ).all()
        return [Seen(agent, seen_at, last) for agent, seen_at, last in rows]

    async def online(self, now: dt.datetime | None = None) -> list[Seen]:
        """The agents online now (a page beat within the expiry, and not away)."""
        now = now or utcnow()
        return [s for s in await self.everyone() if state(s.agent, s.seen_at, now, self.expiry) == ONLINE]
