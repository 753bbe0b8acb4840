"""The Messenger and Instagram webhook routes over real HTTP (runtime A)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import aiohttp
import pytest

from connectors import meta_output
from connectors.instagram import InstagramInput
from connectors.messenger import MessengerInput
from connectors.meta_input import ConnectorConfigError, MetaConfig
from connectors.metrics import value
from connectors.security import hub_signature

from .conftest import serve

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
CHANNELS = {"messenger": MessengerInput, "instagram": InstagramInput}


def fixture(platform: str, name: str) -> dict:
    return json.loads((FIXTURES / platform / f"{name}.json").read_text(encoding="utf-8"))


ANSWERED = [
    *[("messenger", name) for name in ("message__text", "message__quick_reply", "message__image")],
    *[
        ("messenger", name)
        for name in ("message__images_with_text", "message__like_sticker", "message__video")
    ],
    *[
        ("messenger", name)
        for name in ("message__other_sticker", "postback__button", "postback__get_started")
    ],
    ("messenger", "postback__get_started_with_referral"),
    *[("instagram", name) for name in ("message__text", "message__image", "message__story_mention")],
    *[
        ("instagram", name)
        for name in ("message__story_reply", "message__quick_reply", "postback__icebreaker")
    ],
]
NOT_ANSWERED = [
    *[("messenger", name) for name in ("message__echo_ours", "referral__m_me_link", "read__basic")],
    *[("messenger", name) for name in ("delivery__basic", "reaction__love", "standby__message")],
    *[("messenger", name) for name in ("handover__pass_thread_control", "handover__take_thread_control")],
    *[("messenger", name) for name in ("unknown__game_play", "message__echo_other_app")],
    *[("instagram", name) for name in ("message__echo", "message__deleted", "read__seen", "reaction__like")],
    ("instagram", "referral__ig_me_link"),
]


@pytest.fixture
async def channel(request):
    """A served channel for the platform given as the test's parameter."""
    async for served in serve(CHANNELS[request.param]):
        yield served


@pytest.mark.parametrize(("channel", "name"), ANSWERED, indirect=["channel"])
async def test_customer_messages_reach_the_assistant(channel, name):
    platform = channel.channel.name()
    status, body = await channel.post(fixture(platform, name))
    assert (status, body) == (200, "EVENT_RECEIVED")
    await channel.settle()
    [message] = channel.received
    assert message.input_channel == platform
    assert message.metadata["platform"] == platform
    assert message.text


@pytest.mark.parametrize(("channel", "name"), NOT_ANSWERED, indirect=["channel"])
async def test_other_events_are_acknowledged_and_not_answered(channel, name):
    platform = channel.channel.name()
    assert (await channel.post(fixture(platform, name)))[0] == 200
    await channel.settle()
    assert channel.received == []


async def test_image_urls_travel_in_metadata(messenger):
    await messenger.post(fixture("messenger", "message__images_with_text"))
    await messenger.settle()
    [message] = messenger.received
    assert message.text == "do you have this in black?"
    assert len(message.metadata["image_urls"]) == 2
    assert message.message_id == "m_img_2"


def sends(served) -> list[str]:
    """What reached the Graph API, in order: a sender action's name, or "message"."""
    return [r.get("sender_action", "message") for r in served.graph.requests]


def answering_after(seconds: float):
    """The assistant: one text reply, `seconds` after the message reached it."""

    async def answer(message) -> None:
        await asyncio.sleep(seconds)
        await message.output_channel.send_text_message(message.sender_id, "here you go")

    return answer


async def test_a_turn_without_an_answer_marks_the_message_seen_and_shows_no_typing(messenger, monkeypatch):
    monkeypatch.setattr(meta_output, "TYPING_AFTER", 5.0)  # a loaded machine's pauses are no answer's delay
    await messenger.post(fixture("messenger", "message__text"))
    await messenger.settle()  # the turn has ended, and with it its sender actions
    assert sends(messenger) == ["mark_seen"]
    assert messenger.graph.requests[0]["recipient"] == {"id": messenger.received[0].sender_id}


async def test_a_fast_answer_comes_after_seen_and_without_a_typing_bubble(monkeypatch):
    monkeypatch.setattr(meta_output, "TYPING_AFTER", 5.0)
    async for served in serve(MessengerInput, answer=answering_after(0.0)):
        await served.post(fixture("messenger", "message__text"))
        await served.settle()
        assert sends(served) == ["mark_seen", "message"]


async def test_a_slow_answer_shows_typing_first_as_a_separate_call(monkeypatch):
    monkeypatch.setattr(meta_output, "TYPING_AFTER", 0.05)
    async for served in serve(MessengerInput, answer=answering_after(0.5)):
        await served.post(fixture("messenger", "message__text"))
        await served.settle()
        assert sends(served) == ["mark_seen", "typing_on", "message"]
        assert all("message" not in r for r in served.graph.requests[:2])  # actions are calls of their own


async def test_batch_is_processed_per_user_in_timestamp_order(messenger):
    await messenger.post(fixture("messenger", "batch__two_users_out_of_order"))
    await messenger.settle()
    by_user: dict[str, list[str]] = {}
    for message in messenger.received:
        by_user.setdefault(message.sender_id, []).append(message.text)
    assert by_user == {
        "2401234567890123": ["where is my order 104523", "thanks"],
        "2409876543210987": ["hey"],
    }


async def test_a_redelivered_batch_is_answered_once(messenger):
    body = fixture("messenger", "batch__two_users_out_of_order")
    for _ in range(3):
        assert (await messenger.post(body))[0] == 200
    await messenger.settle()
    assert len(messenger.received) == 3


@pytest.mark.parametrize("signature", [None, "sha256=" + "0" * 64, "sha1=abc", "garbage"])
async def test_missing_or_wrong_signature_is_refused(messenger, signature):
    status, _ = await messenger.post(fixture("messenger", "message__text"), signature=signature)
    assert status == 403
    await messenger.settle()
    assert messenger.received == []


async def test_signature_is_checked_on_the_raw_bytes(messenger):
    """Re-serialising the JSON (other spacing) must not pass: Meta signs the bytes it sent."""
    raw = json.dumps(fixture("messenger", "message__text"), indent=1).encode()
    status, _ = await messenger.post(None, signature=hub_signature(raw + b" ", "test-app-secret"), raw=raw)
    assert status == 403


@pytest.mark.parametrize("name", ["not_json.txt", "wrong_object.json", "entry_not_list.json"])
async def test_malformed_bodies_get_400(messenger, name):
    raw = (FIXTURES / "malformed" / name).read_bytes()
    status, body = await messenger.post(None, raw=raw)
    assert status == 400 and "malformed" in body


async def test_a_malformed_item_is_left_out_and_the_batch_acknowledged(messenger):
    """An item without a sender is skipped (a 400 would make Meta retry the whole batch for hours)."""
    raw = (FIXTURES / "malformed" / "missing_sender.json").read_bytes()
    before = value("webhook_rejected", "messenger", "malformed_item")
    assert await messenger.post(None, raw=raw) == (200, "EVENT_RECEIVED")
    await messenger.settle()
    assert messenger.received == []
    assert value("webhook_rejected", "messenger", "malformed_item") == before + 1


async def test_verification_handshake(messenger):
    async with aiohttp.ClientSession() as session:
        good = {
            "hub.mode": "subscribe",
            "hub.verify_token": "test-verify-token",
            "hub.challenge": "1158201444",
        }
        async with session.get(f"{messenger.url}/webhook", params=good) as response:
            assert (response.status, await response.text()) == (200, "1158201444")
        for bad in ({**good, "hub.verify_token": "nope"}, {**good, "hub.mode": "unsubscribe"}, {}):
            async with session.get(f"{messenger.url}/webhook", params=bad) as response:
                assert response.status == 403


def test_missing_secrets_stop_start_up():
    with pytest.raises(ConnectorConfigError, match="META_APP_SECRET"):
        MessengerInput.from_credentials({"verify_token": "v", "page_access_token": "t"})
    with pytest.raises(ConnectorConfigError, match="META_PAGE_ACCESS_TOKEN"):
        MessengerInput.from_credentials({"app_secret": "s", "verify_token": "v", "page_access_token": ""})
    config = MetaConfig.from_credentials({"app_secret": "s", "verify_token": "v", "t": "x"}, "t", "T")
    assert config.graph_api_url.startswith("https://graph.facebook.com/v")
