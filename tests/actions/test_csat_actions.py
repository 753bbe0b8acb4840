"""CSAT actions against the seeded PostgreSQL: the question, the rating stored once, the replies."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from actions.csat import ActionAskCsat, ActionRecordCsat, messages_since_question, parse_score
from actions.services import services
from bot.handoff.tickets import OPEN, RESOLVED
from bot.storage.models import HandoffTicket

from .conftest import rendered

CONVERSATION = "csat-user"
T0 = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.timezone.utc)
TAP_5 = '/rate_service{"csat_score":"5"}'


def user(text: str, intent: str = "rate_service") -> dict[str, Any]:
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}}}


def asked(*later: dict[str, Any]) -> list[dict[str, Any]]:
    """Events of a conversation where the desk just had the bot ask, then the customer's messages."""
    return [
        user("where is my refund", "refund_status"),
        {"event": "action", "name": "action_handoff"},
        {"event": "pause"},
        {"event": "resume"},
        user("EXTERNAL: EXTERNAL_csat_request", "EXTERNAL_csat_request"),
        {"event": "action", "name": "action_ask_csat"},
        *later,
    ]


def tracker(text: str, events: list[dict[str, Any]], score: str | None = None) -> Tracker:
    entities = [{"entity": "csat_score", "value": score}] if score is not None else []
    latest = {"text": text, "intent": {"name": "rate_service", "confidence": 1.0}, "entities": entities}
    events = [*events, user(text)]
    return Tracker(CONVERSATION, {"csat_score": score}, latest, events, False, None, {}, "action_listen")


async def rate(text: str, events: list[dict[str, Any]], score: str | None = None):
    dispatcher = CollectingDispatcher()
    result = await ActionRecordCsat().run(dispatcher, tracker(text, events, score), {})
    return rendered(dispatcher), result


async def add_ticket(status: str, resolved_hours: int | None = None, conversation: str = CONVERSATION) -> int:
    resolved_at = T0 + dt.timedelta(hours=resolved_hours) if resolved_hours is not None else None
    async with services().database.sessions() as session, session.begin():
        ticket = HandoffTicket(
            conversation_id=conversation,
            channel="messenger",
            reason="customer_request",
            status=status,
            resolved_at=resolved_at,
        )
        session.add(ticket)
        await session.flush()
        return ticket.id


async def stored() -> dict[int, int | None]:
    async with services().database.sessions() as session:
        rows = await session.execute(select(HandoffTicket.id, HandoffTicket.csat_score))
        return dict(rows.tuples().all())


CLEARED = [SlotSet("csat_score", None)]


async def test_the_question_has_buttons_1_to_5_in_order():
    dispatcher = CollectingDispatcher()
    events = await ActionAskCsat().run(dispatcher, tracker("", []), {})
    [message] = rendered(dispatcher)
    assert "How did we do" in message["text"] or "how did we do" in message["text"]
    assert [b["payload"] for b in message["buttons"]] == [
        f'/rate_service{{"csat_score":"{n}"}}' for n in range(1, 6)
    ]
    assert [b["title"][0] for b in message["buttons"]] == ["1", "2", "3", "4", "5"]
    assert events == CLEARED


async def test_a_tapped_rating_is_stored_on_the_latest_resolved_ticket(seeded_db):
    older = await add_ticket(RESOLVED, resolved_hours=1)
    latest = await add_ticket(RESOLVED, resolved_hours=3)
    other = await add_ticket(RESOLVED, resolved_hours=5, conversation="someone-else")
    messages, events = await rate(TAP_5, asked(), score="5")
    assert "5" in messages[0]["text"] and not messages[0]["buttons"]
    assert events == CLEARED
    assert await stored() == {older: None, latest: 5, other: None}


async def test_a_typed_rating_after_the_question_is_stored(seeded_db):
    ticket = await add_ticket(RESOLVED, resolved_hours=1)
    messages, _ = await rate("i'd give you a four", asked(), score="4")
    assert "4" in messages[0]["text"]
    assert await stored() == {ticket: 4}


async def test_a_typed_number_without_entity_is_read_from_the_text(seeded_db):
    ticket = await add_ticket(RESOLVED, resolved_hours=1)
    await rate("3/5", asked())  # spaCy may take "3/5" for a date; the text still says 3
    assert await stored() == {ticket: 3}


@pytest.mark.parametrize("score", ["1", "2"])
async def test_a_low_score_gets_an_apology_and_a_supervisor(seeded_db, score):
    ticket = await add_ticket(RESOLVED, resolved_hours=1)
    messages, events = await rate(score, asked(), score=score)
    assert "sorry" in messages[0]["text"] and "supervisor" in messages[0]["text"]
    assert events == CLEARED
    assert await stored() == {ticket: int(score)}


async def test_only_the_first_rating_counts(seeded_db):
    ticket = await add_ticket(RESOLVED, resolved_hours=1)
    await rate("2", asked(), score="2")
    messages, events = await rate(TAP_5, asked(user("2"), {"event": "action", "name": "action_record_csat"}))
    assert "already have your rating" in messages[0]["text"]
    assert events == CLEARED
    assert await stored() == {ticket: 2}


async def test_a_rating_without_a_resolved_ticket_gets_a_neutral_thanks(seeded_db):
    still_open = await add_ticket(OPEN)
    messages, events = await rate(TAP_5, asked(), score="5")
    assert messages[0]["text"].startswith("Thanks for the feedback")
    assert events == CLEARED
    assert await stored() == {still_open: None}


async def test_out_of_range_asks_again_once(seeded_db):
    ticket = await add_ticket(RESOLVED, resolved_hours=1)
    messages, events = await rate("10/10", asked(), score="10")
    assert "1 (poor) to 5 (great)" in messages[0]["text"] and len(messages[0]["buttons"]) == 5
    assert events == CLEARED
    retried = asked(user("10/10"), {"event": "action", "name": "action_record_csat"})
    messages, _ = await rate("6", retried, score="6")
    assert messages[0]["text"].startswith("No worries") and not messages[0]["buttons"]
    assert await stored() == {ticket: None}
    retried += [user("6"), {"event": "action", "name": "action_record_csat"}]
    await rate(TAP_5, retried, score="5")  # a tap is still welcome after giving up
    assert await stored() == {ticket: 5}


async def test_a_stray_number_nobody_asked_for_is_never_stored(seeded_db):
    ticket = await add_ticket(RESOLVED, resolved_hours=1)
    messages, events = await rate("4", [user("do u have the linen shirt", "product_availability")], score="4")
    assert "not sure what that number is for" in messages[0]["text"]
    assert events == CLEARED
    messages, _ = await rate("5 stars", [], score="5")
    assert messages[0]["text"].startswith("Thanks for the feedback")
    assert await stored() == {ticket: None}


async def test_a_typed_rating_long_after_the_question_is_not_stored(seeded_db):
    ticket = await add_ticket(RESOLVED, resolved_hours=1)
    later = [user("where is my order", "order_status"), user("ok", "affirm"), user("thanks", "thank")]
    messages, _ = await rate("4", asked(*later), score="4")
    assert "not sure what that number is for" in messages[0]["text"]
    assert await stored() == {ticket: None}
    await rate(TAP_5, asked(*later), score="5")  # a tap is unambiguous whenever it comes
    assert await stored() == {ticket: 5}


async def test_a_database_outage_is_a_polite_reply(seeded_db, monkeypatch):
    async def broken(*args: Any) -> None:
        raise OSError("connection refused")

    monkeypatch.setattr(services().handoff, "record_csat", broken)
    messages, events = await rate(TAP_5, asked(), score="5")
    assert "couldn't look that up" in messages[0]["text"] and events == []


@pytest.mark.parametrize(
    ("text", "entity", "score"),
    [
        ("5", "5", 5),
        ("five", "5", 5),
        ("FIVE stars", None, 5),
        ("4 stars", None, 4),
        ("i'd give you a 3", None, 3),
        ("3/5", None, 3),
        ("2 out of 5", None, 2),
        ("⭐⭐⭐⭐", None, 4),
        ("10/10", None, 10),
        ("it was fine", None, None),
        ("two", "two", 2),
    ],
)
def test_parse_score(text, entity, score):
    entities = [{"entity": "csat_score", "value": entity}] if entity else []
    assert parse_score(entities, text) == score


def test_messages_since_question():
    assert messages_since_question([user("4")]) is None
    assert messages_since_question(asked(user("4"))) == 1
    assert messages_since_question(asked(user("hi", "greet"), user("4"))) == 2
