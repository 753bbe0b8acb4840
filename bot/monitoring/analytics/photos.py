"""Customer photos looked up in the catalogue: outcomes and hit rate, and recording each lookup."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from bot.monitoring.analytics.periods import (
    DateRange,
    Table,
    within,
)
from bot.storage.db import Database
from bot.storage.models import PhotoLookup

PHOTO_OUTCOMES = ("confident", "several", "none", "bad_image")
PHOTO_HITS = ("confident", "several")  # the customer was shown the product (or a short list with it)


@dataclass(frozen=True)
class PhotoHits:
    """Photo lookups in the range by outcome."""

    counts: dict[str, int]

    @property
    def total(self) -> int:
        """Every lookup."""
        return sum(self.counts.values())

    @property
    def rate(self) -> float | None:
        """Share of lookups that showed the product or a short list (None without lookups)."""
        return sum(self.counts.get(o, 0) for o in PHOTO_HITS) / self.total if self.total else None

    def table(self) -> Table:
        """One row per outcome."""
        total = self.total
        rows = [
            [o, self.counts.get(o, 0), round(self.counts.get(o, 0) / total, 4) if total else None]
            for o in self.outcomes()
        ]
        return ["outcome", "lookups", "share"], rows

    def outcomes(self) -> list[str]:
        """The known outcomes in order, then any others."""
        return [*PHOTO_OUTCOMES, *sorted(set(self.counts) - set(PHOTO_OUTCOMES))]


async def photo_hits(db: Database, period: DateRange) -> PhotoHits:
    """Photo-lookup outcomes."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(PhotoLookup.outcome, func.count())
            .where(within(PhotoLookup.at, period))
            .group_by(PhotoLookup.outcome)
        )
        return PhotoHits(dict(rows.all()))


async def record_photo_lookup(
    db: Database,
    conversation_id: str,
    channel: str,
    outcome: str,
    top_score: float | None = None,
    product_id: int | None = None,
) -> None:
    """Remember one customer photo looked up in the catalogue (for the hit rate)."""
    if outcome not in PHOTO_OUTCOMES:
        raise ValueError(f"unknown photo lookup outcome {outcome!r}")
    async with db.sessions() as session, session.begin():
        session.add(
            PhotoLookup(
                conversation_id=conversation_id[:128],
                channel=channel[:20],
                outcome=outcome,
                top_score=top_score,
                product_id=product_id,
            )
        )
