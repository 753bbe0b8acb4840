"""The one parser of Rasa's events: customer messages, transcript lines, handoffs, "external"."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from bot.conversations.events import (
    Card,
    customer_message,
    is_external,
    since_handoff,
    taken_outside,
    to_line,
)

AT = 1_767_000_000.0


def user(text: str, intent: str | None = "greet", **metadata: Any) -> dict[str, Any]:
    return {
        "event": "user",
        "timestamp": AT,
        "text": text,
        "input_channel": "twitter",
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.9},
            "sentiment": {"label": "negative", "score": -0.5, "signals": ["still no"]},
        },
        "metadata": metadata,
    }


def bot(text: str, data: dict[str, Any] | None = None, **metadata: Any) -> dict[str, Any]:
    return {"event": "bot", "timestamp": AT, "text": text, "data": data or {}, "metadata": metadata}


CSAT = {  # as Rasa's trigger_intent stores it (UserUttered.create_external)
    "event": "user",
    "text": "EXTERNAL: EXTERNAL_csat_request",
    "parse_data": {"intent": {"name": "EXTERNAL_csat_request"}},
    "metadata": {"is_external": True},
}


def test_a_customer_message_with_everything_rasa_and_the_channel_knew():
    message = customer_message(user("/affirm", "affirm", title="Yes please", sender_screen_name="jo"))
    assert message is not None
    assert (message.text, message.shown_text, message.intent, message.intent_confidence) == (
        "/affirm",
        "Yes please",
        "affirm",
        0.9,
    )
    assert (message.sentiment_label, message.sentiment_score, message.signals) == (
        "negative",
        -0.5,
        ("still no",),
    )
    assert (message.input_channel, message.customer_label, message.external) == ("twitter", "@jo", False)
    assert message.at == dt.datetime.fromtimestamp(AT, dt.timezone.utc)


def test_a_photo_message_shows_its_caption_and_urls():
    message = customer_message(user("/share_photo", image_urls=["https://cdn/1.jpg", 3], caption="this?"))
    assert message.shown_text == "this?" and message.image_urls == ("https://cdn/1.jpg",)


def test_a_message_rasa_could_not_read_has_no_intent_nor_sentiment():
    message = customer_message({"event": "user", "text": None, "parse_data": {"sentiment": {"score": "bad"}}})
    assert (message.text, message.intent, message.sentiment_label, message.sentiment_score) == (
        "",
        None,
        None,
        None,
    )
    assert message.signals == () and message.input_channel is None and message.image_urls == ()


@pytest.mark.parametrize("kind", ["bot", "action", "slot", "session_started", "pause", None])
def test_only_user_events_are_customer_messages(kind):
    assert customer_message({"event": kind, "text": "hi"}) is None


@pytest.mark.parametrize(
    "event",
    [
        CSAT,
        {**user("EXTERNAL: EXTERNAL_csat_request", None)},  # the text alone
        {**user("hi", "EXTERNAL_csat_request")},  # the intent alone (escalation's old check)
        {**user("hi", is_external=True)},  # the metadata alone (monitoring's old check)
    ],
)
def test_every_mark_of_an_api_triggered_intent_makes_it_external(event):
    assert is_external(event) and customer_message(event).external


def test_what_a_customer_typed_is_not_external():
    assert not is_external(user("external: hello"))
    assert not is_external(user("hi", is_external=False))
    assert not is_external(bot("EXTERNAL: x"))


def test_since_handoff_starts_again_at_each_restart_handoff_or_resume():
    events = [
        user("a"),
        {"event": "action", "name": "action_handoff"},
        user("b"),
        {"event": "resume"},
        user("c"),
        CSAT,
        bot("thanks"),
        user("d"),
    ]
    assert [m.text for m in since_handoff(events)] == ["c", "d"]
    assert [m.text for m in since_handoff([user("x"), {"event": "session_started"}])] == []
    assert [m.text for m in since_handoff([user("x"), {"event": "restart"}, user("y")])] == ["y"]


def test_a_customer_line():
    line = to_line(7, user("where is my parcel", "where_is_my_order", image_urls=["https://cdn/p.jpg"]))
    assert (line.event_id, line.author, line.text, line.intent) == (
        7,
        "customer",
        "where is my parcel",
        "where_is_my_order",
    )
    assert (line.sentiment_label, line.sentiment_score, line.intent_confidence) == ("negative", -0.5, 0.9)
    assert line.image_urls == ("https://cdn/p.jpg",) and line.at.timestamp() == AT


def test_external_messages_still_show_in_the_transcript():
    assert to_line(1, CSAT).author == "customer"


def test_bot_lines_with_cards_options_and_images():
    data = {
        "elements": [
            {
                "title": "Linen shirt",
                "subtitle": "€49",
                "image_url": "https://cdn/s.jpg",
                "buttons": [{"type": "web_url", "url": "javascript:alert(1)"}],
                "default_action": {"url": "https://shop/s"},
            },
            {"subtitle": "no title: not a card"},
        ],
        "buttons": [{"title": "Yes"}, {"title": "No"}, {"payload": "/x"}],
        "image": "https://cdn/chart.png",
    }
    line = to_line(2, bot("Here you go", data))
    assert (line.author, line.text, line.agent_name) == ("bot", "Here you go", None)
    assert line.cards == (Card("Linen shirt", "€49", "https://cdn/s.jpg", "https://shop/s"),)
    assert line.options == ("Yes", "No") and line.image_urls == ("https://cdn/chart.png",)


def test_cards_of_a_generic_template_attachment_and_quick_replies():
    data = {
        "attachment": {"payload": {"elements": [{"title": "Tote", "buttons": [{"url": "https://shop/t"}]}]}},
        "quick_replies": [{"title": "More"}],
    }
    line = to_line(3, bot("", data))
    assert line.cards == (Card("Tote", "", None, "https://shop/t"),) and line.options == ("More",)


def test_who_said_a_bot_event():
    assert to_line(4, bot("On it", author="agent", agent_name="Ada")).author == "agent"
    assert to_line(4, bot("On it", author="agent", agent_name="Ada")).agent_name == "Ada"
    assert to_line(5, bot("Hi", author="human_agent", source="meta_inbox")).author == "outside"
    assert to_line(6, bot("Hi", author="nobody we know")).author == "bot"


@pytest.mark.parametrize("kind", ["action", "slot", "pause", "resume", "session_started"])
def test_events_nobody_said_are_no_lines(kind):
    assert to_line(1, {"event": kind, "timestamp": AT}) is None


def test_a_reply_from_metas_inbox_is_taken_outside():
    assert taken_outside(bot("Hi", author="human_agent", source="meta_inbox")) == "meta_inbox"
    assert taken_outside(bot("Hi", author="human_agent")) == "outside"
    assert taken_outside(bot("Hi", author="agent")) is None
    assert taken_outside(bot("Hi")) is None
    assert taken_outside(user("hi", author="human_agent")) is None


def test_a_line_as_json():
    line = to_line(9, bot("Hi", {"buttons": [{"title": "Ok"}]}, author="agent", agent_name="Ada"))
    assert line.as_json() == {
        "event_id": 9,
        "at": dt.datetime.fromtimestamp(AT, dt.timezone.utc).isoformat(),
        "author": "agent",
        "text": "Hi",
        "intent": None,
        "sentiment_label": None,
        "sentiment_score": None,
        "agent_name": "Ada",
        "image_urls": [],
        "cards": [],
        "options": ["Ok"],
        "language": None,
        "language_trained": True,
    }


def spanish(text: str = "¿dónde está mi pedido?") -> dict[str, Any]:
    event = user(text, "nlu_fallback")
    event["parse_data"]["language"] = {"code": "es", "confidence": 0.91, "trained": False}
    return event


def test_the_language_of_a_message_reaches_its_reading_and_its_transcript_line():
    message = customer_message(spanish())
    assert (message.language, message.language_trained) == ("es", False)
    line = to_line(3, spanish())
    assert (line.language, line.language_trained) == ("es", False)
    assert line.as_json()["language"] == "es" and line.as_json()["language_trained"] is False


def test_messages_parsed_before_languages_were_detected_have_none_and_count_as_trained():
    message = customer_message(user("where is my parcel"))
    assert (message.language, message.language_trained) == (None, True)
    assert to_line(1, user("hi")).language is None
