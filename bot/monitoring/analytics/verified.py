"""Verified containment: conversations the bot handled alone that really were settled.

"No person took over" (bot/monitoring/analytics/conversations.py, the raw figure) also counts every
customer who gave up. Here the unit is a bot session (`bot_sessions`: one Rasa session of a
conversation, bot/monitoring/bot_sessions.py), and one started in the range counts as contained only
when it ended with the bot alone (thanks/bye, or quiet after the bot's answer), it was not rated 1-2,
and within 48 hours of its end the customer neither came back about the same topic (a later session
with the same main intent) nor was handed to a person. Sessions that ended less than 48 hours ago
are counted on what is known so far and shown as `awaiting_48h`.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import select

from bot.monitoring.analytics.periods import DateRange, Table, within
from bot.storage.db import Database
from bot.storage.models import BotSession, HandoffTicket, utcnow

COME_BACK = dt.timedelta(hours=48)
LOW = (1, 2)
ENDED = "ended"  # bot_sessions.state of a session the bot closed alone


@dataclass(frozen=True)
class Verdicts:
    """One channel's sessions and what became of those the bot closed alone."""

    sessions: int = 0
    ended_alone: int = 0
    came_back: int = 0  # same topic again, or a handoff, within 48 h of the end
    rated_low: int = 0  # rated 1-2 (and did not come back: each session is counted once)
    awaiting: int = 0  # contained so far, but its 48 h are not over

    @property
    def contained(self) -> int:
        """Ended alone, and neither came back nor rated low."""
        return self.ended_alone - self.came_back - self.rated_low


@dataclass(frozen=True)
class VerifiedContainment:
    """Bot sessions started in the range, by channel."""

    by_channel: dict[str, Verdicts]

    @property
    def all(self) -> Verdicts:
        """Every channel together."""
        fields = ("sessions", "ended_alone", "came_back", "rated_low", "awaiting")
        values = {f: sum(getattr(v, f) for v in self.by_channel.values()) for f in fields}
        return Verdicts(**values)

    @property
    def rate(self) -> float | None:
        """Share of sessions contained for real (None without sessions)."""
        total = self.all
        return total.contained / total.sessions if total.sessions else None

    def table(self) -> Table:
        """One row per channel, then all channels."""
        rows = []
        for channel, v in [*sorted(self.by_channel.items()), ("all", self.all)]:
            rate = round(v.contained / v.sessions, 4) if v.sessions else None
            rows.append(
                [channel, v.sessions, v.ended_alone, v.came_back, v.rated_low, v.contained, v.awaiting, rate]
            )
        header = ["channel", "sessions", "ended_alone", "came_back_48h", "rated_1_2", "contained"]
        return [*header, "awaiting_48h", "verified_containment_rate"], rows


def came_back(
    ended_at: dt.datetime,
    topic: str | None,
    later: list[tuple[dt.datetime, str | None]],
    tickets: list[dt.datetime],
) -> bool:
    """Whether, within 48 h after `ended_at`, a session about `topic` started or a ticket was opened."""
    until = ended_at + COME_BACK
    if any(ended_at < opened <= until for opened in tickets):
        return True
    return topic is not None and any(ended_at < started <= until and t == topic for started, t in later)


async def verified_containment(
    db: Database, period: DateRange, now: dt.datetime | None = None
) -> VerifiedContainment:
    """Sessions started in the range, and which of them the bot really settled."""
    now = now or utcnow()
    started = within(BotSession.started_at, period)
    # The conversations of the range's sessions, and what happened in them up to 48 h after the range.
    conversations = select(BotSession.conversation_id).where(started, BotSession.state == ENDED)
    horizon = period.end + COME_BACK
    async with db.sessions() as session:
        rows = (
            await session.execute(
                select(
                    BotSession.conversation_id,
                    BotSession.channel,
                    BotSession.state,
                    BotSession.topic,
                    BotSession.ended_at,
                    BotSession.score,
                ).where(started)
            )
        ).all()
        later: dict[str, list[tuple[dt.datetime, str | None]]] = defaultdict(list)
        for conversation, opened, topic in await session.execute(
            select(BotSession.conversation_id, BotSession.started_at, BotSession.topic).where(
                BotSession.conversation_id.in_(conversations),
                BotSession.started_at >= period.start,
                BotSession.started_at < horizon,
            )
        ):
            later[conversation].append((opened, topic))
        tickets: dict[str, list[dt.datetime]] = defaultdict(list)
        for conversation, opened in await session.execute(
            select(HandoffTicket.conversation_id, HandoffTicket.created_at).where(
                HandoffTicket.conversation_id.in_(conversations),
                HandoffTicket.created_at >= period.start,
                HandoffTicket.created_at < horizon,
            )
        ):
            tickets[conversation].append(opened)
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for conversation, channel, state, topic, ended_at, score in rows:
        count = counts[channel or "unknown"]
        count["sessions"] += 1
        if state != ENDED or ended_at is None:
            continue
        count["ended_alone"] += 1
        if came_back(ended_at, topic, later[conversation], tickets[conversation]):
            count["came_back"] += 1
        elif score in LOW:
            count["rated_low"] += 1
        elif ended_at + COME_BACK > now:
            count["awaiting"] += 1
    return VerifiedContainment({channel: Verdicts(**values) for channel, values in counts.items()})
