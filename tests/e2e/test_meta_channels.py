"""Messenger and Instagram end to end: simulator → signed webhook → Rasa → Send API → simulator.

Everything over real HTTP: the simulator (bot/simulator, the fake Graph API that validates each
request as Meta does) delivers webhooks to the running Rasa server and records what our connectors send.
"""

from __future__ import annotations

import asyncio
import io
import random
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from PIL import Image
from sqlalchemy import select

from bench.logo_photos import busy
from bench.photo_queries import AUGMENTATIONS
from bot.catalog.demo_images import write_catalog_images
from bot.catalog.demo_logo import draw_logo, logo_in_scene
from bot.devtools.devstack import Stack
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import LogoSighting
from bot.storage.seed import load_yaml
from connectors.security import hub_signature

from .conftest import sim
from .customers import AMY, SAM, link

PAGE_ID = "100000000000001"
IG_ID = "17841400000000001"


def new_user() -> str:
    return str(2400000000000000 + uuid.uuid4().int % 10**12)


def replies(stack: Stack, platform: str, user: str, accepted: bool = True) -> list[dict]:
    """Messages (not sender actions) the connector sent to `user`, as Meta recorded them."""
    sends = sim(stack, "GET", "/_sim/sends", params={"platform": platform, "recipient": user})
    return [s for s in sends if "message" in s["body"] and s["accepted"] == accepted]


def wait_for_replies(stack: Stack, platform: str, user: str, count: int, timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = replies(stack, platform, user)
        if len(found) >= count:
            time.sleep(1.0)  # anything beyond `count` would arrive now: tests check the exact number
            return replies(stack, platform, user)
        time.sleep(0.3)
    raise AssertionError(
        f"{platform} user {user}: expected {count} replies, got {replies(stack, platform, user)}"
    )


def texts(sent: list[dict]) -> list[str]:
    return [s["body"]["message"].get("text", "") for s in sent]


def customer_says(stack: Stack, platform: str, user: str, **message: Any) -> dict:
    answer = sim(
        stack, "POST", "/_sim/customer_message", json={"platform": platform, "user_id": user, **message}
    )
    assert answer["status"] == 200, answer
    return answer


@pytest.mark.parametrize("platform", ["messenger", "instagram"])
def test_a_customer_asks_about_an_order(stack, platform):
    user = link(stack, platform, new_user(), AMY)  # the order is theirs: no second factor asked
    customer_says(stack, platform, user, text="hi where is my order #104523?")
    [reply] = wait_for_replies(stack, platform, user, 1)
    assert "104523" in reply["body"]["message"]["text"] and "Royal Mail" in reply["body"]["message"]["text"]
    assert reply["body"]["messaging_type"] == "RESPONSE"
    sent = [
        s["body"].get("sender_action", "message")
        for s in sim(stack, "GET", "/_sim/sends", params={"recipient": user})
    ]
    assert sent[0] == "mark_seen"  # typing_on only when the answer took over a second: then before it
    assert sent[1:] in (["message"], ["typing_on", "message"]), sent


def test_buttons_arrive_as_quick_replies_and_their_payload_is_understood(stack):
    user = link(stack, "messenger", new_user(), SAM)  # 101010 is Sam's
    customer_says(stack, "messenger", user, text="pls cancel order 101010")
    [confirm] = wait_for_replies(stack, "messenger", user, 1)
    quick = confirm["body"]["message"]["quick_replies"]
    assert [q["payload"] for q in quick] == ["/affirm", "/deny"]
    customer_says(stack, "messenger", user, text=quick[1]["title"], quick_reply_payload=quick[1]["payload"])
    assert "stays as it is" in texts(wait_for_replies(stack, "messenger", user, 2))[1]


def product_photo_jpeg(sku: str, seed: int) -> bytes:
    """A customer's photo of a catalogue product: its demo photo, cropped differently."""
    products = load_yaml("catalog.yml")["products"]  # the whole catalogue: photos are assigned in order
    with tempfile.TemporaryDirectory() as scratch:
        [path, *_] = write_catalog_images(products, Path(scratch))[sku]
        with Image.open(path) as image:
            changed = AUGMENTATIONS["crop"](image.convert("RGB"), random.Random(seed))
    buffer = io.BytesIO()
    changed.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def send_tote_photo(stack: Stack, platform: str, user: str) -> list[dict]:
    """The customer posts a changed photo of the Canvas Tote; the bot's two replies (text, card)."""
    upload = sim(
        stack,
        "POST",
        "/_sim/media",
        files={"file": ("tote.jpg", product_photo_jpeg("BAG-002", 3), "image/jpeg")},
    )
    customer_says(stack, platform, user, image_urls=[upload["url"]])
    return wait_for_replies(stack, platform, user, 2)


@pytest.mark.parametrize("platform", ["messenger", "instagram"])
def test_a_photo_of_a_product_gets_its_card(stack, platform):
    user = new_user()
    replies_sent = send_tote_photo(stack, platform, user)
    assert "Canvas Tote" in replies_sent[0]["body"]["message"]["text"]
    payload = replies_sent[1]["body"]["message"]["attachment"]["payload"]
    assert payload["template_type"] == "generic" and payload["elements"][0]["title"] == "Canvas Tote"
    # The product is remembered: a follow-up without naming it is about the tote.
    customer_says(stack, platform, user, text="do you have it in black?")
    assert "Canvas Tote" in texts(wait_for_replies(stack, platform, user, 3))[2]


def test_a_photo_that_cannot_be_downloaded_gets_a_friendly_reply(stack):
    user = new_user()
    png = (
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
        b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
    )
    upload = sim(stack, "POST", "/_sim/media", files={"file": ("dot.png", png, "image/png")})
    customer_says(stack, "messenger", user, image_urls=[upload["url"] + "-missing"])
    [reply] = wait_for_replies(stack, "messenger", user, 1)
    assert "couldn't open that photo" in reply["body"]["message"]["text"]


def batch(platform: str, messages: list[tuple[str, str]]) -> dict:
    """One webhook with several entries and messages, timestamps in the given order, shuffled in the body."""
    now = int(time.time() * 1000)
    account = PAGE_ID if platform == "messenger" else IG_ID
    items = [
        {
            "sender": {"id": user},
            "recipient": {"id": account},
            "timestamp": now + i * 10,
            "message": {"mid": f"m_{uuid.uuid4().hex}", "text": text},
        }
        for i, (user, text) in enumerate(messages)
    ]
    items.reverse()  # Meta does not promise order inside a batch; timestamps do
    half = len(items) // 2
    entries = [{"id": account, "time": now, "messaging": part} for part in (items[:half], items[half:])]
    return {"object": "page" if platform == "messenger" else "instagram", "entry": entries}


def test_a_batch_from_several_users_is_answered_in_order_per_user(stack):
    alice, bob = new_user(), new_user()
    body = batch(
        "messenger",
        [
            (alice, "hello"),
            (bob, "where is my order 103344"),
            (alice, "where is my order 104523"),
            (bob, "thanks"),
        ],
    )
    answer = sim(stack, "POST", "/_sim/webhook", json={"platform": "messenger", "body": body})
    assert answer["status"] == 200
    alice_texts = texts(wait_for_replies(stack, "messenger", alice, 2))
    bob_texts = texts(wait_for_replies(stack, "messenger", bob, 2))
    assert "104523" not in alice_texts[0] and "104523" in alice_texts[1]
    assert "103344" in bob_texts[0] and "103344" not in bob_texts[1]


def test_a_redelivered_batch_is_answered_once(stack):
    user = new_user()
    body = batch("instagram", [(user, "are you a bot?")])
    for _ in range(3):
        assert (
            sim(stack, "POST", "/_sim/webhook", json={"platform": "instagram", "body": body})["status"] == 200
        )
    assert len(wait_for_replies(stack, "instagram", user, 1)) == 1


def test_send_api_failing_twice_then_succeeding_delivers_exactly_one_reply(stack):
    user = new_user()
    sim(stack, "POST", "/_sim/fail", json={"status": 500, "count": 2, "recipient": user, "kind": "message"})
    customer_says(stack, "messenger", user, text="are you a real person?")
    assert len(wait_for_replies(stack, "messenger", user, 1)) == 1
    failed = replies(stack, "messenger", user, accepted=False)
    assert [f["status"] for f in failed] == [500, 500]


async def test_a_wrong_signature_is_refused_with_403(stack):
    body = b'{"object": "page", "entry": []}'
    url = f"{stack.rasa_url}/webhooks/messenger/webhook"
    async with aiohttp.ClientSession() as session:
        for signature in (None, hub_signature(body, "not-the-secret")):
            headers = {"Content-Type": "application/json"}
            if signature:
                headers["X-Hub-Signature-256"] = signature
            async with session.post(url, data=body, headers=headers) as response:
                assert response.status == 403
        async with session.get(
            url,
            params={"hub.mode": "subscribe", "hub.verify_token": "sim-verify-token", "hub.challenge": "42"},
        ) as response:
            assert (response.status, await response.text()) == (200, "42")


def answer_from_metas_inbox(stack: Stack, user: str, text: str) -> None:
    """A person on the Page answers in Meta's inbox: we get the echo of another app's message."""
    now = int(time.time() * 1000)
    echo = {
        "sender": {"id": PAGE_ID},
        "recipient": {"id": user},
        "timestamp": now,
        "message": {"mid": f"m_{uuid.uuid4().hex}", "is_echo": True, "app_id": 263902037430900, "text": text},
    }
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": now, "messaging": [echo]}]}
    assert sim(stack, "POST", "/_sim/webhook", json={"platform": "messenger", "body": body})["status"] == 200


def test_a_person_answering_in_metas_inbox_takes_over(stack):
    user = new_user()
    customer_says(stack, "messenger", user, text="hello")
    wait_for_replies(stack, "messenger", user, 1)
    answer_from_metas_inbox(stack, user, "Sam here!")
    time.sleep(2)
    customer_says(stack, "messenger", user, text="thanks Sam, where is order 104523?")
    time.sleep(3)
    assert len(replies(stack, "messenger", user)) == 1  # the bot stays quiet once a person took over
    tracker = stack.tracker(user)
    assert tracker["paused"] is True
    assert any(
        e["event"] == "bot" and e.get("metadata", {}).get("author") == "human_agent"
        for e in tracker["events"]
    )


def webhook_item(user: str, **content: Any) -> dict:
    return {
        "sender": {"id": user},
        "recipient": {"id": PAGE_ID},
        "timestamp": int(time.time() * 1000),
        **content,
    }


def post_items(stack: Stack, key: str, items: list[dict]) -> None:
    body = {"object": "page", "entry": [{"id": PAGE_ID, "time": int(time.time() * 1000), key: items}]}
    assert sim(stack, "POST", "/_sim/webhook", json={"platform": "messenger", "body": body})["status"] == 200


def tracker(stack: Stack, user: str) -> dict:
    return stack.tracker(user)


def test_standby_messages_are_recorded_not_answered(default_stack):
    user = new_user()
    text = "hello?? is anyone there"
    post_items(
        default_stack, "standby", [webhook_item(user, message={"mid": f"m_{uuid.uuid4().hex}", "text": text})]
    )
    deadline = time.monotonic() + 30
    while not [e for e in tracker(default_stack, user)["events"] if e["event"] == "user"]:
        assert time.monotonic() < deadline, "standby message never recorded"
        time.sleep(0.3)
    [event] = [e for e in tracker(default_stack, user)["events"] if e["event"] == "user"]
    assert event["text"] == text and event["parse_data"]["intent"]["name"]
    time.sleep(1)
    assert replies(default_stack, "messenger", user) == []


def test_thread_control_taken_and_passed_back(default_stack):
    user = new_user()
    control = {"previous_owner_app_id": "100000000000042", "new_owner_app_id": "263902037430900"}
    post_items(default_stack, "messaging", [webhook_item(user, take_thread_control=control)])
    time.sleep(2)
    assert tracker(default_stack, user)["paused"] is True
    back = {"previous_owner_app_id": "263902037430900", "new_owner_app_id": "100000000000042"}
    post_items(default_stack, "messaging", [webhook_item(user, pass_thread_control=back)])
    time.sleep(2)
    assert tracker(default_stack, user)["paused"] is False
    customer_says(default_stack, "messenger", user, text="hi again")
    assert len(wait_for_replies(default_stack, "messenger", user, 1)) == 1


def logos_seen(stack: Stack, conversation_id: str) -> list[tuple[str, bool, str | None]]:
    """The logo sightings the photo action stored for a conversation, from the stack's database."""

    async def read() -> list[tuple[str, bool, str | None]]:
        database = Database(Settings.from_env({k: v for k, v in stack.env.items() if v}).database_url)
        try:
            async with database.sessions() as session:
                rows = await session.execute(
                    select(LogoSighting.logo, LogoSighting.ours, LogoSighting.channel).where(
                        LogoSighting.conversation_id == conversation_id
                    )
                )
                return [tuple(row) for row in rows.all()]
        finally:
            await database.close()

    return asyncio.run(read())


def test_a_photo_showing_our_logo_is_answered_as_ours_and_recorded(stack):
    user = new_user()
    rng = random.Random(11)
    buffer = io.BytesIO()
    logo_in_scene(draw_logo(), busy((800, 600), rng), rng).save(buffer, "JPEG", quality=85)
    upload = sim(stack, "POST", "/_sim/media", files={"file": ("logo.jpg", buffer.getvalue(), "image/jpeg")})
    customer_says(stack, "messenger", user, image_urls=[upload["url"]])
    [reply] = wait_for_replies(stack, "messenger", user, 1)
    assert "I can see our logo" in reply["body"]["message"]["text"]
    assert logos_seen(stack, user) == [("Loom & Co", True, "messenger")]
