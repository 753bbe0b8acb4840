"""Recorded Messenger and Instagram webhooks, each parsed into the event it must become (runtime A)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.meta_events import (
    Comment,
    CustomerMessage,
    Echo,
    Handover,
    Ignored,
    InstagramMention,
    MalformedWebhook,
    Standby,
    Unsupported,
    parse_webhook,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OBJECTS = {"messenger": "page", "instagram": "instagram"}


def events(platform: str, name: str):
    body = json.loads((FIXTURES / platform / f"{name}.json").read_text(encoding="utf-8"))
    return parse_webhook(platform, OBJECTS[platform], body)


AGENT_TEXT = "Hi, this is Sam from the Loom team, I'll sort this out for you."
STORY_REPLY = "omg need this dress, is it still in stock??"

# fixture -> (event type, kind or action, text the assistant reads)
EXPECTED = {
    ("messenger", "message__text"): (CustomerMessage, "text", "hi where is my order 104523?"),
    ("messenger", "message__quick_reply"): (CustomerMessage, "quick_reply", "/affirm"),
    ("messenger", "message__image"): (CustomerMessage, "image", "/share_photo"),
    ("messenger", "message__images_with_text"): (CustomerMessage, "image", "do you have this in black?"),
    ("messenger", "message__like_sticker"): (CustomerMessage, "like", "👍"),
    ("messenger", "message__other_sticker"): (CustomerMessage, "sticker", "/share_attachment"),
    ("messenger", "message__video"): (CustomerMessage, "attachment", "/share_attachment"),
    ("messenger", "message__echo_ours"): (Echo, None, "Hello 😊 How can I help today?"),
    ("messenger", "message__echo_other_app"): (Echo, None, AGENT_TEXT),
    ("messenger", "postback__get_started"): (CustomerMessage, "postback", "/greet"),
    ("messenger", "postback__get_started_with_referral"): (CustomerMessage, "postback", "/greet"),
    ("messenger", "postback__button"): (CustomerMessage, "postback", "/request_human"),
    ("messenger", "referral__m_me_link"): (Ignored, "referral", None),
    ("messenger", "read__basic"): (Ignored, "read", None),
    ("messenger", "delivery__basic"): (Ignored, "delivery", None),
    ("messenger", "reaction__love"): (Ignored, "reaction", None),
    ("messenger", "standby__message"): (Standby, None, None),
    ("messenger", "handover__pass_thread_control"): (Handover, "pass_thread_control", None),
    ("messenger", "handover__take_thread_control"): (Handover, "take_thread_control", None),
    ("messenger", "unknown__game_play"): (Unsupported, "game_play", None),
    ("instagram", "message__text"): (CustomerMessage, "text", "do u have the linen shirt in navy?"),
    ("instagram", "message__image"): (CustomerMessage, "image", "/share_photo"),
    ("instagram", "message__story_mention"): (CustomerMessage, "story_mention", "/story_mention"),
    ("instagram", "message__story_reply"): (CustomerMessage, "story_reply", STORY_REPLY),
    ("instagram", "message__quick_reply"): (CustomerMessage, "quick_reply", "/deny"),
    ("instagram", "message__echo"): (Echo, None, "Thanks for the mention! 🥰"),
    ("instagram", "message__deleted"): (Ignored, "deleted", None),
    ("instagram", "postback__icebreaker"): (CustomerMessage, "postback", "/order_status"),
    ("instagram", "read__seen"): (Ignored, "read", None),
    ("instagram", "reaction__like"): (Ignored, "reaction", None),
    ("instagram", "referral__ig_me_link"): (Ignored, "referral", None),
    # Public activity on our posts (`changes[]`): tests/connectors/test_public_items.py has the details.
    ("messenger", "feed__comment_with_photo"): (Comment, None, "Where can I buy this?"),
    ("messenger", "feed__reply_to_comment"): (Comment, None, "same question, is it in stock?"),
    ("messenger", "feed__own_comment"): (Ignored, "own_comment", None),
    ("messenger", "feed__comment_edited"): (Ignored, "feed_comment_edited", None),
    ("messenger", "feed__reaction"): (Ignored, "feed_reaction_add", None),
    ("instagram", "comments__comment"): (Comment, None, "Love this! Is it available in navy?"),
    ("instagram", "comments__reply"): (Comment, None, "+1 for navy"),
    ("instagram", "mentions__caption"): (InstagramMention, None, None),
}  # fmt: skip


def test_every_fixture_has_an_expectation():
    names = {(p.parent.name, p.stem) for p in FIXTURES.glob("*/*.json") if p.parent.name in OBJECTS}
    names.discard(("messenger", "batch__two_users_out_of_order"))
    assert names == set(EXPECTED)


@pytest.mark.parametrize(("platform", "name"), sorted(EXPECTED))
def test_fixture_becomes_its_event(platform, name):
    [event] = events(platform, name)
    event_type, kind, text = EXPECTED[(platform, name)]
    assert type(event) is event_type
    assert event.platform == platform
    if kind is not None:
        assert getattr(event, "kind", None) == kind or getattr(event, "action", None) == kind
    if text is not None:
        assert event.text == text


def test_text_message_details():
    [event] = events("messenger", "message__text")
    assert (event.sender_id, event.recipient_id) == ("2401234567890123", "100000000000001")
    assert event.mid == "m_text_1" and event.dedupe_key == "m_text_1"
    assert event.timestamp == 1764112800000


def test_images_are_handed_over_with_their_urls():
    [event] = events("messenger", "message__images_with_text")
    assert event.metadata["image_urls"] == [
        "https://scontent.xx.fbcdn.net/v/a.jpg",
        "https://scontent.xx.fbcdn.net/v/b.jpg",
    ]
    assert event.metadata["caption"] == "do you have this in black?"


def test_a_like_sticker_is_not_a_product_photo():
    [event] = events("messenger", "message__like_sticker")
    assert "image_urls" not in event.metadata
    assert event.metadata["sticker_id"] == "369239263222822"


def test_story_reply_and_mention_keep_the_story_link():
    [reply] = events("instagram", "message__story_reply")
    assert reply.metadata["story_id"] == "17999999999999999"
    [mention] = events("instagram", "message__story_mention")
    assert mention.metadata["story_url"].startswith("https://lookaside.fbsbx.com/")


def test_echo_belongs_to_the_customer_conversation():
    [echo] = events("messenger", "message__echo_other_app")
    assert echo.customer_id == "2401234567890123"
    assert echo.app_id == "263902037430900"


def test_standby_wraps_the_message():
    [event] = events("messenger", "standby__message")
    assert isinstance(event.inner, CustomerMessage)
    assert event.inner.text == "hello?? anyone there"


def test_handover_owners():
    [event] = events("messenger", "handover__pass_thread_control")
    assert (event.previous_owner_app_id, event.new_owner_app_id) == ("263902037430900", "100000000000042")


def test_get_started_keeps_the_referral():
    [event] = events("messenger", "postback__get_started_with_referral")
    assert event.metadata["referral"]["ref"] == "black-friday-ad"


def test_a_batch_yields_every_event_of_every_entry():
    batch = events("messenger", "batch__two_users_out_of_order")
    assert [getattr(e, "mid", None) for e in batch] == ["m_b_3", "m_b_2", "m_b_1", None]
    assert [type(e).__name__ for e in batch] == [
        "CustomerMessage",
        "CustomerMessage",
        "CustomerMessage",
        "Ignored",
    ]


@pytest.mark.parametrize(
    "name", ["wrong_object.json", "entry_not_list.json", "missing_sender.json", "not_an_object.json"]
)
def test_malformed_bodies_are_refused(name):
    body = json.loads((FIXTURES / "malformed" / name).read_text())
    with pytest.raises(MalformedWebhook):
        parse_webhook("messenger", "page", body)


def test_instagram_body_is_not_a_messenger_webhook():
    body = json.loads((FIXTURES / "instagram" / "message__text.json").read_text())
    with pytest.raises(MalformedWebhook):
        parse_webhook("messenger", "page", body)
