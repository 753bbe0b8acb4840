"""Recorded X Account Activity webhooks, each parsed into the events it must become (runtime A)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from connectors.x_events import (
    DirectMessage,
    Ignored,
    MalformedWebhook,
    Mention,
    OwnMessage,
    Unsupported,
    parse_webhook,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "twitter"
BRAND = "1500000000000000001"


def events(name: str):
    return parse_webhook(json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8")))


EXPECTED = {
    "direct_message__text": DirectMessage,
    "direct_message__photo": DirectMessage,
    "direct_message__own_echo": OwnMessage,
    "direct_message__quick_reply_response": DirectMessage,
    "direct_message__numbered_option": DirectMessage,
    "tweet_create__mention": Mention,
    "tweet_create__mention_with_photo": Mention,
    "tweet_create__mention_by_ourselves": Ignored,
    "tweet_create__without_mention": Ignored,
    "direct_message_indicate_typing__basic": Ignored,
    "favorite__basic": Ignored,
    "unknown__new_event_kind": Unsupported,
}


def test_every_fixture_has_an_expectation():
    assert {p.stem for p in FIXTURES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_becomes_its_event(name):
    [event] = events(name)
    assert type(event) is EXPECTED[name]
    assert event.for_user_id == BRAND


def test_direct_message_with_sender_profile():
    [dm] = events("direct_message__text")
    assert (dm.id, dm.sender_id, dm.text) == (
        "1330000000000000001",
        "3001969357",
        "hey wheres my order 104523??",
    )
    assert (dm.sender_name, dm.sender_screen_name) == ("Jordan Brinks", "jordanbrinks")
    assert dm.sender_picture == "https://pbs.twimg.com/profile_images/1/a_normal.jpg"
    assert dm.timestamp == 1764112800000 and dm.payload is None and dm.media_url is None


def test_photo_dm_keeps_the_media_url_and_drops_the_tco_link():
    [dm] = events("direct_message__photo")
    assert dm.media_url.startswith("https://ton.twitter.com/1.1/ton/data/dm/")
    assert dm.text == "do you have this in black?"


def test_quick_reply_response_payload():
    [dm] = events("direct_message__quick_reply_response")
    assert dm.payload == "/affirm"


def test_our_own_dm_comes_back_as_own_message():
    [echo] = events("direct_message__own_echo")
    assert echo.recipient_id == "3001969357"


def test_mention_has_author_text_time_and_link():
    [mention] = events("tweet_create__mention")
    assert mention.author_screen_name == "jordanbrinks"
    assert "still no refund" in mention.text
    assert mention.created_at.isoformat() == "2026-11-25T23:20:00+00:00"
    assert mention.url == "https://x.com/jordanbrinks/status/1861234567890123456"


@pytest.mark.parametrize(
    "body",
    [
        {"direct_message_events": []},
        [],
        {"for_user_id": BRAND, "direct_message_events": {"id": "1"}},
        {
            "for_user_id": BRAND,
            "direct_message_events": [{"type": "message_create", "id": "1", "message_create": {}}],
        },
        {"for_user_id": BRAND, "tweet_create_events": [{"text": "no id"}]},
    ],
)
def test_malformed_bodies_are_refused(body):
    with pytest.raises(MalformedWebhook):
        parse_webhook(body)
