"""What the bot achieved: containment (conversations no person took over), handoffs by reason."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import case, exists, func, select

from bot.monitoring.analytics.periods import (
    DateRange,
    Table,
    within,
)
from bot.storage.db import Database
from bot.storage.models import HandoffTicket, LoggedMessage


@dataclass(frozen=True)
class Containment:
    """Conversations with customer messages in the range, and how many of them went to a person."""

    by_channel: dict[str, tuple[int, int]]  # channel -> (conversations, handed over)

    @property
    def conversations(self) -> int:
        """All conversations in the range."""
        return sum(total for total, _ in self.by_channel.values())

    @property
    def handed_over(self) -> int:
        """Conversations with a handoff ticket opened in the range."""
        return sum(handed for _, handed in self.by_channel.values())

    @property
    def rate(self) -> float | None:
        """Share of conversations the bot handled alone (None without conversations)."""
        total = self.conversations
        return (total - self.handed_over) / total if total else None

    def table(self) -> Table:
        """One row per channel, then all channels."""
        rows = [
            [channel, total, total - handed, handed, round((total - handed) / total, 4) if total else None]
            for channel, (total, handed) in sorted(self.by_channel.items())
        ]
        rate = None if self.rate is None else round(self.rate, 4)
        rows.append(
            ["all", self.conversations, self.conversations - self.handed_over, self.handed_over, rate]
        )
        return ["channel", "conversations", "bot_only", "handed_over", "containment_rate"], rows


async def containment(db: Database, period: DateRange) -> Containment:
    """Conversations resolved without a human: customer messages in the range and no ticket in it."""
    conversations = (
        select(LoggedMessage.channel, LoggedMessage.conversation_id)
        .where(
            within(LoggedMessage.at, period),
            LoggedMessage.kind == "dm",
            LoggedMessage.conversation_id.is_not(None),
        )
        .distinct()
        .subquery()
    )
    ticket = exists().where(
        HandoffTicket.conversation_id == conversations.c.conversation_id,
        within(HandoffTicket.created_at, period),
    )
    async with db.sessions() as session:
        rows = await session.execute(
            select(conversations.c.channel, func.count(), func.sum(case((ticket, 1), else_=0))).group_by(
                conversations.c.channel
            )
        )
        return Containment({channel: (total, int(handed or 0)) for channel, total, handed in rows})


@dataclass(frozen=True)
class Handoffs:
    """Tickets opened in the range by reason, against the conversations of the range."""

    conversations: int
    reasons: list[tuple[str, int]]

    def table(self) -> Table:
        """One row per reason."""
        total = self.conversations
        rows = [[r, n, total, round(n / total, 4) if total else None] for r, n in self.reasons]
        return ["reason", "tickets", "conversations", "handoff_rate"], rows


async def handoffs(db: Database, period: DateRange) -> Handoffs:
    """Handoff rate by reason."""
    count = func.count().label("n")
    conversations = (await containment(db, period)).conversations
    async with db.sessions() as session:
        rows = await session.execute(
            select(HandoffTicket.reason, count)
            .where(within(HandoffTicket.created_at, period))
            .group_by(HandoffTicket.reason)
            .order_by(count.desc(), HandoffTicket.reason)
        )
        return Handoffs(conversations, [(reason, n) for reason, n in rows])
