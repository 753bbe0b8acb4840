"""The assistant's own rating in the CSAT actions (seeded PostgreSQL): asked once, stored for the bot."""

from __future__ import annotations

import datetime as dt
from typing import Any

from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.csat import ActionAskBotCsat, latest_question
from actions.services import services
from bot.handoff.tickets import RESOLVED
from bot.storage.models import BotSession, HandoffTicket

from .conftest import rendered
from .test_csat_actions import CONVERSATION, TAP_5, rate, tracker, user

T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)
BOT_ASKED = [
    {"event": "session_started"},
    user("what time do you open saturday", "store_info"),
    {"event": "action", "name": "action_store_info"},
    user("thanks!", "thank"),
    user("EXTERNAL: EXTERNAL_bot_csat_request", "EXTERNAL_bot_csat_request"),
    {"event": "action", "name": "action_ask_bot_csat"},
]


async def ask(events: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Any]]:
    dispatcher = CollectingDispatcher()
    result = await ActionAskBotCsat().run(dispatcher, tracker("", events), {})
    return rendered(dispatcher), result


async def asked_session(conversation: str = CONVERSATION) -> int:
    """A bot session the monitoring service marked asked."""
    async with services().database.sessions() as session, session.begin():
        row = BotSession(
            conversation_id=conversation,
            channel="messenger",
            state="ended",
            started_at=T0,
            last_customer_at=T0,
            topic="store_info",
            asked_at=T0 + dt.timedelta(minutes=1),
        )
        session.add(row)
        await session.flush()
        return row.id


async def bot_scores() -> dict[int, int | None]:
    async with services().database.sessions() as session:
        return dict((await session.execute(select(BotSession.id, BotSession.score))).tuples().all())


async def test_the_assistant_asks_how_it_did_with_the_same_buttons():
    [message], events = await ask(BOT_ASKED[:-1])
    assert "How did I do" in message["text"] or "how did I do" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == [
        f'/rate_service{{"csat_score":"{n}"}}' for n in range(1, 6)
    ]
    assert events == [SlotSet("csat_score", None)]


async def test_a_second_trigger_in_the_same_session_says_nothing_but_a_new_session_is_asked():
    retried = [*BOT_ASKED, user("EXTERNAL: EXTERNAL_bot_csat_request", "EXTERNAL_bot_csat_request")]
    assert await ask(retried) == ([], [])
    [message], _ = await ask([*BOT_ASKED, {"event": "session_started"}, user("hi", "greet")])
    assert message["buttons"]


async def test_a_tap_after_the_assistants_question_is_stored_for_the_bot_not_on_a_ticket(seeded_db):
    async with services().database.sessions() as session, session.begin():
        ticket = HandoffTicket(
            conversation_id=CONVERSATION, channel="messenger", reason="customer_request", status=RESOLVED
        )
        ticket.resolved_at = T0
        session.add(ticket)
    bot_session = await asked_session()
    messages, _ = await rate(TAP_5.replace("5", "4"), BOT_ASKED, score="4")
    assert "4" in messages[0]["text"]
    assert await bot_scores() == {bot_session: 4}
    async with services().database.sessions() as session:
        assert await session.scalar(select(HandoffTicket.csat_score)) is None
    again, _ = await rate(TAP_5, [*BOT_ASKED, user("4"), {"event": "action", "name": "action_record_csat"}])
    assert "already have your rating" in again[0]["text"]
    assert await bot_scores() == {bot_session: 4}


async def test_a_low_rating_of_the_assistant_is_apologised_for(seeded_db):
    bot_session = await asked_session()
    messages, _ = await rate("2", BOT_ASKED, score="2")
    assert "sorry" in messages[0]["text"]
    assert await bot_scores() == {bot_session: 2}


async def test_a_rating_after_a_question_the_monitoring_service_did_not_mark_is_thanked_not_stored(seeded_db):
    messages, _ = await rate(TAP_5, BOT_ASKED, score="5")
    assert messages[0]["text"].startswith("Thanks for the feedback")
    assert await bot_scores() == {}


def test_the_latest_question_decides_whose_rating_it_is():
    people = [{"event": "action", "name": "action_ask_csat"}]
    assert latest_question(BOT_ASKED) == "action_ask_bot_csat"
    assert latest_question([*BOT_ASKED, *people]) == "action_ask_csat"
    assert latest_question([user("hi", "greet")]) is None
