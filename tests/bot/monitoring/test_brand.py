"""Brand tracking's queries on PostgreSQL and SQLite, over a generated week whose answers are known.

The database fixtures (both backends) are the desk's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pytest

from bot.monitoring import analytics
from bot.monitoring.analytics import ANY_KEYWORD, DateRange
from bot.monitoring.config import BrandSettings, Keyword
from bot.storage.db import Database
from bot.storage.models import LoggedMessage

from .test_analytics import WEEK, at

BRAND = BrandSettings(
    keywords=(
        Keyword("Loom & Co", "own", ("Loom & Co", "loomandco", "@loomandco")),
        Keyword("Linen Shirt", "products", ("linen shirt",)),
        Keyword("Wrap Dress", "products", ("wrap dress",)),
        Keyword("North Knit", "competitors", ("North Knit", "@northknit")),
    )
)
MOODS = {"negative": -0.8, "neutral": 0.0, "positive": 0.6}
# (day, hour, minute, kind, channel, text, label[, score]); 1 March 2026 is a Sunday, day 2 a Monday.
BRAND_WEEK: list[tuple[Any, ...]] = [
    (1, 9, 0, "mention", "twitter", "@loomandco where is my linen shirt", "negative"),
    (2, 18, 0, "comment", "facebook", "Loom & Co wrap dresses are lovely", "positive"),
    (2, 18, 30, "comment", "instagram", "north knit > loomandco", "negative", -0.4),
    (2, 18, 45, "comment", "instagram", "my linen shirt and wrap dress from @loomandco", "neutral"),
    (3, 8, 0, "dm", "messenger", "my loomandco linen shirt shrank", "negative"),  # a DM: only with DMs
    (4, 12, 0, "mention", "twitter", "@northknit restock please", "neutral"),
    (4, 12, 10, "comment", "facebook", "nice photo", "positive"),  # public, no keyword
    (5, 20, 0, "mention", "twitter", "bloom and co, heirloom jumpers", "neutral"),  # parts of words only
    (0, 23, 59, "mention", "twitter", "@loomandco before the week", "negative"),
    (8, 0, 0, "mention", "twitter", "@loomandco after the week", "negative"),
]


def brand_message(n: int, row: tuple[Any, ...]) -> LoggedMessage:
    day, hour, minute, kind, channel, text, label, *score = row
    return LoggedMessage(
        source=f"brand:{n}",
        kind=kind,
        channel=channel,
        conversation_id=f"b{n}" if kind == "dm" else None,
        author=f"@fan{n}",
        text=text,
        sentiment_label=label,
        sentiment_score=score[0] if score else MOODS[label],
        at=at(day, hour, minute),
    )


async def add_brand_week(db: Database) -> None:
    async with db.sessions() as session, session.begin():
        session.add_all(brand_message(n, row) for n, row in enumerate(BRAND_WEEK))


@pytest.fixture
async def brand_week(database) -> Database:
    await add_brand_week(database)
    return database


async def test_mentions_per_keyword_and_group_per_day(brand_week):
    mentions = await analytics.brand_mentions(brand_week, WEEK, BRAND)
    assert mentions.bucket == "day" and len(mentions.buckets) == 7
    assert mentions.counts == {
        "Loom & Co": [1, 3, 0, 0, 0, 0, 0],
        "Linen Shirt": [1, 1, 0, 0, 0, 0, 0],
        "Wrap Dress": [0, 2, 0, 0, 0, 0, 0],
        "North Knit": [0, 1, 0, 1, 0, 0, 0],
    }
    # A post naming two products counts once in its group.
    assert mentions.groups == {
        "own": [1, 3, 0, 0, 0, 0, 0],
        "products": [1, 2, 0, 0, 0, 0, 0],
        "competitors": [0, 1, 0, 1, 0, 0, 0],
    }
    assert (mentions.total("own"), mentions.total("products"), mentions.total("competitors")) == (4, 3, 2)
    assert mentions.complete_from is None


async def test_a_short_range_is_counted_per_hour(brand_week):
    monday = DateRange(dt.date(2026, 3, 2), dt.date(2026, 3, 2))
    mentions = await analytics.brand_mentions(brand_week, monday, BRAND)
    assert mentions.bucket == "hour" and len(mentions.buckets) == 24
    assert mentions.counts["Loom & Co"][18] == 3 and sum(mentions.counts["Loom & Co"]) == 3
    assert mentions.buckets[18] == dt.datetime(2026, 3, 2, 18, tzinfo=dt.timezone.utc)


async def test_sentiment_per_keyword_and_group(brand_week):
    moods = await analytics.keyword_sentiment(brand_week, WEEK, BRAND)
    found = {m.name: (m.counts, m.total, m.mean) for m in moods.keywords}
    assert found["Loom & Co"] == (
        {"negative": 2, "neutral": 1, "positive": 1},
        4,
        pytest.approx((-0.8 + 0.6 - 0.4 + 0.0) / 4),
    )
    assert found["Linen Shirt"] == ({"negative": 1, "neutral": 1, "positive": 0}, 2, pytest.approx(-0.4))
    assert found["Wrap Dress"][2] == pytest.approx(0.3) and found["North Knit"][2] == pytest.approx(-0.2)
    products = next(m for m in moods.groups if m.name == "products")
    assert products.total == 3 and products.mean == pytest.approx((-0.8 + 0.6 + 0.0) / 3)
    header, rows = moods.table()
    assert header == ["group", "keyword", "mentions", "negative", "neutral", "positive", "mean_score"]
    assert rows[0] == ["own", "Loom & Co", 4, 2, 1, 1, -0.15]
    assert rows[-1] == ["competitors", ANY_KEYWORD, 2, 1, 1, 0, -0.2]


async def test_dms_count_only_when_asked(brand_week):
    with_dms = dataclasses.replace(BRAND, include_dms=True)
    mentions = await analytics.brand_mentions(brand_week, WEEK, with_dms)
    assert mentions.counts["Loom & Co"] == [1, 3, 1, 0, 0, 0, 0]
    assert mentions.counts["Linen Shirt"] == [1, 1, 1, 0, 0, 0, 0]


async def test_the_keywords_of_now_apply_to_the_past(brand_week):
    edited = BrandSettings(keywords=(Keyword("Bloom", "competitors", ("bloom",)),))
    mentions = await analytics.brand_mentions(brand_week, WEEK, edited)
    assert mentions.counts == {"Bloom": [0, 0, 0, 0, 1, 0, 0]}
    assert set(mentions.groups) == {"competitors"}


async def test_a_scan_stops_at_its_limit_and_says_from_when_it_counted(brand_week):
    found = await analytics.scan(brand_week, WEEK, BRAND, limit=3)  # the newest three public posts
    assert found.scanned == 3
    assert found.mentions.complete_from == at(4, 12, 0)
    assert found.mentions.counts["North Knit"] == [0, 0, 0, 1, 0, 0, 0]
    assert sum(found.mentions.counts["Loom & Co"]) == 0
    assert found.sentiment.complete_from == at(4, 12, 0)
    assert (await analytics.scan(brand_week, WEEK, BRAND, limit=7)).mentions.complete_from is None


async def test_nothing_tracked_or_nothing_said(brand_week):
    untracked = await analytics.scan(brand_week, WEEK, BrandSettings())
    assert untracked.scanned == 0 and untracked.mentions.counts == {} and untracked.sentiment.keywords == []
    quiet = DateRange(dt.date(2025, 1, 1), dt.date(2025, 1, 7))
    mentions = await analytics.brand_mentions(brand_week, quiet, BRAND)
    assert mentions.total("own") == 0 and mentions.counts["North Knit"] == [0] * 7


async def test_mentions_table(brand_week):
    header, rows = (await analytics.brand_mentions(brand_week, WEEK, BRAND)).table()
    assert header == ["bucket_start_utc", "group", "keyword", "mentions"]
    assert len(rows) == 7 * 4 + 7 * 3  # every keyword, then every group, per day
    assert rows[1] == ["2026-03-02", "own", "Loom & Co", 3]
    assert ["2026-03-02", "products", ANY_KEYWORD, 2] in rows


async def test_when_the_audience_is_active(brand_week):
    hours = await analytics.active_hours(brand_week, WEEK)
    assert hours.total == 7  # public posts in the week, with or without a keyword; no DMs
    monday, wednesday, thursday, sunday = hours.counts[0], hours.counts[2], hours.counts[3], hours.counts[6]
    assert (monday[18], wednesday[12], thursday[20], sunday[9]) == (3, 2, 1, 1)
    assert hours.busiest() == [("Mon", 18, 3), ("Wed", 12, 2), ("Thu", 20, 1)]
    header, rows = hours.table()
    assert header == ["weekday", "hour_utc", "public_items"] and len(rows) == 7 * 24
    assert rows[18] == ["Mon", 18, 3] and rows[6 * 24 + 9] == ["Sun", 9, 1]
    quiet = await analytics.active_hours(brand_week, DateRange(dt.date(2025, 1, 1), dt.date(2025, 1, 1)))
    assert quiet.total == 0 and quiet.busiest() == []
