"""The assistant's own rating question: which conversations end, which are asked, and only once.

Rasa-shaped events in the real tracker-store table (PostgreSQL and SQLite), the monitoring service's
BotCsat reading them, and a fake Rasa HTTP API recording the trigger_intent calls.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import select

from bot.monitoring.bot_csat import LATE, PUBLIC, RECENT, BotCsat
from bot.storage.bot_ratings import BotRatings, Rated
from bot.storage.models import BotSession, HandoffTicket, MonitorCursor

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
QUIET = dt.timedelta(minutes=30)
ASK = ("EXTERNAL_bot_csat_request", "latest")


def minutes(n: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=n)


def said(text: str, intent: str, when: dt.datetime, channel: str = "messenger") -> dict[str, Any]:
    return {
        "event": "user",
        "timestamp": when.timestamp(),
        "text": text,
        "input_channel": channel,
        "parse_data": {"text": text, "intent": {"name": intent, "confidence": 0.95}},
        "metadata": {},
    }


def bot(text: str, when: dt.datetime, **metadata: Any) -> dict[str, Any]:
    return {"event": "bot", "timestamp": when.timestamp(), "text": text, "data": {}, "metadata": metadata}


def event(kind: str, when: dt.datetime, **values: Any) -> dict[str, Any]:
    return {"event": kind, "timestamp": when.timestamp(), **values}


async def conversation(store_event, cid: str, *events: dict[str, Any]) -> None:
    for item in events:
        await store_event(cid, item)


async def store_hours_then(store_event, cid: str, *after: dict[str, Any], channel: str = "messenger") -> None:
    """The customer asks the store hours and the bot answers (at minute 0), then `after`."""
    await conversation(
        store_event,
        cid,
        event("session_started", minutes(-0.1)),
        said("what time do you open saturday", "store_info", minutes(0), channel),
        event("action", minutes(0), name="action_store_info"),
        bot("We're open 9-6 on Saturdays", minutes(0)),
        *after,
    )


async def sessions(database) -> list[BotSession]:
    async with database.sessions() as session:
        return list(await session.scalars(select(BotSession).order_by(BotSession.id)))


@pytest.fixture
def asker(database, rasa) -> BotCsat:
    return BotCsat(database, database, rasa, QUIET)


async def test_thanks_after_an_answer_ends_the_conversation_and_asks_once(
    database, rasa, fake_rasa, store_event
):
    thanks = said("perfect thanks!", "thank", minutes(1))
    await store_hours_then(store_event, "c1", thanks, bot("You're welcome!", minutes(1)))

    assert await BotCsat(database, database, rasa, QUIET).tick(minutes(1.1)) == 1
    assert fake_rasa.triggers == [("c1", *ASK)]
    [row] = await sessions(database)
    assert (row.state, row.end_reason, row.topic, row.channel) == (
        "ended",
        "thanks",
        "store_info",
        "messenger",
    )
    assert row.ended_at == minutes(1) and row.asked_at == minutes(1.1) and row.ask_sent_at is not None
    assert row.intents == "store_info,thank"

    # The question itself (an API-triggered intent) and later rounds, or a restarted service: nothing more.
    await store_event(
        "c1", said("EXTERNAL: EXTERNAL_bot_csat_request", "EXTERNAL_bot_csat_request", minutes(1.2))
    )
    await store_event("c1", event("action", minutes(1.2), name="action_ask_bot_csat"))
    assert await BotCsat(database, database, rasa, QUIET).tick(minutes(2)) == 0
    assert await BotCsat(database, database, rasa, QUIET).tick(minutes(90)) == 0
    assert fake_rasa.triggers == [("c1", *ASK)]


async def test_a_quiet_conversation_is_asked_once_after_the_configured_time(
    asker, fake_rasa, store_event, database
):
    await store_hours_then(store_event, "c1")
    assert await asker.tick(minutes(29)) == 0  # not quiet long enough yet
    assert [s.state for s in await sessions(database)] == ["open"]
    assert await asker.tick(minutes(30)) == 1
    assert await asker.tick(minutes(31)) == 0
    assert fake_rasa.triggers == [("c1", *ASK)]
    [row] = await sessions(database)
    assert (row.state, row.end_reason, row.ended_at) == ("ended", "quiet", minutes(30))


async def test_a_short_configured_quiet_time_is_honoured(database, rasa, fake_rasa, store_event):
    await store_hours_then(store_event, "c1")
    short = BotCsat(database, database, rasa, dt.timedelta(seconds=3))
    assert await short.tick(minutes(0) + dt.timedelta(seconds=2)) == 0
    assert await short.tick(minutes(0) + dt.timedelta(seconds=3)) == 1
    assert fake_rasa.triggers == [("c1", *ASK)]


@pytest.mark.parametrize(
    "after",
    [
        # a handoff, a pause (a mute or Meta's inbox taking over), a person answering in Meta's inbox
        [event("action", minutes(1), name="action_handoff")],
        [event("pause", minutes(1))],
        [bot("Hi, Jo here from the team", minutes(1), author="human_agent", source="meta_inbox")],
        # the customer wrote last: the bot has not answered yet
        [said("and on sunday?", "store_info", minutes(1))],
        # inside the order form: the customer stopped half way
        [
            said("where is my order", "order_status", minutes(1)),
            event("active_loop", minutes(1), name="order_form"),
            bot("What's the order number?", minutes(1)),
        ],
    ],
    ids=["handoff", "pause", "person", "customer-last", "in-form"],
)
async def test_conversations_that_were_not_the_bots_alone_are_never_asked(
    asker, fake_rasa, store_event, database, after
):
    await store_hours_then(store_event, "c1", *after)
    thanks = said("thx", "thank", minutes(2))
    if after[0]["event"] != "user":
        await store_event("c1", thanks)  # thanks after a person was involved ends nothing of the bot's
    assert await asker.tick(minutes(200)) == 0
    assert fake_rasa.triggers == []
    assert [s.asked_at for s in await sessions(database)] == [None]


async def test_small_talk_alone_is_no_conversation_to_rate(asker, fake_rasa, store_event):
    await conversation(
        store_event,
        "c1",
        said("hiya", "greet", minutes(0)),
        bot("Hi! How can I help?", minutes(0)),
        said("thanks", "thank", minutes(1)),
        bot("You're welcome!", minutes(1)),
    )
    assert await asker.tick(minutes(120)) == 0
    assert fake_rasa.triggers == []


async def test_a_customer_is_asked_at_most_once_a_day(asker, fake_rasa, store_event, database):
    await store_hours_then(store_event, "c1", said("ty", "thank", minutes(1)))
    assert await asker.tick(minutes(2)) == 1
    # Rasa's next session two hours later, about shipping, also ended with thanks: not asked again today.
    await conversation(
        store_event,
        "c1",
        event("session_started", minutes(120)),
        said("do you ship to ireland", "shipping_info", minutes(120)),
        bot("Yes, 3-5 days", minutes(120)),
        said("great thanks", "thank", minutes(121)),
    )
    assert await asker.tick(minutes(122)) == 0
    first, second = await sessions(database)
    assert (first.topic, second.topic) == ("store_info", "shipping_info")
    assert second.state == "ended" and second.not_asked == RECENT and second.asked_at is None
    # Someone else the same day is asked.
    await store_hours_then(store_event, "c2", said("cheers", "thank", minutes(122)))
    assert await asker.tick(minutes(123)) == 1
    assert fake_rasa.triggers == [("c1", *ASK), ("c2", *ASK)]


async def test_a_person_resolving_a_handoff_today_counts_as_asked(asker, fake_rasa, store_event, database):
    async with database.sessions() as session, session.begin():
        session.add(
            HandoffTicket(
                conversation_id="c1", channel="messenger", reason="customer_request", resolved_at=minutes(-60)
            )
        )
    await store_hours_then(store_event, "c1", said("ty", "thank", minutes(1)))
    assert await asker.tick(minutes(2)) == 0
    assert (await sessions(database))[0].not_asked == RECENT


async def test_public_channels_and_late_endings_are_not_asked(asker, fake_rasa, store_event, database):
    await store_hours_then(store_event, "rest-user", said("ty", "thank", minutes(1)), channel="rest")
    await store_hours_then(store_event, "c2")  # quiet for a day: the monitoring service was away
    assert await asker.tick(minutes(24 * 60)) == 0
    assert fake_rasa.triggers == []
    assert [s.not_asked for s in await sessions(database)] == [PUBLIC, LATE]


async def test_a_failed_trigger_is_retried_and_still_asks_once(asker, fake_rasa, store_event, database):
    fake_rasa.failing_triggers = 1
    await store_hours_then(store_event, "c1", said("ty", "thank", minutes(1)))
    assert await asker.tick(minutes(2)) == 0
    [row] = await sessions(database)
    assert row.asked_at == minutes(2) and row.ask_sent_at is None  # marked before Rasa was asked
    assert await asker.tick(minutes(3)) == 1
    assert await asker.tick(minutes(4)) == 0
    assert fake_rasa.triggers == [("c1", *ASK)]
    assert (await sessions(database))[0].ask_attempts == 2


async def test_a_restart_between_marking_and_triggering_asks_once(database, rasa, fake_rasa, store_event):
    await store_hours_then(store_event, "c1", said("ty", "thank", minutes(1)))
    first = BotCsat(database, database, rasa, QUIET)
    await first.sessions.catch_up()
    assert [conversation for _, conversation in await first.decide(minutes(2))] == ["c1"]  # then it died
    assert await BotCsat(database, database, rasa, QUIET).tick(minutes(3)) == 1
    assert await BotCsat(database, database, rasa, QUIET).tick(minutes(4)) == 0
    assert fake_rasa.triggers == [("c1", *ASK)]


async def test_a_trigger_retried_for_ten_minutes_at_most(asker, fake_rasa, store_event, database):
    fake_rasa.failing_triggers = 100
    await store_hours_then(store_event, "c1", said("ty", "thank", minutes(1)))
    for minute in (2, 3, 4, 5, 30):
        assert await asker.tick(minutes(minute)) == 0
    assert (await sessions(database))[0].ask_attempts == 3


async def test_a_rating_is_stored_once_on_the_asked_session(asker, store_event, database):
    ratings = BotRatings(database)
    assert await ratings.record("c1", 4) is Rated.NOT_ASKED
    await store_hours_then(store_event, "c1", said("ty", "thank", minutes(1)))
    await asker.tick(minutes(2))
    assert await ratings.record("c1", 4, now=minutes(3)) is Rated.STORED
    assert await ratings.record("c1", 1) is Rated.ALREADY
    [row] = await sessions(database)
    assert (row.score, row.rated_at) == (4, minutes(3))
    assert await ratings.latest_score("c1") == 4
    with pytest.raises(ValueError):
        await ratings.record("c1", 6)


async def test_reading_the_same_events_again_changes_nothing(database, rasa, store_event):
    await store_hours_then(store_event, "c1", said("ty", "thank", minutes(1)))
    reader = BotCsat(database, database, rasa, QUIET).sessions
    assert await reader.catch_up() == 4  # the session_started before the first message is no session
    before = [(s.id, s.last_event_id, s.intents) for s in await sessions(database)]
    async with database.sessions() as session, session.begin():  # a restart that lost its cursor
        await session.execute(MonitorCursor.__table__.delete())
    assert await BotCsat(database, database, rasa, QUIET).sessions.catch_up() == 0
    assert [(s.id, s.last_event_id, s.intents) for s in await sessions(database)] == before
