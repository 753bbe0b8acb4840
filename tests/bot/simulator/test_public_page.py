"""The page's Public view in a real browser (Playwright driving Debian's Chromium), and its script.

A customer comments through the page; the brand replies and hides the comment through the fake
Graph API; the page shows all three, with hostile text shown as text and never run. On Instagram the
customer also @mentions the brand in a photo post of their own, which the brand answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient
from playwright.async_api import Browser, async_playwright, expect

from .conftest import IG_ID, IG_TOKEN, Receiver
from .public_support import FB_POST, actions, graph_post, signed_meta_body
from .x_support import PNG_1X1

CHROMIUM = "/usr/bin/chromium"
STATIC = Path(__file__).resolve().parents[3] / "bot" / "simulator" / "static"
HOSTILE = "<img src=x id=xss-img onerror=alert('img')> <script id=xss-script>alert(1)</script>"


def test_public_script_never_writes_html() -> None:
    script = (STATIC / "public.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write"):
        assert sink not in script
    assert "/_sim/public?" in script and "/_sim/public_comment" in script


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        await chromium.close()


async def test_comment_reply_and_hide_through_the_page(
    sim: TestClient, receiver: Receiver, browser: Browser
) -> None:
    page = await browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(str(sim.make_url("/?view=public&platform=messenger&user=sim-777")))
    await expect(page.locator("#public .item.post").first).to_contain_text("Harbour linen shirt")
    await page.fill("#public-name", "Robin")
    await page.fill("#public-text", HOSTILE)
    await page.click("#public-composer button[type=submit]")
    comment = page.locator("#public .comment").first
    await expect(comment).to_contain_text(HOSTILE)
    await expect(comment.locator(".author")).to_have_text("Robin")
    assert await page.locator("#xss-img, #xss-script").count() == 0
    [posted] = receiver.requests
    assert posted.path == "/webhooks/messenger/webhook"

    listing = await (await sim.get("/_sim/public", params={"platform": "facebook"})).json()
    comment_id = listing["posts"][0]["replies"][0]["id"]
    assert listing["posts"][0]["id"] == FB_POST
    assert (await graph_post(sim, f"{comment_id}/comments", message="Sorry! We'll fix it."))[0] == 200
    assert (await graph_post(sim, comment_id, is_hidden="true"))[0] == 200
    await expect(comment.locator(".from-brand")).to_contain_text("Sorry! We'll fix it.")
    await expect(comment.locator(".hidden-badge").first).to_have_text("hidden")

    await page.locator("#public .comment .link-button", has_text="Reply").first.click()
    await expect(page.locator("#public-target")).to_contain_text("Replying to Robin")
    await page.fill("#public-text", "thanks")
    await page.click("#public-composer button[type=submit]")
    await expect(comment.locator(".replies .comment")).to_have_count(2)
    assert dialogs == [] and len(await actions(sim)) == 2
    await page.close()


async def test_an_instagram_mention_in_my_own_post_through_the_page(
    sim: TestClient, receiver: Receiver, browser: Browser
) -> None:
    page = await browser.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: dialogs.append(dialog.message))
    await page.goto(str(sim.make_url("/?view=public&platform=instagram&user=6100000000000777")))
    await expect(page.locator("#public .item.post").first).to_contain_text("Harbour linen shirt")
    await expect(page.locator("#public-photo-button")).to_be_hidden()  # plain Instagram comments
    await page.select_option("#public-mode", "caption")
    await page.set_input_files(
        "#public-photo", files=[{"name": "me.png", "mimeType": "image/png", "buffer": PNG_1X1}]
    )
    await expect(page.locator("#public-attachment")).to_be_visible()
    await page.fill("#public-name", "sam.doe")
    await page.fill("#public-text", HOSTILE)
    await page.click("#public-composer button[type=submit]")
    mention = page.locator("#public .item.post", has=page.locator(".badge", has_text="mention"))
    await expect(mention.locator(".item-text").first).to_have_text(f"@loomandco {HOSTILE}")
    await expect(mention.locator("img")).to_have_count(1)
    await expect(mention.locator(":scope > .link-button")).to_have_count(0)  # its comments never reach us
    assert await page.locator("#xss-img, #xss-script").count() == 0
    [posted] = receiver.requests
    value = signed_meta_body(posted)["entry"][0]["changes"][0]["value"]
    assert set(value) == {"media_id"}

    status, _ = await graph_post(
        sim, f"{IG_ID}/mentions", token=IG_TOKEN, media_id=value["media_id"], message="Looks great on you!"
    )
    assert status == 200
    await expect(mention.locator(".replies .from-brand")).to_contain_text("Looks great on you!")
    assert dialogs == []
    await page.close()
