"""Analytics for supervisors: what customers wrote, how they felt, what the bot and the people achieved.

One module per thing measured: `messages` (volume, sentiment, intents, languages), `conversations`
(containment, handoffs), `verified` (containment that held: no return about the topic in 48 h, no 1-2
rating), `agents` (response and resolution times, CSAT of the people and of the bot), `photos` (photo
lookups), `brand` (mentions of tracked keywords, their mood, when the audience is active); `periods` holds
the date ranges and time buckets they share. Results are small frozen dataclasses; `table()` gives the
rows the CSV export writes. The names below are what the desk's pages use; photo lookups are recorded
by bot/catalog/lookup_log.py.
"""

from __future__ import annotations

from bot.catalog.lookup_log import PHOTO_OUTCOMES, record_photo_lookup
from bot.monitoring.analytics.agents import (
    OUTSIDE_DESK,
    Csat,
    Rating,
    Timing,
    Timings,
    csat,
    first_response,
    resolution,
)
from bot.monitoring.analytics.brand import (
    ANY_KEYWORD,
    SCAN_LIMIT,
    WEEKDAYS,
    ActiveHours,
    BrandMentions,
    BrandScan,
    KeywordSentiment,
    Mood,
    active_hours,
    brand_mentions,
    keyword_sentiment,
    scan,
)
from bot.monitoring.analytics.conversations import Containment, Handoffs, containment, handoffs
from bot.monitoring.analytics.messages import (
    SENTIMENTS,
    TOP_INTENTS,
    Ranking,
    Sentiment,
    Volume,
    languages,
    sentiment,
    top_intents,
    volume,
)
from bot.monitoring.analytics.periods import (
    DEFAULT_DAYS,
    HOURLY_UP_TO_DAYS,
    MAX_DAYS,
    DateRange,
    RangeError,
    Table,
    percentile,
    within,
)
from bot.monitoring.analytics.photos import (
    LOGO_MOODS,
    PHOTO_HITS,
    LogoPhotos,
    PhotoHits,
    logo_photos,
    photo_hits,
)
from bot.monitoring.analytics.verified import Verdicts, VerifiedContainment, verified_containment

__all__ = [
    "ANY_KEYWORD",
    "DEFAULT_DAYS",
    "HOURLY_UP_TO_DAYS",
    "LOGO_MOODS",
    "MAX_DAYS",
    "OUTSIDE_DESK",
    "PHOTO_HITS",
    "PHOTO_OUTCOMES",
    "SCAN_LIMIT",
    "SENTIMENTS",
    "TOP_INTENTS",
    "WEEKDAYS",
    "ActiveHours",
    "BrandMentions",
    "BrandScan",
    "Containment",
    "Csat",
    "DateRange",
    "Handoffs",
    "KeywordSentiment",
    "LogoPhotos",
    "Mood",
    "PhotoHits",
    "RangeError",
    "Ranking",
    "Rating",
    "Sentiment",
    "Table",
    "Timing",
    "Timings",
    "Verdicts",
    "VerifiedContainment",
    "Volume",
    "active_hours",
    "brand_mentions",
    "containment",
    "csat",
    "first_response",
    "handoffs",
    "keyword_sentiment",
    "languages",
    "logo_photos",
    "percentile",
    "photo_hits",
    "record_photo_lookup",
    "resolution",
    "scan",
    "sentiment",
    "top_intents",
    "verified_containment",
    "volume",
    "within",
]
