"""Recording customer messages from Rasa's events and X mentions: all of them, once, resumably."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

from sqlalchemy import func, insert, select

from bot.conversations.tail import EVENTS
from bot.monitoring.config import ModerationSettings
from bot.monitoring.const import EVENTS_CURSOR, MENTIONS_CURSOR
from bot.monitoring.ingest import Recorder, from_event
from bot.monitoring.moderation import Moderation
from bot.monitoring.monitor import LEXICON
from bot.sentiment.scorer import Lexicon, SentimentScorer
from bot.storage.db import Database
from bot.storage.models import LoggedMessage, Mention, ModerationFlag, MonitorCursor

from .conftest import user_event

SCORER = SentimentScorer(Lexicon.load(LEXICON))
MODERATION = ModerationSettings(block_list=("idiot*",))


def recorder(database: Database, rasa: Any, trackers: Database | None = None) -> Recorder:
    """A recorder as the desk builds it (a fresh one is a restarted desk)."""
    moderation = Moderation(database, MODERATION, rasa)
    return Recorder(database, trackers or database, SCORER, rasa, moderation)


def x_dm(text: str, handle: str = "jo_shops", name: str = "Jo") -> dict[str, Any]:
    event = user_event(text, label="neutral", score=0.0, sender_name=name, sender_screen_name=handle)
    return {**event, "input_channel": "twitter"}


async def logged(database: Database) -> list[LoggedMessage]:
    async with database.sessions() as session:
        return list(await session.scalars(select(LoggedMessage).order_by(LoggedMessage.id)))


async def add_mention(database: Database, n: int, text: str, handle: str = "angry_al", **fields: Any) -> None:
    async with database.sessions() as session, session.begin():
        session.add(
            Mention(
                channel=fields.pop("channel", "twitter"),
                external_id=f"1790000000000000{n:03d}",
                author_id=f"44{n}",
                author_handle=handle,
                author_name=fields.pop("author_name", handle.title()),
                text=text,
                url=f"https://x.com/{handle}/status/1790000000000000{n:03d}",
                posted_at=dt.datetime(2026, 3, 4, 12, n % 60, tzinfo=dt.timezone.utc),
                **fields,
            )
        )


async def test_customer_messages_are_recorded_with_channel_intent_sentiment_and_author(
    database, store_event, down_rasa
):
    await store_event("psid-1", user_event("still no refund after 3 weeks"))
    await store_event("psid-1", {"event": "bot", "text": "Sorry about that", "metadata": {}})
    await store_event("psid-1", {"event": "action", "name": "action_listen"})
    await store_event(
        "psid-1", {**user_event("EXTERNAL: EXTERNAL_csat_request"), "metadata": {"is_external": True}}
    )
    await store_event("x-77", x_dm("do you ship to Dublin?"))
    assert await recorder(database, down_rasa).catch_up() == 2
    refund, dublin = await logged(database)
    assert (refund.kind, refund.channel, refund.conversation_id) == ("dm", "messenger", "psid-1")
    assert (refund.intent, refund.sentiment_label, refund.sentiment_score) == (
        "request_refund",
        "negative",
        -0.6,
    )
    assert refund.author is None and refund.text == "still no refund after 3 weeks"
    assert refund.source.startswith("event:") and abs(refund.at.timestamp() - time.time()) < 600
    assert (dublin.channel, dublin.author, dublin.sentiment_label) == ("twitter", "@jo_shops", "neutral")


async def test_nothing_is_recorded_twice_and_a_restart_resumes(database, store_event, down_rasa):
    for n in range(3):
        await store_event(f"psid-{n}", user_event(f"message {n}"))
    assert await recorder(database, down_rasa).catch_up() == 3
    assert await recorder(database, down_rasa).catch_up() == 0  # restarted: the cursor says where it was
    await store_event("psid-9", user_event("one more"))
    again = recorder(database, down_rasa)
    assert await again.catch_up() == 1
    assert [m.text for m in await logged(database)] == ["message 0", "message 1", "message 2", "one more"]
    async with database.sessions() as session:
        newest = await session.scalar(select(func.max(EVENTS.c.id)))
        assert await again.position(EVENTS_CURSOR) == newest
        assert await session.scalar(select(MonitorCursor.position).where(MonitorCursor.name == EVENTS_CURSOR))


async def test_two_desk_replicas_record_each_message_once_and_flag_it_once(database, store_event, down_rasa):
    for n in range(40):
        await store_event(f"psid-{n % 4}", user_event(f"you idiot number {n}", label="negative"))
    # Two replicas, each with its own engine (its own connections), reading at the same moment.
    other = Database(database.url)
    try:
        counts = await asyncio.gather(
            recorder(database, down_rasa).catch_up(), recorder(other, down_rasa).catch_up()
        )
    finally:
        await other.close()
    assert sum(counts) == 40
    messages = await logged(database)
    assert len(messages) == len({m.source for m in messages}) == 40
    async with database.sessions() as session:
        flags = list(
            await session.scalars(select(ModerationFlag).where(ModerationFlag.reason == "block_list"))
        )
    assert sorted(f.message_id for f in flags) == sorted(m.id for m in messages)


async def test_an_event_committed_late_with_a_lower_id_is_not_lost(database, store_event, down_rasa):
    # PostgreSQL hands out ids before commit: a slow transaction can commit id 5 after id 6 was read.
    async with database.engine.begin() as connection:
        await connection.execute(
            insert(EVENTS).values(
                id=1000,
                sender_id="a",
                type_name="user",
                timestamp=time.time(),
                data=json.dumps(user_event("first")),
            )
        )
    reader = recorder(database, down_rasa)
    assert await reader.catch_up() == 1
    async with database.engine.begin() as connection:
        await connection.execute(
            insert(EVENTS).values(
                id=990,
                sender_id="b",
                type_name="user",
                timestamp=time.time(),
                data=json.dumps(user_event("late")),
            )
        )
    assert await reader.catch_up() == 1
    assert [m.text for m in await logged(database)] == ["first", "late"]


async def test_mentions_are_scored_here_and_get_rasas_intent(database, rasa, fake_rasa):
    fake_rasa.intents = {"refund": "request_refund"}
    await add_mention(database, 1, "@loomandco 3 weeks and still no refund, never again 😡")
    await add_mention(database, 2, "@loomandco love the new linen shirts ❤️", handle="happy_hana")
    assert await recorder(database, rasa).catch_up() == 2
    angry, happy = await logged(database)
    assert (angry.kind, angry.channel, angry.author, angry.conversation_id) == (
        "mention",
        "twitter",
        "@angry_al",
        None,
    )
    assert angry.link == "https://x.com/angry_al/status/1790000000000000001"
    assert (
        angry.intent == "request_refund"
        and angry.sentiment_label == "negative"
        and angry.sentiment_score < -0.3
    )
    assert happy.sentiment_label == "positive" and happy.intent == "nlu_fallback"
    assert angry.at == dt.datetime(2026, 3, 4, 12, 1, tzinfo=dt.timezone.utc)
    assert await recorder(database, rasa).catch_up() == 0


async def test_comments_under_our_posts_are_recorded_as_comments(database, rasa, fake_rasa):
    await add_mention(
        database, 5, "where can I buy this?", "", channel="facebook", kind="comment", author_name="Jane Doe"
    )
    await add_mention(database, 6, "+1 for navy", "jane.knits", channel="instagram", kind="comment")

    assert await recorder(database, rasa).catch_up() == 2

    facebook, instagram = await logged(database)
    assert (facebook.kind, facebook.channel, instagram.kind, instagram.channel) == (
        "comment",
        "facebook",
        "comment",
        "instagram",
    )
    assert instagram.author == "@jane.knits" and facebook.author == "Jane Doe"  # Facebook: names, no handles


async def test_a_mention_takes_the_sentiment_rasa_gives_it(database, rasa, fake_rasa):
    """Rasa's learned model reads a complaint told as a story, which the lexicon scores neutral."""
    text = "@loomandco the wedding is tomorrow and the dress is sitting in your warehouse"
    assert SCORER.score(text).label != "negative"
    learned = {"label": "negative", "score": -0.81, "confidence": 0.88, "signals": ["sarcasm"]}
    fake_rasa.sentiments = {"wedding": learned}
    await add_mention(database, 4, text)
    assert await recorder(database, rasa).catch_up() == 1
    [message] = await logged(database)
    assert (message.sentiment_label, message.sentiment_score) == ("negative", -0.81)


async def test_mentions_are_recorded_without_an_intent_when_rasa_is_away(database, down_rasa):
    await add_mention(database, 3, "@loomandco you idiots lost my parcel")
    reader = recorder(database, down_rasa)
    assert await reader.catch_up() == 1
    [message] = await logged(database)
    assert message.intent is None and message.sentiment_label == "negative"
    assert await reader.position(MENTIONS_CURSOR) > 0
    async with database.sessions() as session:
        [flag] = list(await session.scalars(select(ModerationFlag)))
    assert (flag.conversation_id, flag.author, flag.reason) == ("443", "@angry_al", "block_list")


async def test_no_tracker_table_yet_is_not_an_error(database, tmp_path, down_rasa):
    empty = Database(f"sqlite:///{tmp_path}/tracker.db")  # Rasa has not started yet
    try:
        assert await recorder(database, down_rasa, trackers=empty).catch_up() == 0
    finally:
        await empty.close()


def test_button_payloads_are_recorded_as_what_the_customer_tapped():
    event = {**user_event("/affirm", label="neutral"), "metadata": {"title": "Yes, cancel it"}}
    assert from_event(1, "psid", event).text == "Yes, cancel it"
    assert from_event(2, "psid", {"event": "bot", "text": "hi"}) is None
    assert (
        from_event(3, "psid", {**user_event("hi"), "parse_data": {"sentiment": {"label": "weird"}}}).intent
        is None
    )
