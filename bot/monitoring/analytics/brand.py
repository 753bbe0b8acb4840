"""Brand tracking: mentions of the tracked keywords over time and by mood, and when the audience is active.

Keywords (monitoring.yml's `brand:`) are matched here, in Python, over the range's messages
(bot/monitoring/keywords.py), not when messages are recorded: an edited list applies to the past too.
To stay bounded, a scan reads four columns of the kinds that count as mentions (public ones; DMs with
`include_dms`), only the first SEARCHED_CHARS characters of each text and at most `limit` messages, the
newest (counts before the oldest one read are then incomplete, and say so); rows are streamed in
batches and matched in a worker thread, so the event loop keeps serving. One scan gives both the
mentions over time and the moods. Active hours are counted by the database, over public items.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.monitoring.analytics.messages import SENTIMENTS
from bot.monitoring.analytics.periods import DateRange, Table, stamp, within
from bot.monitoring.config import BrandSettings, Keyword
from bot.monitoring.const import GROUPS, PUBLIC_KINDS, SEARCHED_CHARS
from bot.monitoring.keywords import KeywordTracker, tracker
from bot.storage.db import Database
from bot.storage.models import LoggedMessage

SCAN_LIMIT = 200_000  # messages read per scan at most: about 4 s (bench/brand_tracking.py: 1.3 s for 60,000)
SCAN_BATCH = 5_000
ANY_KEYWORD = "(any keyword)"  # the CSV's keyword cell of a group's total
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


@dataclass(frozen=True)
class BrandMentions:
    """Messages naming each keyword per bucket, and naming any keyword of each group (once each)."""

    bucket: str
    buckets: list[dt.datetime]
    keywords: tuple[Keyword, ...]
    counts: dict[str, list[int]]  # keyword name -> per bucket
    groups: dict[str, list[int]]  # group -> per bucket
    complete_from: dt.datetime | None = None  # set when the scan stopped at its limit: counts start here

    def total(self, group: str) -> int:
        """Messages in the range naming any keyword of `group`."""
        return sum(self.groups.get(group, ()))

    def table(self) -> Table:
        """One row per bucket and keyword, then per bucket and group (keyword: ANY_KEYWORD)."""
        rows = [
            [stamp(moment, self.bucket), k.group, k.name, self.counts[k.name][i]]
            for k in self.keywords
            for i, moment in enumerate(self.buckets)
        ]
        rows += [
            [stamp(moment, self.bucket), group, ANY_KEYWORD, self.groups[group][i]]
            for group in GROUPS
            if group in self.groups
            for i, moment in enumerate(self.buckets)
        ]
        return ["bucket_start_utc", "group", "keyword", "mentions"], rows


@dataclass
class Mood:
    """Messages naming a keyword (or any keyword of a group) by sentiment label, and their summed score."""

    name: str
    group: str
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SENTIMENTS, 0))
    score_sum: float = 0.0

    @property
    def total(self) -> int:
        """Every such message."""
        return sum(self.counts.values())

    @property
    def mean(self) -> float | None:
        """Their mean sentiment score (None without messages)."""
        return self.score_sum / self.total if self.total else None

    def row(self, keyword: str) -> list[Any]:
        """The CSV row: group, keyword, mentions, per label, mean score."""
        mean = None if self.mean is None else round(self.mean, 4)
        return [self.group, keyword, self.total, *(self.counts[s] for s in SENTIMENTS), mean]


@dataclass(frozen=True)
class KeywordSentiment:
    """Per keyword and per group, messages naming it by sentiment, and their mean score."""

    keywords: list[Mood]  # in configuration order
    groups: list[Mood]  # own, products, competitors (those with keywords)
    complete_from: dt.datetime | None = None

    def table(self) -> Table:
        """One row per keyword, then one per group (keyword: ANY_KEYWORD)."""
        rows = [m.row(m.name) for m in self.keywords] + [m.row(ANY_KEYWORD) for m in self.groups]
        return ["group", "keyword", "mentions", *SENTIMENTS, "mean_score"], rows


@dataclass(frozen=True)
class BrandScan:
    """One pass over a range's mentions: both analyses, and how many messages were read."""

    mentions: BrandMentions
    sentiment: KeywordSentiment
    scanned: int


class _Tally:
    """Counts as rows are matched (in a worker thread, one batch at a time)."""

    def __init__(self, period: DateRange, brand: KeywordTracker, limit: int) -> None:
        self.brand = brand
        self.limit = limit
        self.start = period.start
        self.step = dt.timedelta(hours=1) if period.bucket == "hour" else dt.timedelta(days=1)
        self.size = len(period.buckets())
        self.counts = {k.name: [0] * self.size for k in brand.keywords}
        groups = [g for g in GROUPS if g in brand.group_of.values()]
        self.groups = {g: [0] * self.size for g in groups}
        self.moods = {k.name: Mood(k.name, k.group) for k in brand.keywords}
        self.group_moods = {g: Mood(g, g) for g in groups}
        self.rows = 0
        self.oldest: dt.datetime | None = None
        self.more = False  # the range has messages beyond the limit

    def add(self, rows: Sequence[Any]) -> None:
        for at, label, score, text in rows:
            if self.rows == self.limit:
                self.more = True
                return
            self.rows += 1
            self.oldest = at
            names = self.brand.match(text or "")
            if not names:
                continue
            moment = at if at.tzinfo else at.replace(tzinfo=dt.timezone.utc)
            index = min(max(int((moment - self.start) / self.step), 0), self.size - 1)
            label = label if label in SENTIMENTS else "neutral"
            for name in names:
                self.counts[name][index] += 1
                self.moods[name].counts[label] += 1
                self.moods[name].score_sum += score or 0.0
            for group in {self.brand.group_of[name] for name in names}:
                self.groups[group][index] += 1
                self.group_moods[group].counts[label] += 1
                self.group_moods[group].score_sum += score or 0.0


async def scan(db: Database, period: DateRange, brand: BrandSettings, limit: int = SCAN_LIMIT) -> BrandScan:
    """Mentions of every tracked keyword in the range: per bucket, and by mood."""
    keywords = tracker(brand)
    tally = _Tally(period, keywords, limit)
    if keywords:
        query = (
            select(
                LoggedMessage.at,
                LoggedMessage.sentiment_label,
                LoggedMessage.sentiment_score,
                func.substr(LoggedMessage.text, 1, SEARCHED_CHARS),
            )
            .where(within(LoggedMessage.at, period), LoggedMessage.kind.in_(keywords.kinds))
            .order_by(LoggedMessage.at.desc(), LoggedMessage.id.desc())
            .limit(limit + 1)  # one more: whether there was more to read
            .execution_options(yield_per=SCAN_BATCH)
        )
        async with db.sessions() as session:
            result = await session.stream(query)
            async for batch in result.partitions(SCAN_BATCH):
                await asyncio.to_thread(tally.add, batch)
    capped = tally.oldest if tally.more else None
    mentions = BrandMentions(
        period.bucket, period.buckets(), keywords.keywords, tally.counts, tally.groups, capped
    )
    moods = KeywordSentiment(list(tally.moods.values()), list(tally.group_moods.values()), capped)
    return BrandScan(mentions, moods, tally.rows)


async def brand_mentions(db: Database, period: DateRange, brand: BrandSettings) -> BrandMentions:
    """Mentions of each tracked keyword over time, and of each group."""
    return (await scan(db, period, brand)).mentions


async def keyword_sentiment(db: Database, period: DateRange, brand: BrandSettings) -> KeywordSentiment:
    """How the messages naming each tracked keyword (and each group) felt."""
    return (await scan(db, period, brand)).sentiment


@dataclass(frozen=True)
class ActiveHours:
    """Public items per weekday (Monday first) and hour of the day, in UTC."""

    counts: list[list[int]]  # [weekday][hour]

    @property
    def total(self) -> int:
        """Every public item in the range."""
        return sum(map(sum, self.counts))

    def busiest(self, top: int = 3) -> list[tuple[str, int, int]]:
        """The busiest hours: (weekday, hour, items), busiest first (none without items)."""
        cells = [(d, h, n) for d, hours in enumerate(self.counts) for h, n in enumerate(hours) if n]
        cells.sort(key=lambda cell: -cell[2])  # stable: ties stay in week order
        return [(WEEKDAYS[d], h, n) for d, h, n in cells[:top]]

    def table(self) -> Table:
        """One row per weekday and hour."""
        rows = [[WEEKDAYS[d], h, self.counts[d][h]] for d in range(7) for h in range(24)]
        return ["weekday", "hour_utc", "public_items"], rows


def _weekday_and_hour(session: AsyncSession) -> tuple[Any, Any]:
    """SQL for the UTC weekday (Monday 1 .. Sunday 7, or Sunday 0 on SQLite) and hour of `at`."""
    if session.bind.dialect.name == "postgresql":
        utc = func.timezone("UTC", LoggedMessage.at)
        return func.extract("isodow", utc), func.extract("hour", utc)
    # SQLite keeps UTCDateTime as 'YYYY-MM-DD HH:MM:SS.ffffff' text in UTC.
    return func.strftime("%w", LoggedMessage.at), func.strftime("%H", LoggedMessage.at)


async def active_hours(db: Database, period: DateRange, kinds: Sequence[str] = PUBLIC_KINDS) -> ActiveHours:
    """When the audience writes in public: items per weekday and hour (UTC)."""
    counts = [[0] * 24 for _ in range(7)]
    async with db.sessions() as session:
        weekday, hour = _weekday_and_hour(session)
        rows = await session.execute(
            select(weekday, hour, func.count())
            .where(within(LoggedMessage.at, period), LoggedMessage.kind.in_(kinds))
            .group_by(weekday, hour)
        )
        for day, moment, count in rows:
            counts[(int(day) + 6) % 7][int(moment)] += count  # Monday (1) first; Sunday is 0 or 7
    return ActiveHours(counts)
