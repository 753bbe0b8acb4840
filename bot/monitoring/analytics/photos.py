"""Customer photos looked up in the catalogue: outcomes and hit rate (recorded: bot/catalog/lookup_log.py)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from bot.catalog.lookup_log import PHOTO_OUTCOMES
from bot.monitoring.analytics.periods import (
    DateRange,
    Table,
    within,
)
from bot.storage.db import Database
from bot.storage.models import PhotoLookup

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
