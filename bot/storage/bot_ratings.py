"""The assistant's own 1-5 rating, stored on the bot session it was asked about (`bot_sessions`).

The monitoring service asks (bot/monitoring/bot_csat.py); the CSAT action stores the answer here when
the latest question in the conversation was the assistant's. A separate table from the handoff
tickets' ratings, so the people's CSAT and the bot's never mix.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum

from sqlalchemy import select, update

from bot.storage.db import Database
from bot.storage.models import BotSession, utcnow

SCORES = range(1, 6)


class Rated(Enum):
    """What storing a rating did."""

    STORED = "stored"
    ALREADY = "already"  # the session already has its rating: the first one stays
    NOT_ASKED = "not_asked"  # no question of ours in this conversation to answer


class BotRatings:
    """Store the customer's answer to "How did I do?" once per asked session."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def record(self, conversation_id: str, score: int, now: dt.datetime | None = None) -> Rated:
        """Store `score` on the conversation's latest asked session, unless it is rated already."""
        if score not in SCORES:
            raise ValueError(f"a rating is 1 to 5, not {score}")
        async with self._db.sessions() as session, session.begin():
            latest = await session.scalar(
                select(BotSession.id)
                .where(BotSession.conversation_id == conversation_id, BotSession.asked_at.is_not(None))
                .order_by(BotSession.asked_at.desc(), BotSession.id.desc())
                .limit(1)
            )
            if latest is None:
                return Rated.NOT_ASKED
            # One statement, only while unrated: two taps in a row store the first.
            stored = await session.execute(
                update(BotSession)
                .where(BotSession.id == latest, BotSession.score.is_(None))
                .values(score=score, rated_at=now or utcnow())
            )
            return Rated.STORED if stored.rowcount else Rated.ALREADY

    async def latest_score(self, conversation_id: str) -> int | None:
        """The conversation's latest rating of the assistant (None: never rated)."""
        async with self._db.sessions() as session:
            return await session.scalar(
                select(BotSession.score)
                .where(BotSession.conversation_id == conversation_id, BotSession.score.is_not(None))
                .order_by(BotSession.rated_at.desc(), BotSession.id.desc())
                .limit(1)
            )
