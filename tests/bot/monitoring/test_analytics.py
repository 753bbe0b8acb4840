"""Analytics queries on PostgreSQL and SQLite, with generated data whose right answers are known.

The database fixtures (both backends, agents Ada, Bob and supervisor Sam) are the desk's.
"""

from __future__ import annotations

import datetime as dt
import statistics
from typing import Any

import pytest
from sqlalchemy import select

from bot.desk.analytics_pages import csv_text
from bot.monitoring import analytics
from bot.monitoring.analytics import DateRange, RangeError, percentile
from bot.storage.db import Database
from bot.storage.models import (
    AgentMessage,
    BotSession,
    HandoffTicket,
    LoggedMessage,
    LogoSighting,
    PhotoLookup,
)

UTC = dt.timezone.utc
WEEK = DateRange(dt.date(2026, 3, 1), dt.date(2026, 3, 7))
MINUTE = 60.0
BRAND_MENTIONS = [
    ("@loomandco my Linen Shirt arrived with a hole", "negative", -0.6),
    ("North Knit shipped faster than @loomandco tbh", "neutral", 0.0),
    ("Loom & Co chelsea boots are worth every penny", "positive", 0.6),
    ("anyone tried the oversized hoodies from loomandco?", "neutral", 0.0),
    ("thread & vale or north knit for knitwear?", "neutral", 0.0),
]


def at(day: int, hour: int = 12, minute: int = 0, second: int = 0) -> dt.datetime:
    """A moment in March 2026 (day 0 is the last day of February, day 8 the day after the week)."""
    return dt.datetime(2026, 3, 1, hour, minute, second, tzinfo=UTC) + dt.timedelta(days=day - 1)


def message(n: int, when: dt.datetime, channel: str = "messenger", **values: Any) -> LoggedMessage:
    defaults = {"kind": "dm", "conversation_id": f"c{n}", "intent": "order_status", "text": "hi"}
    return LoggedMessage(channel=channel, at=when, **({"source": f"event:{n}"} | defaults | values))


def ticket(conversation: str, created: dt.datetime, reason: str = "customer_request", **values: Any):
    # Closed, so that a desk showing this data (the browser test) has none of it in its queue.
    values = {"status": "resolved", **values}
    return HandoffTicket(
        conversation_id=conversation, channel="messenger", reason=reason, created_at=created, **values
    )


def bot_session(
    conversation: str,
    started: dt.datetime,
    topic: str,
    channel: str = "messenger",
    state: str = "ended",
    **values: Any,
) -> BotSession:
    """A session the bot handled (ended five minutes after it started, unless still open or handed)."""
    ended = started + dt.timedelta(minutes=5) if state == "ended" else None
    return BotSession(
        conversation_id=conversation,
        channel=channel,
        state=state,
        started_at=started,
        last_customer_at=started,
        topic=topic,
        ended_at=ended,
        **values,
    )


def logo_seen(
    conversation: str, url: str, logo: str, ours: bool, mood: str, when: dt.datetime
) -> LogoSighting:
    """A logo sighting as the photo action records it."""
    score = {"positive": 0.6, "negative": -0.6}.get(mood, 0.0)
    return LogoSighting(
        conversation_id=conversation,
        channel="instagram",
        photo_url=url,
        logo=logo,
        ours=ours,
        inliers=40,
        sentiment_label=mood,
        sentiment_score=score,
        at=when,
    )


async def generate(db: Database, staff: dict[str, Any], tag: str = "") -> dict[str, int]:
    """A week of activity (see each block for what it should give); returns ticket ids by name.

    `tag` prefixes every identifier, so the week can be added to a database that has other data.
    """
    ada, bob = staff["ada"].id, staff["bob"].id
    rows: list[Any] = []
    # 30 conversations in the week: 20 on Messenger, 10 on Instagram, two messages each (day 1 + day n).
    for n in range(30):
        channel = "messenger" if n < 20 else "instagram"
        day = 1 + n % 7
        # Every fifth conversation opens in Spanish; the rest of what they say is English.
        opening = {"sentiment_label": "neutral", "language": "es" if n % 5 == 0 else "en"}
        rows.append(message(n, at(1, 9), channel, source=f"event:{n}-a", **opening))
        later = {"intent": "request_refund", "language": "en"}
        rows.append(message(n, at(day, 15), channel, source=f"event:{n}-b", **later))
    # Outside the week: not counted anywhere (the range is [1 Mar 00:00, 8 Mar 00:00)).
    rows.append(message(100, at(0, 23, 59, 59), source="event:late-feb"))
    rows.append(message(101, at(8, 0, 0, 0), source="event:early-apr"))
    # 5 public mentions on X on day 2 (a Monday), 10:00 to 14:00: their own series, never a conversation.
    # They name keywords of monitoring.yml's `brand:` (one negative, one positive: day 2's mean stays 0).
    for n, (text, label, score) in enumerate(BRAND_MENTIONS):
        public = {"kind": "mention", "conversation_id": None, "intent": None, "text": text}
        mood = {"sentiment_label": label, "sentiment_score": score}
        rows.append(message(200 + n, at(2, 10 + n), "twitter", **public, **mood))
    # Sentiment on day 3: three negative, one positive (besides the neutral ones above).
    for n, (label, score) in enumerate([("negative", -0.6)] * 3 + [("positive", 0.8)]):
        mood = {"sentiment_label": label, "sentiment_score": score, "conversation_id": "c0"}
        rows.append(message(300 + n, at(3, 8), source=f"event:mood{n}", **mood))
    # Handoffs: 6 of the 30 conversations (4 Messenger, 2 Instagram) had a ticket in the week ...
    reasons = ["customer_request"] * 3 + ["negative_sentiment"] * 2 + ["repeated_fallback"]
    tickets = {
        f"t{n}": ticket(f"c{n}", at(2, 10), reason)
        for n, reason in zip([0, 1, 2, 3, 20, 21], reasons, strict=True)
    }
    # ... and one conversation's ticket is from before the week: it does not make it a handoff now.
    tickets["old"] = ticket("c4", at(0, 10))
    # First responses: Ada 1..5 minutes, Bob 10 and 20 minutes, one person in Meta's inbox 30 s.
    for i, minutes in enumerate([1, 2, 3, 4, 5]):
        answered = at(4) + dt.timedelta(minutes=minutes)
        tickets[f"ada{i}"] = ticket(f"x{i}", at(4), assignee_id=ada, first_response_at=answered)
    for i, minutes in enumerate([10, 20]):
        answered = at(5) + dt.timedelta(minutes=minutes)
        tickets[f"bob{i}"] = ticket(f"y{i}", at(5), assignee_id=bob, first_response_at=answered)
    tickets["inbox"] = ticket("z", at(5), first_response_at=at(5, 12, 0, 30), external_owner="meta_inbox")
    # Transferred to Bob after Ada answered first: the first response is Ada's.
    tickets["ada_first"] = ticket("w", at(6), assignee_id=bob, first_response_at=at(6, 12, 6))
    # Resolutions (resolve time from handoff) and ratings, one rating outside the week.
    resolved = {"ada0": (ada, 30, 5), "ada1": (ada, 60, 4), "ada2": (ada, 90, 5), "bob0": (bob, 120, 2)}
    for name, (who, minutes, score) in resolved.items():
        t = tickets[name]
        t.status, t.resolved_by = "resolved", who
        t.resolved_at = t.created_at + dt.timedelta(minutes=minutes)
        t.csat_score, t.csat_at = score, t.resolved_at + dt.timedelta(minutes=1)
    t = tickets["bob1"]
    t.status, t.resolved_by, t.resolved_at = "resolved", bob, at(8, 1)  # resolved after the week
    t.csat_score, t.csat_at = 1, at(8, 2)
    # Photo lookups: 5 confident, 3 several, 1 none, 1 unusable photo (hit rate 0.8); one before the week.
    outcomes = ["confident"] * 5 + ["several"] * 3 + ["none", "bad_image"]
    for n, outcome in enumerate(outcomes):
        rows.append(PhotoLookup(conversation_id=f"p{n}", channel="messenger", outcome=outcome, at=at(7)))
    rows.append(PhotoLookup(conversation_id="old", channel="messenger", outcome="none", at=at(0)))
    # Logos seen: our logo in 3 photos (2 with positive messages, one negative; one photo's sighting
    # recorded twice counts once), a competitor's in one, and our logo in one photo before the week.
    for n, (url, logo, ours, mood) in enumerate(
        [
            ("https://cdn.example/1.jpg", "Loom & Co", True, "positive"),
            ("https://cdn.example/1.jpg", "Loom & Co", True, "positive"),
            ("https://cdn.example/2.jpg", "Loom & Co", True, "positive"),
            ("https://cdn.example/3.jpg", "Loom & Co", True, "negative"),
            ("https://cdn.example/3.jpg", "North Knit", False, "negative"),
        ]
    ):
        conversation = "l0" if url.endswith("1.jpg") else f"l{n}"
        rows.append(logo_seen(conversation, url, logo, ours, mood, at(6)))
    rows.append(logo_seen("l9", "https://cdn.example/9.jpg", "Loom & Co", True, "positive", at(0)))
    # Bot sessions (verified containment, the assistant's own ratings): 9 started in the week, 4 held up.
    rows += [
        bot_session("b1", at(2, 10), "store_info", score=5, rated_at=at(2, 10, 6)),  # contained, rated 5
        bot_session("b2", at(2, 11), "order_status"),  # back about the same order the next day: not contained
        bot_session("b2", at(3, 9), "order_status"),  # that second session held up
        bot_session("b3", at(4), "return_item", "instagram", score=2, rated_at=at(4, 12, 6)),  # rated 2
        bot_session("b4", at(6, 20), "shipping_info"),  # handed to a person 29 hours later (after the week)
        bot_session("b5", at(3), "complaint", state="handed"),  # a person took over: not the bot's
        bot_session("b6", at(7), "order_status", state="open"),  # not ended (yet)
        bot_session("b8", at(2), "store_info", score=4, rated_at=at(2, 12, 6)),  # back, but about discounts
        bot_session("b8", at(3), "discount_inquiry"),
        bot_session("b7", at(0), "store_info", score=1, rated_at=at(0, 12, 6)),  # before the week
    ]
    tickets["b4"] = ticket("b4", at(8, 1))
    for row in [*rows, *tickets.values()]:
        if isinstance(row, LoggedMessage):
            row.source = tag + row.source
        if row.conversation_id is not None:
            row.conversation_id = tag + row.conversation_id
    async with db.sessions() as session, session.begin():
        session.add_all([*rows, *tickets.values()])
        await session.flush()
        replies = [("ada0", ada, 0), ("ada_first", ada, 6), ("ada_first", bob, 9), ("bob0", bob, 0)]
        for name, who, minutes in replies:
            t = tickets[name]
            session.add(
                AgentMessage(
                    ticket_id=t.id,
                    agent_id=who,
                    client_id=f"{tag}{name}-{who}",
                    text="hello",
                    status="sent",
                    created_at=t.created_at + dt.timedelta(minutes=minutes),
                )
            )
        return {name: t.id for name, t in tickets.items()}


@pytest.fixture
async def week(database, people) -> Database:
    """The generated week in the test database."""
    await generate(database, people)
    return database


async def test_volume_by_channel_per_day(week):
    volume = await analytics.volume(week, WEEK)
    assert volume.bucket == "day" and len(volume.buckets) == 7
    assert volume.buckets[0] == dt.datetime(2026, 3, 1, tzinfo=UTC)
    # Second messages fall on day 1 + n % 7; the four mood messages are on day 3.
    assert volume.counts["messenger"] == [20 + 3, 3, 3 + 4, 3, 3, 3, 2]
    assert volume.counts["instagram"] == [10 + 2, 2, 1, 1, 1, 1, 2]
    assert volume.counts["twitter mentions"] == [0, 5, 0, 0, 0, 0, 0]
    assert volume.total == 69


async def test_short_ranges_are_counted_per_hour(week):
    day = DateRange(dt.date(2026, 3, 3), dt.date(2026, 3, 3))
    volume = await analytics.volume(week, day)
    assert volume.bucket == "hour" and len(volume.buckets) == 24
    assert volume.buckets[8] == dt.datetime(2026, 3, 3, 8, tzinfo=UTC)
    assert volume.counts["messenger"][8] == 4 and volume.counts["messenger"][15] == 3
    assert sum(volume.counts["messenger"]) == 7 and sum(volume.counts["instagram"]) == 1


async def test_sentiment_over_time(week):
    mood = await analytics.sentiment(week, WEEK)
    assert [mood.counts[label][2] for label in ("negative", "neutral", "positive")] == [3, 4, 1]
    assert mood.mean[2] == pytest.approx((3 * -0.6 + 0.8) / 8)
    assert mood.mean[1] == pytest.approx(0.0)
    header, rows = mood.table()
    assert header[-1] == "mean_score"
    assert rows[2][:5] == ["2026-03-03", 8, 3, 4, 1] and rows[2][5] == pytest.approx(0.375)


async def test_top_intents(week):
    ranking = await analytics.top_intents(week, WEEK)
    assert ranking.items == [("order_status", 34), ("request_refund", 30)]  # mentions had none


async def test_containment_is_conversations_without_a_handoff_in_the_range(week):
    contained = await analytics.containment(week, WEEK)
    assert contained.by_channel == {"messenger": (20, 4), "instagram": (10, 2)}
    assert contained.conversations == 30 and contained.rate == pytest.approx(0.8)
    assert contained.table()[1][-1] == ["all", 30, 24, 6, 0.8]


async def test_handoff_rate_by_reason(week):
    handoffs = await analytics.handoffs(week, WEEK)
    assert handoffs.conversations == 30
    counts = dict(handoffs.reasons)
    # 6 in the week's conversations, plus the first-response tickets opened during the week.
    assert counts["negative_sentiment"] == 2 and counts["repeated_fallback"] == 1
    assert counts["customer_request"] == 3 + 5 + 2 + 1 + 1
    _, rows = handoffs.table()
    assert ["negative_sentiment", 2, 30, 0.0667] in rows


async def test_first_response_times_per_agent(week):
    timings = {t.agent: t for t in (await analytics.first_response(week, WEEK)).agents}
    assert set(timings) == {"Ada", "Bob", "outside the desk (meta_inbox)"}
    assert timings["Ada"].median == 3.5 * MINUTE  # 1, 2, 3, 4, 5 and 6 (the transferred ticket)
    assert timings["Ada"].p90 == pytest.approx(5.5 * MINUTE)
    assert timings["Bob"].median == 15 * MINUTE and timings["Bob"].p90 == pytest.approx(19 * MINUTE)
    assert timings["outside the desk (meta_inbox)"].seconds == [30.0]


async def test_resolution_times_per_agent(week):
    timings = {t.agent: t for t in (await analytics.resolution(week, WEEK)).agents}
    assert sorted(timings["Ada"].seconds) == [30 * MINUTE, 60 * MINUTE, 90 * MINUTE]
    assert timings["Ada"].median == 60 * MINUTE and timings["Ada"].p90 == pytest.approx(84 * MINUTE)
    assert timings["Bob"].seconds == [120 * MINUTE]  # his other resolve is after the week


async def test_csat_by_agent_and_people_versus_bot(week):
    ratings = await analytics.csat(week, WEEK)
    means = {r.group: r.mean for r in ratings.by_agent}
    assert means == {"Ada": pytest.approx(14 / 3), "Bob": 2.0}
    assert ratings.human.mean == 4.0 and len(ratings.human.scores) == 4
    assert sorted(ratings.bot.scores) == [2, 4, 5]  # the one before the week is not counted
    assert ratings.bot.mean == pytest.approx(11 / 3) and ratings.bot.distribution == [0, 1, 0, 1, 1]
    assert ratings.table()[1][-1] == ["handled_by", "bot", 3, 3.667, 0, 1, 0, 1, 1]


async def test_verified_containment_counts_only_what_held_up_for_48_hours(week):
    verified = await analytics.verified_containment(week, WEEK)
    messenger, instagram = verified.by_channel["messenger"], verified.by_channel["instagram"]
    assert (messenger.sessions, messenger.ended_alone, messenger.came_back, messenger.rated_low) == (
        8,
        6,
        2,
        0,
    )
    assert messenger.contained == 4  # b1, b2's second session, b8 and its second session
    assert (instagram.sessions, instagram.rated_low, instagram.contained) == (1, 1, 0)
    assert verified.rate == pytest.approx(4 / 9)
    assert verified.table()[1][-1] == ["all", 9, 7, 2, 1, 4, 0, 0.4444]
    # Seen from 4 March at noon: b8 (ended 2 March 12:05) and the second sessions of b2 and b8 (3 March)
    # held up so far, but their 48 hours are not over; b1 (ended 2 March 10:05) is past them.
    noon = dt.datetime(2026, 3, 4, 12, tzinfo=UTC)
    early = await analytics.verified_containment(week, WEEK, now=noon)
    assert early.all.awaiting == 3 and early.all.contained == 4


async def test_a_range_without_bot_sessions_has_no_verified_rate(week):
    quiet = DateRange(dt.date(2025, 1, 1), dt.date(2025, 1, 31))
    assert (await analytics.verified_containment(week, quiet)).rate is None


async def test_photo_hit_rate(week):
    photos = await analytics.photo_hits(week, WEEK)
    assert photos.counts == {"confident": 5, "several": 3, "none": 1, "bad_image": 1}
    assert photos.rate == pytest.approx(0.8)
    assert photos.table()[1][0] == ["confident", 5, 0.5]


async def test_photos_showing_a_logo_by_mood(week):
    logos = await analytics.logo_photos(week, WEEK)
    assert logos.ours() == 3
    header, rows = logos.table()
    assert header == ["logo", "whose", "photos", "positive", "neutral", "negative", "unknown"]
    assert rows == [["Loom & Co", "ours", 3, 2, 0, 1, 0], ["North Knit", "other brand", 1, 0, 0, 1, 0]]


async def test_an_empty_range_has_no_rates(week):
    quiet = DateRange(dt.date(2025, 1, 1), dt.date(2025, 1, 31))
    assert (await analytics.containment(week, quiet)).rate is None
    assert (await analytics.photo_hits(week, quiet)).rate is None
    assert (await analytics.volume(week, quiet)).total == 0
    assert (await analytics.logo_photos(week, quiet)).counts == {}
    assert (await analytics.first_response(week, quiet)).agents == []


async def test_photo_lookups_are_recorded(database):
    await analytics.record_photo_lookup(database, "psid-9", "instagram", "several", 0.71, 12)
    with pytest.raises(ValueError, match="unknown photo lookup outcome"):
        await analytics.record_photo_lookup(database, "psid-9", "instagram", "maybe")
    async with database.sessions() as session:
        [row] = list(await session.scalars(select(PhotoLookup)))
    assert (row.conversation_id, row.channel, row.outcome, row.top_score, row.product_id) == (
        "psid-9",
        "instagram",
        "several",
        pytest.approx(0.71),
        12,
    )
    assert row.at.tzinfo is not None


TODAY = dt.date(2026, 11, 26)


def test_the_default_range_is_the_last_seven_days():
    period = DateRange.parse(None, "", TODAY)
    assert (period.first, period.last, period.days, period.bucket) == (dt.date(2026, 11, 20), TODAY, 7, "day")
    assert period.start == dt.datetime(2026, 11, 20, tzinfo=UTC)
    assert period.end == dt.datetime(2026, 11, 27, tzinfo=UTC)


def test_two_days_are_hourly_three_are_daily():
    assert DateRange.parse("2026-11-25", "2026-11-26", TODAY).bucket == "hour"
    assert len(DateRange.parse("2026-11-25", "2026-11-26", TODAY).buckets()) == 48
    assert DateRange.parse("2026-11-24", "2026-11-26", TODAY).bucket == "day"


@pytest.mark.parametrize(
    ("first", "last", "message"),
    [
        ("yesterday", None, "'from' must be a date like 2026-11-26, not 'yesterday'"),
        (None, "2026-02-30", "'to' must be a date like"),
        ("2026-11-26", "2026-11-01", "'from' (2026-11-26) is after 'to' (2026-11-01)"),
    ],
)
def test_bad_ranges_say_what_is_wrong(first, last, message):
    with pytest.raises(RangeError, match=message.replace("(", r"\(").replace(")", r"\)")):
        DateRange.parse(first, last, TODAY)


def test_a_huge_range_is_capped():
    period = DateRange.parse("1990-01-01", "2026-11-26", TODAY)
    assert period.capped and period.days == analytics.MAX_DAYS and period.last == TODAY
    assert not DateRange.parse("2026-01-01", "2026-11-26", TODAY).capped


def test_percentiles_interpolate_between_ranks():
    assert percentile([5.0], 0.9) == 5.0
    assert percentile([1, 2, 3, 4, 5], 0.9) == pytest.approx(4.6)
    assert percentile([10, 20], 0.5) == 15
    assert percentile([3, 1, 2], 0) == 1 and percentile([3, 1, 2], 1) == 3
    assert percentile([4, 1, 3, 2], 0.5) == statistics.median([4, 1, 3, 2])
    with pytest.raises(ValueError):
        percentile([], 0.5)


@pytest.mark.parametrize("share", [-0.5, 1.5, 0.905])
def test_a_share_that_is_not_a_whole_percent_from_0_to_1_is_refused(share):
    """The hand-written version answered -0.5 with the largest value and 1.5 with an IndexError."""
    with pytest.raises(ValueError, match="whole percent"):
        percentile([1, 2, 3], share)


def test_csv_guards_text_that_a_spreadsheet_would_run():
    text = csv_text(
        ["intent", "messages", "mean"],
        [['=HYPERLINK("http://evil")', 3, -0.5], ["+1", 1, None], ["-2", 0, 0.25], ["@SUM(A1)", 2, 1.0]],
    )
    lines = text.split("\r\n")
    assert lines[0] == "intent,messages,mean"
    assert lines[1] == '"\'=HYPERLINK(""http://evil"")",3,-0.5'  # numbers stay numbers
    assert lines[2:5] == ["'+1,1,", "'-2,0,0.25", "'@SUM(A1),2,1.0"]
