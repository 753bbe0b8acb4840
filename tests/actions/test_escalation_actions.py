"""Escalation actions against the real database: the decision slots, tickets, moderation flags."""

from __future__ import annotations

import psycopg
from rasa_sdk import Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.escalation import ActionFlagAbuse, ActionHandoff, ActionUpdateSentiment
from bot.handoff.escalation import turns_since_handoff

from .conftest import texts


def user(text: str, intent: str, score: float, label: str, *signals: str) -> dict:
    sentiment = {"label": label, "score": score, "confidence": 0.9, "signals": list(signals)}
    return {"event": "user", "text": text, "parse_data": {"intent": {"name": intent}, "sentiment": sentiment}}


def in_language(event: dict, code: str, trained: bool = False) -> dict:
    """The event as the Rasa server stores it once the language component has read it."""
    event["parse_data"]["language"] = {"code": code, "confidence": 0.93, "trained": trained}
    return event


def tracker(events: list[dict], slots: dict | None = None, sender: str = "esc-user") -> Tracker:
    last = next(e for e in reversed(events) if e["event"] == "user")
    latest = {
        "text": last["text"],
        "intent": last["parse_data"]["intent"],
        "metadata": {"sender_name": "Jordan"},
        **({"language": last["parse_data"]["language"]} if "language" in last["parse_data"] else {}),
    }
    return Tracker(sender, slots or {}, latest, events, False, None, {}, "action_listen")


async def run(action, t: Tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return texts(dispatcher), events


def slots(events: list) -> dict:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_calm_conversation_does_not_escalate(seeded_db):
    _, events = await run(
        ActionUpdateSentiment(), tracker([user("where is my order", "order_status", 0.0, "neutral")])
    )
    assert slots(events) == {
        "sentiment_trend": 0.0,
        "escalate": False,
        "escalation_reason": None,
        "abusive": False,
        "has_photo": False,
    }


async def test_sustained_frustration_sets_the_escalation_slots(seeded_db):
    history = [
        user("where is my refund", "refund_status", -0.4, "negative", "money"),
        user("its been 3 weeks and still nothing", "refund_status", -0.6, "negative", "waiting"),
    ]
    _, events = await run(ActionUpdateSentiment(), tracker(history))
    assert slots(events)["escalate"] is True
    assert slots(events)["escalation_reason"] == "sustained_negative"
    assert slots(events)["sentiment_trend"] < -0.35


async def test_turns_restart_after_a_handoff():
    events = [user("a", "complaint", -0.9, "negative"), {"event": "action", "name": "action_handoff"}]
    events.append(user("b", "thank", 0.5, "positive"))
    assert [t.text for t in turns_since_handoff(events)] == ["b"]


async def test_the_desks_csat_request_is_not_a_customer_turn():
    external = {
        "event": "user",
        "text": "EXTERNAL: EXTERNAL_csat_request",
        "parse_data": {"intent": {"name": "EXTERNAL_csat_request"}},
        "metadata": {"is_external": True},
    }
    events = [user("a", "complaint", -0.9, "negative"), {"event": "resume"}, external]
    events.append(user("5", "rate_service", 0.0, "neutral"))
    assert [t.text for t in turns_since_handoff(events)] == ["5"]


async def test_handoff_opens_one_ticket_and_pauses(seeded_db):
    history = [user("this is the 3rd time, where is my money", "refund_status", -0.7, "negative", "money")]
    state = {"escalation_reason": "high_stakes_money", "sentiment_trend": -0.35}
    said, events = await run(ActionHandoff(), tracker(history, state))
    assert "ticket #" in said[0] and "person will reply" in said[0]
    assert events[-2:] == [ActionExecuted("action_listen"), ConversationPaused()]
    assert SlotSet("escalate", False) in events
    with psycopg.connect(seeded_db) as db:
        query = "SELECT reason, status, customer_name, priority, summary FROM handoff_tickets"
        query += " WHERE conversation_id = %s"
        row = db.execute(query, ("esc-user",)).fetchone()
    assert row[:3] == ("high_stakes_money", "open", "Jordan")
    assert row[3] > 80 and "where is my money" in row[4]
    said, _ = await run(ActionHandoff(), tracker(history, state))
    assert "already has this" in said[0]
    with psycopg.connect(seeded_db) as db:
        assert db.execute("SELECT count(*) FROM handoff_tickets").fetchone()[0] == 1


async def test_repeated_abuse_is_flagged(seeded_db):
    said, events = await run(ActionFlagAbuse(), tracker([user("shut up idiots", "insult", -0.8, "negative")]))
    assert "flagged" in said[0] and events == []
    with psycopg.connect(seeded_db) as db:
        assert db.execute("SELECT reason, text FROM moderation_flags").fetchall() == [
            ("repeated_abuse", "shut up idiots")
        ]


async def test_a_message_in_another_language_sets_the_escalation_slots(seeded_db):
    spanish = in_language(user("¿dónde está mi pedido? llevo semanas", "nlu_fallback", 0.0, "neutral"), "es")
    _, events = await run(ActionUpdateSentiment(), tracker([spanish]))
    assert (slots(events)["escalate"], slots(events)["escalation_reason"]) == (True, "language")


async def test_the_language_handoff_says_why_in_the_customers_language(seeded_db):
    spanish = in_language(user("¿dónde está mi pedido? llevo semanas", "nlu_fallback", 0.0, "neutral"), "es")
    said, events = await run(ActionHandoff(), tracker([spanish], {"escalation_reason": "language"}))
    assert len(said) == 1 and said[0].startswith("Por ahora solo puedo responder en inglés")
    assert events[-1] == ConversationPaused()
    with psycopg.connect(seeded_db) as db:
        query = "SELECT reason, status, language FROM handoff_tickets WHERE conversation_id = %s"
        assert db.execute(query, ("esc-user",)).fetchall() == [("language", "open", "es")]


async def test_a_language_without_a_translation_gets_english_naming_it(seeded_db):
    polish = in_language(user("gdzie jest moje zamówienie", "nlu_fallback", 0.0, "neutral"), "pl")
    said, _ = await run(ActionHandoff(), tracker([polish], {"escalation_reason": "language"}, sender="pl-1"))
    assert said == [
        "I can only answer in English for now, so I'm passing you to a colleague who speaks Polish. "
        "They'll reply right here; anything you add now goes straight to them."
    ]
    with psycopg.connect(seeded_db) as db:
        query = "SELECT reason, language FROM handoff_tickets WHERE conversation_id = %s"
        assert db.execute(query, ("pl-1",)).fetchall() == [("language", "pl")]


async def test_every_ticket_records_the_customers_language(seeded_db):
    english = in_language(user("I want a person", "request_human", 0.0, "neutral"), "en", trained=True)
    said, _ = await run(ActionHandoff(), tracker([english], {"escalation_reason": "customer_request"}))
    assert "ticket #" in said[0]
    with psycopg.connect(seeded_db) as db:
        assert db.execute("SELECT language FROM handoff_tickets").fetchall() == [("en",)]
