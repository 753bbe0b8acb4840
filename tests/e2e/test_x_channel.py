"""X end to end: simulator → signed Account Activity webhook → Rasa → DM API (OAuth 1.0a) → simulator.

The simulator checks every call's OAuth 1.0a signature and shape as X does, and sends the echo of each
DM we send back to our webhook, as the Account Activity API does.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.devtools.devstack import Stack
from bot.settings import Settings
from bot.storage.db import create_sync_engine
from bot.storage.models import Mention
from connectors.security import x_signature

from .conftest import sim
from .customers import AMY, SAM, link
from .test_meta_channels import product_photo_jpeg

BRAND = "1500000000000000001"


def new_user() -> str:
    return str(3000000000 + uuid.uuid4().int % 10**9)


def dms(stack: Stack, user: str, accepted: bool = True) -> list[dict]:
    sends = sim(stack, "GET", "/_sim/sends", params={"platform": "twitter", "recipient": user})
    return [s for s in sends if "text" in (s.get("body") or {}) and s["accepted"] == accepted]


def wait_for_dms(stack: Stack, user: str, count: int, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(dms(stack, user)) >= count:
            time.sleep(1.5)  # echoes and anything extra arrive now: tests check the exact number
            return [s["body"]["text"] for s in dms(stack, user)]
        time.sleep(0.3)
    raise AssertionError(f"expected {count} DMs to {user}, got {dms(stack, user)}")


def customer_dm(stack: Stack, user: str, **message: Any) -> dict:
    answer = sim(
        stack, "POST", "/_sim/customer_message", json={"platform": "twitter", "user_id": user, **message}
    )
    assert answer["status"] == 200, answer
    return answer


def test_a_dm_is_answered_once_despite_our_echo(stack):
    user = link(stack, "twitter", new_user(), AMY)  # the order is theirs: no second factor asked
    customer_dm(stack, user, text="hi, where is my order 104523?", name="Amy", screen_name="amy_c")
    [reply] = wait_for_dms(stack, user, 1)
    assert "104523" in reply and "Royal Mail" in reply


def test_options_are_numbered_and_a_typed_number_picks_one(stack):
    user = link(stack, "twitter", new_user(), SAM)  # 101010 is Sam's
    customer_dm(stack, user, text="please cancel order 101010")
    [confirm] = wait_for_dms(stack, user, 1)
    assert "1. Yes, cancel it" in confirm and "2. No, keep it" in confirm
    customer_dm(stack, user, text="2")
    assert "stays as it is" in wait_for_dms(stack, user, 2)[1]


def test_a_quick_reply_response_carries_its_payload(stack):
    user = new_user()
    customer_dm(stack, user, text="Talk to a person", quick_reply_payload="/request_human")
    assert "ticket #" in wait_for_dms(stack, user, 1)[0]


def test_a_photo_dm_is_fetched_signed_and_gets_the_product(stack):
    user = new_user()
    upload = sim(
        stack,
        "POST",
        "/_sim/media",
        files={"file": ("tote.jpg", product_photo_jpeg("BAG-002", 3), "image/jpeg")},
    )
    event_id = customer_dm(stack, user, image_urls=[upload["url"]])["mid"]
    reply = wait_for_dms(stack, user, 1)[0]  # X shows the card as text with the link
    assert "Canvas Tote" in reply, reply
    # X serves DM media only to OAuth-signed requests (the fake answers any other with a 401).
    sends = sim(stack, "GET", "/_sim/sends", params={"platform": "twitter"})
    downloads = [s["status"] for s in sends if f"/ton/data/dm/{event_id}/" in (s["endpoint"] or "")]
    assert downloads == [200]  # one download, signed


def test_a_redelivered_dm_is_answered_once(stack):
    user = new_user()
    first = customer_dm(stack, user, text="are you a bot?")
    for _ in range(2):
        assert (
            sim(stack, "POST", "/_sim/webhook", json={"platform": "twitter", "body": first["webhook"]})[
                "status"
            ]
            == 200
        )
    assert len(wait_for_dms(stack, user, 1)) == 1


def test_rate_limited_send_waits_and_delivers_once(stack):
    user = new_user()
    sim(
        stack,
        "POST",
        "/_sim/fail",
        json={"platform": "twitter", "status": 429, "count": 1, "recipient": user, "reset_in": 1},
    )
    customer_dm(stack, user, text="thanks!")
    assert len(wait_for_dms(stack, user, 1)) == 1
    assert [s["status"] for s in dms(stack, user, accepted=False)] == [429]


def mentions(stack: Stack) -> list[Mention]:
    settings = Settings.from_env({k: v for k, v in stack.env.items() if v})
    engine = create_sync_engine(settings.database_url)
    try:
        with Session(engine) as session:
            return list(session.scalars(select(Mention)))
    finally:
        engine.dispose()


def test_mentions_are_stored_for_monitoring_and_our_own_are_not(stack):
    user, handle = new_user(), f"fan_{uuid.uuid4().hex[:6]}"
    text = "still waiting on my refund, 3 weeks now"
    mention = sim(
        stack, "POST", "/_sim/x/mention", json={"user_id": user, "screen_name": handle, "text": text}
    )
    assert mention["status"] == 200
    own = sim(
        stack,
        "POST",
        "/_sim/x/mention",
        json={"user_id": BRAND, "text": "winter sale is live", "from_brand": True},
    )
    assert own["status"] == 200
    deadline = time.monotonic() + 30
    while not [m for m in mentions(stack) if m.author_handle == handle]:
        assert time.monotonic() < deadline, "mention never stored"
        time.sleep(0.3)
    [stored] = [m for m in mentions(stack) if m.author_handle == handle]
    assert text in stored.text and stored.url.endswith(f"/status/{mention['tweet_id']}")
    assert stored.posted_at.tzinfo is not None
    assert not [m for m in mentions(stack) if m.external_id == own["tweet_id"]]
    assert dms(stack, user) == []  # a mention is not a conversation


def test_crc_and_signatures(stack):
    crc = sim(stack, "POST", "/_sim/x/crc", json={})
    assert crc["ok"] is True
    url = f"{stack.rasa_url}/webhooks/twitter/webhook"
    body = b'{"for_user_id": "1500000000000000001", "direct_message_events": []}'
    for signature in (None, x_signature(body, "not-the-secret")):
        headers = {
            "Content-Type": "application/json",
            **({"x-twitter-webhooks-signature": signature} if signature else {}),
        }
        assert requests.post(url, data=body, headers=headers, timeout=30).status_code == 403
