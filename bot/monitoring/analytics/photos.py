"""Customer photos: catalogue lookups by outcome and hit rate, and photos showing brand logos by sentiment.

Both are recorded by the photo action (bot/catalog/lookup_log.py).
"""

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
from bot.storage.models import LogoSighting, PhotoLookup

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


LOGO_MOODS = ("positive", "neutral", "negative", "unknown")


@dataclass(frozen=True)
class LogoPhotos:
    """Customer photos in the range showing each logo, by the sentiment of the message that carried them."""

    counts: dict[tuple[str, bool], dict[str, int]]  # (logo, ours) -> mood -> photos

    def ours(self) -> int:
        """Photos showing one of our own logos."""
        return sum(sum(moods.values()) for (_, ours), moods in self.counts.items() if ours)

    def table(self) -> Table:
        """One row per logo: photos in all, then per mood."""
        rows = [
            [
                logo,
                "ours" if ours else "other brand",
                sum(moods.values()),
                *(moods.get(m, 0) for m in LOGO_MOODS),
            ]
            for (logo, ours), moods in sorted(
                self.counts.items(), key=lambda item: (not item[0][1], item[0][0])
            )
        ]
        return ["logo", "whose", "photos", *LOGO_MOODS], rows


async def logo_photos(db: Database, period: DateRange) -> LogoPhotos:
    """Photos showing a logo (each photo of a conversation once per logo), by the message's sentiment."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(
                LogoSighting.logo,
                LogoSighting.ours,
                LogoSighting.sentiment_label,
                func.count(func.distinct(LogoSighting.conversation_id + " " + LogoSighting.photo_url)),
            )
            .where(within(LogoSighting.at, period))
            .group_by(LogoSighting.logo, LogoSighting.ours, LogoSighting.sentiment_label)
        )
        counts: dict[tuple[str, bool], dict[str, int]] = {}
        for logo, ours, label, count in rows.all():
            mood = label if label in LOGO_MOODS else "unknown"
            moods = counts.setdefault((logo, bool(ours)), {})
            moods[mood] = moods.get(mood, 0) + count
        return LogoPhotos(counts)
