"""What customers wrote: message volume by channel, sentiment over time, the top intents."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from bot.monitoring.analytics.periods import (
    DateRange,
    Table,
    as_bucket,
    bucket_of,
    stamp,
    within,
)
from bot.storage.db import Database
from bot.storage.models import LoggedMessage

TOP_INTENTS = 12
SENTIMENTS = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class Volume:
    """Customer messages per bucket and series (a channel; mentions are their own series)."""

    bucket: str
    buckets: list[dt.datetime]
    counts: dict[str, list[int]]

    @property
    def total(self) -> int:
        """All messages in the range."""
        return sum(sum(values) for values in self.counts.values())

    def table(self) -> Table:
        """One row per bucket and series."""
        rows = [
            [stamp(moment, self.bucket), series, values[i]]
            for series, values in sorted(self.counts.items())
            for i, moment in enumerate(self.buckets)
        ]
        return ["bucket_start_utc", "channel", "messages"], rows


def _series(kind: str, channel: str) -> str:
    return channel if kind == "dm" else f"{channel} mentions"


async def _by_bucket(db: Database, period: DateRange, keys: list[Any], values: list[Any]) -> list[Any]:
    """Customer messages grouped by bucket and `keys`: rows of (bucket index, *keys, *values)."""
    index = {moment: i for i, moment in enumerate(period.buckets())}
    async with db.sessions() as session:
        bucket = bucket_of(session, LoggedMessage.at, period.bucket).label("bucket")
        rows = await session.execute(
            select(bucket, *keys, *values).where(within(LoggedMessage.at, period)).group_by(bucket, *keys)
        )
        return [(index[as_bucket(moment)], *rest) for moment, *rest in rows]


async def volume(db: Database, period: DateRange) -> Volume:
    """Messages by channel over time."""
    buckets = period.buckets()
    counts: dict[str, list[int]] = {}
    keys = [LoggedMessage.kind, LoggedMessage.channel]
    for i, kind, channel, count in await _by_bucket(db, period, keys, [func.count()]):
        counts.setdefault(_series(kind, channel), [0] * len(buckets))[i] += count
    return Volume(period.bucket, buckets, counts)


@dataclass(frozen=True)
class Sentiment:
    """Messages per sentiment label per bucket, and the mean score (None where there were none)."""

    bucket: str
    buckets: list[dt.datetime]
    counts: dict[str, list[int]]  # label -> counts per bucket
    mean: list[float | None]

    def table(self) -> Table:
        """One row per bucket."""
        rows = []
        for i, moment in enumerate(self.buckets):
            total = sum(self.counts[label][i] for label in SENTIMENTS)
            shares = [round(self.counts[label][i] / total, 4) if total else None for label in SENTIMENTS]
            mean = None if self.mean[i] is None else round(self.mean[i], 4)
            rows.append([stamp(moment, self.bucket), total, *(self.counts[s][i] for s in SENTIMENTS)])
            rows[-1] += [*shares, mean]
        header = ["bucket_start_utc", "messages", *SENTIMENTS, *(f"{s}_share" for s in SENTIMENTS)]
        return [*header, "mean_score"], rows


async def sentiment(db: Database, period: DateRange) -> Sentiment:
    """Sentiment over time: counts per label and the mean score of each bucket."""
    buckets = period.buckets()
    counts = {label: [0] * len(buckets) for label in SENTIMENTS}
    sums = [0.0] * len(buckets)
    values = [func.count(), func.sum(LoggedMessage.sentiment_score)]
    for i, label, count, total in await _by_bucket(db, period, [LoggedMessage.sentiment_label], values):
        counts[label if label in counts else "neutral"][i] += count
        sums[i] += float(total or 0.0)
    sizes = [sum(counts[label][i] for label in SENTIMENTS) for i in range(len(buckets))]
    mean = [sums[i] / sizes[i] if sizes[i] else None for i in range(len(buckets))]
    return Sentiment(period.bucket, buckets, counts, mean)


@dataclass(frozen=True)
class Ranking:
    """Labels with a count each, largest first."""

    label: str
    items: list[tuple[str, int]]

    def table(self) -> Table:
        """One row per label."""
        return [self.label, "messages"], [[name, count] for name, count in self.items]


async def top_intents(db: Database, period: DateRange, limit: int = TOP_INTENTS) -> Ranking:
    """The most frequent intents of customer messages."""
    count = func.count().label("n")
    async with db.sessions() as session:
        rows = await session.execute(
            select(LoggedMessage.intent, count)
            .where(within(LoggedMessage.at, period), LoggedMessage.intent.is_not(None))
            .group_by(LoggedMessage.intent)
            .order_by(count.desc(), LoggedMessage.intent)
            .limit(limit)
        )
        return Ranking("intent", [(intent, n) for intent, n in rows])


UNKNOWN_LANGUAGE = "unknown"  # messages logged before languages were detected


async def languages(db: Database, period: DateRange) -> Ranking:
    """Customer messages by language, largest first (the trained language's share shows how many got help)."""
    count = func.count().label("n")
    async with db.sessions() as session:
        rows = await session.execute(
            select(LoggedMessage.language, count)
            .where(within(LoggedMessage.at, period))
            .group_by(LoggedMessage.language)
            .order_by(count.desc(), LoggedMessage.language)
        )
        return Ranking("language", [(language or UNKNOWN_LANGUAGE, n) for language, n in rows])
