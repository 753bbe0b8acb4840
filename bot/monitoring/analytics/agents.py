"""What the people achieved: response and resolution times; satisfaction, theirs and the bot's."""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.monitoring.analytics.periods import (
    DateRange,
    Table,
    percentile,
    within,
)
from bot.storage.db import Database
from bot.storage.models import Agent, AgentMessage, BotSession, HandoffTicket

OUTSIDE_DESK = "outside the desk"
SCORES = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class Timing:
    """One agent's durations in seconds (median and 90th percentile)."""

    agent: str
    seconds: list[float]

    @property
    def median(self) -> float:
        """The middle duration."""
        return statistics.median(self.seconds)

    @property
    def p90(self) -> float:
        """Nine in ten were at most this long."""
        return percentile(self.seconds, 0.9)


@dataclass(frozen=True)
class Timings:
    """Durations per agent, by name."""

    measure: str
    agents: list[Timing]

    def table(self) -> Table:
        """One row per agent."""
        rows = [[t.agent, len(t.seconds), round(t.median, 1), round(t.p90, 1)] for t in self.agents]
        return ["agent", "tickets", f"{self.measure}_median_s", f"{self.measure}_p90_s"], rows


async def _names(session: AsyncSession) -> dict[int, str]:
    return dict((await session.execute(select(Agent.id, Agent.display_name))).all())


def _timings(measure: str, durations: dict[str, list[float]]) -> Timings:
    return Timings(measure, [Timing(name, values) for name, values in sorted(durations.items())])


async def first_response(db: Database, period: DateRange) -> Timings:
    """From handoff to the first reply a person sent, for tickets first answered in the range.

    The time belongs to whoever sent that first reply: the author of the first delivered desk reply,
    or the person outside the desk (Meta's inbox) who answered there.
    """
    async with db.sessions() as session:
        names = await _names(session)
        tickets = (
            await session.execute(
                select(
                    HandoffTicket.id,
                    HandoffTicket.created_at,
                    HandoffTicket.first_response_at,
                    HandoffTicket.assignee_id,
                    HandoffTicket.external_owner,
                ).where(within(HandoffTicket.first_response_at, period))
            )
        ).all()
        authors: dict[int, int] = {}
        replies = await session.execute(
            select(AgentMessage.ticket_id, AgentMessage.agent_id)
            .join(HandoffTicket, HandoffTicket.id == AgentMessage.ticket_id)
            .where(within(HandoffTicket.first_response_at, period), AgentMessage.status == "sent")
            .order_by(AgentMessage.created_at.desc(), AgentMessage.id.desc())
        )
        for ticket_id, agent_id in replies:
            authors[ticket_id] = agent_id  # the last one written wins: the earliest reply
    durations: dict[str, list[float]] = defaultdict(list)
    for ticket_id, created, answered, assignee, outside in tickets:
        author = authors.get(ticket_id, assignee)
        if ticket_id not in authors and outside:
            who = f"{OUTSIDE_DESK} ({outside})"
        else:
            who = names.get(author, "unknown") if author is not None else "unknown"
        durations[who].append(max(0.0, (answered - created).total_seconds()))
    return _timings("first_response", durations)


async def resolution(db: Database, period: DateRange) -> Timings:
    """From handoff to resolve, for tickets resolved in the range, by the person who resolved them."""
    async with db.sessions() as session:
        names = await _names(session)
        rows = await session.execute(
            select(HandoffTicket.created_at, HandoffTicket.resolved_at, HandoffTicket.resolved_by).where(
                within(HandoffTicket.resolved_at, period)
            )
        )
        durations: dict[str, list[float]] = defaultdict(list)
        for created, resolved, by in rows:
            who = names.get(by, "unknown") if by is not None else "unknown"
            durations[who].append(max(0.0, (resolved - created).total_seconds()))
    return _timings("resolution", durations)


@dataclass(frozen=True)
class Rating:
    """Ratings of one group: how many, and their mean (None without ratings)."""

    group: str
    scores: list[int]

    @property
    def mean(self) -> float | None:
        """The average rating."""
        return statistics.fmean(self.scores) if self.scores else None

    @property
    def distribution(self) -> list[int]:
        """How many ratings of 1, 2, 3, 4 and 5."""
        return [self.scores.count(score) for score in SCORES]


@dataclass(frozen=True)
class Csat:
    """CSAT (1-5) given in the range, by agent and for humans versus the bot."""

    by_agent: list[Rating]
    human: Rating
    bot: Rating

    def table(self) -> Table:
        """One row per agent, then humans and the bot; the count of each score last."""
        rows = [
            [kind, r.group, len(r.scores), None if r.mean is None else round(r.mean, 3), *r.distribution]
            for kind, ratings in (("agent", self.by_agent), ("handled_by", [self.human, self.bot]))
            for r in ratings
        ]
        return ["group", "name", "ratings", "mean_csat", *(f"rated_{n}" for n in SCORES)], rows


async def csat(db: Database, period: DateRange) -> Csat:
    """Ratings by the person who resolved the conversation, and the assistant's own.

    The people's are asked after a person resolved a handoff (on the ticket); the bot's after a
    conversation it handled alone ended (`bot_sessions`, bot/monitoring/bot_csat.py).
    """
    async with db.sessions() as session:
        names = await _names(session)
        rows = await session.execute(
            select(HandoffTicket.resolved_by, HandoffTicket.csat_score).where(
                within(HandoffTicket.csat_at, period), HandoffTicket.csat_score.is_not(None)
            )
        )
        scores: dict[str, list[int]] = defaultdict(list)
        for by, score in rows:
            scores[names.get(by, "unknown") if by is not None else "unknown"].append(score)
        bot = list(
            await session.scalars(
                select(BotSession.score).where(
                    within(BotSession.rated_at, period), BotSession.score.is_not(None)
                )
            )
        )
    everyone = [score for values in scores.values() for score in values]
    by_agent = [Rating(name, values) for name, values in sorted(scores.items())]
    return Csat(by_agent, Rating("human", everyone), Rating("bot", bot))
