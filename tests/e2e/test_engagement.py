"""Public engagement end to end: the simulator's comments and mentions, the real stack, a real browser.

A customer comments under the brand's post with a photo of a catalogue product; the channel stores it,
the monitoring service's engagement worker understands it (Rasa's parse, the catalogue's photo search),
and either the bot answers in public on its own (a "where can I buy this?" with a sure match) or an
agent answers from the desk's Engagement page with the suggested reply. The fake Graph / X API must
receive each answer exactly once.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

from playwright.sync_api import expect, sync_playwright
from sqlalchemy import text

from bot.devtools.devstack import Stack
from bot.settings import Settings
from bot.storage.db import create_sync_engine

from .conftest import sim
from .test_desk import CHROMIUM, SCREENSHOTS, add_agent, sign_in
from .test_meta_channels import product_photo_jpeg

TOTE = "Canvas Tote"
TOTE_URL = "https://loomandco.example/products/canvas-tote"


def tote_photo(stack: Stack, seed: int = 3) -> str:
    """A customer's photo of the Canvas Tote, uploaded to the simulator; its URL."""
    files = {"file": ("tote.jpg", product_photo_jpeg("BAG-002", seed), "image/jpeg")}
    return sim(stack, "POST", "/_sim/media", files=files)["url"]


def post_comment(stack: Stack, platform: str, text: str, **fields: Any) -> str:
    """A customer's comment (or X mention) under the brand's first post; its platform id."""
    user = str(int(time.time() * 1000)) + str(uuid.uuid4().int % 1000).zfill(3)
    body = {"platform": platform, "user_id": user, "text": text, **fields}
    answer = sim(stack, "POST", "/_sim/public_comment", json=body)
    assert answer["status"] == 200, answer
    return str(answer["id"])


def calls_on(stack: Stack, target: str, kind: str = "public_reply") -> list[dict[str, Any]]:
    return [
        c for c in sim(stack, "GET", "/_sim/public_actions") if c["target_id"] == target and c["kind"] == kind
    ]


def wait_for_call(stack: Stack, target: str, kind: str = "public_reply", timeout: float = 60) -> dict:
    """The first call of `kind` on the item, once its own-reply webhook came back to us too."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [
            c
            for c in calls_on(stack, target, kind)
            if c["accepted"] and (kind != "public_reply" or c["own_webhook"])
        ]
        if done:
            return done[0]
        time.sleep(0.25)
    raise AssertionError(f"no {kind} on {target} within {timeout} s: {calls_on(stack, target, kind)}")


def test_a_photo_question_is_answered_by_the_bot_once(stack) -> None:
    started = time.monotonic()
    item = post_comment(
        stack, "facebook", "Where can I buy this?", name="Jane Doe", image_urls=[tote_photo(stack)]
    )

    reply = wait_for_call(stack, item)

    took = time.monotonic() - started
    assert TOTE in reply["text"] and TOTE_URL in reply["text"] and reply["text"].startswith("Hi Jane!")
    assert reply["own_webhook"]["status"] == 200  # our own comment came back, and was not taken as an item
    # Another item filed after this one: every round since has seen this one and left it answered.
    later = post_comment(stack, "facebook", "nice weather today", name="Sam Lee")
    after = filing(stack, later)  # filed in a later round than the answer: the answer's row is final
    answered = filing(stack, item)
    assert after["id"] > answered["id"]
    assert len(calls_on(stack, item)) == 1, took
    assert (answered["status"], answered["replied_by"], answered["reply_id"]) == (
        "sent",
        "bot",
        reply["result_id"],
    )


def filing(stack: Stack, external_id: str, timeout: float = 60) -> dict[str, Any]:
    """The engagement queue's row for the item, once the worker filed it."""
    settings = Settings.from_env({k: v for k, v in stack.env.items() if v})
    engine = create_sync_engine(settings.database_url)
    query = text(
        "SELECT e.* FROM engagement_items e JOIN mentions m ON m.id = e.mention_id WHERE m.external_id = :id"
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                row = connection.execute(query, {"id": external_id}).first()
            if row is not None:
                return dict(row._mapping)
            time.sleep(0.25)
    finally:
        engine.dispose()
    raise AssertionError(f"item {external_id} never reached the engagement queue")


def test_an_x_mention_with_a_photo_is_answered_with_a_reply_tweet(default_stack) -> None:
    # X serves the photo only to requests signed with our account: the worker must sign its fetch.
    item = post_comment(
        default_stack,
        "twitter",
        "@loomandco where can I get this bag?",
        screen_name="ana_r",
        followers=2400,
        image_urls=[tote_photo(default_stack, seed=5)],
    )

    reply = wait_for_call(default_stack, item)

    assert TOTE in reply["text"] and "@ana_r" in reply["text"]


def test_an_agent_answers_a_photo_comment_from_the_engagement_page(default_stack) -> None:
    stack = default_stack
    username = add_agent(stack, "supervisor")  # agents answer too; hiding is for supervisors
    praise = f"Best bag I ever bought, love it! ({uuid.uuid4().hex[:6]})"
    item = post_comment(stack, "facebook", praise, name="Robin Park", image_urls=[tote_photo(stack, seed=7)])
    abuse = f"you are all idiots {uuid.uuid4().hex[:6]}"
    troll = post_comment(stack, "facebook", abuse, name="Troll")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            sign_in(page, stack, username)
            page.click("nav a[href='/engagement']")
            card = page.locator(".public-item", has_text=praise)
            expect(card).to_be_visible(timeout=60_000)  # appears live, without reloading
            expect(card.locator(".category")).to_have_text("praise")
            expect(card.locator(".product")).to_have_text(TOTE)  # recognised in the photo
            suggestion = card.locator("textarea[name=text]")
            expect(suggestion).to_have_value(re.compile(rf"^Thank you so much, Robin! .*{TOTE}"))
            expect(card.locator("img.photo")).to_be_visible()
            page.screenshot(path=str(SCREENSHOTS / "engagement.png"), full_page=False)

            suggestion.fill(suggestion.input_value() + " See you soon!")
            card.locator("button.send-public").click()
            expect(page.locator(".flash")).to_contain_text("public reply sent")

            page.goto(f"{stack.desk_url}/engagement?show=all")
            hidden = page.locator(".public-item", has_text=abuse)
            expect(hidden.locator(".hidden-mark")).to_be_visible(timeout=60_000)  # hidden by the policy
            hidden.locator("button.unhide").click()
            expect(page.locator(".public-item", has_text=abuse).locator(".hidden-mark")).to_have_count(0)
        finally:
            browser.close()

    reply = wait_for_call(stack, item)
    assert reply["text"].endswith("See you soon!") and TOTE in reply["text"]
    assert len(calls_on(stack, item)) == 1
    assert [c["kind"] for c in sim(stack, "GET", "/_sim/public_actions") if c["target_id"] == troll] == [
        "hide",
        "unhide",
    ]
