"""A content editor's loop in a real browser: a misunderstood message, corrected, seen as a YAML diff.

A Messenger customer writes something the assistant does not understand (it asks them to rephrase);
the monitoring service files the message; an editor signs in, finds it in the review queue (masked:
the customer's e-mail never reaches the page), corrects the intent and the example, sees the diff of
the topic file, and saves it into the stack's copy of the training data (CONTENT_ROOT).
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from playwright.sync_api import expect, sync_playwright

from bot.devtools.devstack import ROOT

from .test_desk import CHROMIUM, PASSWORD, SCREENSHOTS, add_agent
from .test_meta_channels import customer_says, new_user, texts, wait_for_replies

MISREAD = "can my nan collect it for me, im nan.smith@example.org"


def rephrase_requests() -> set[str]:
    """Every variant of the assistant's "could you rephrase that?" (domain.yml, `utter_ask_rephrase`)."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    return {variant["text"] for variant in domain["responses"]["utter_ask_rephrase"]}


def test_an_editor_corrects_a_misunderstood_message_and_sees_the_diff(default_stack):
    stack = default_stack
    content = Path(stack.env["CONTENT_ROOT"])
    editor = add_agent(stack, role="editor")
    user = new_user()
    customer_says(stack, "messenger", user, text=MISREAD)
    answer = texts(wait_for_replies(stack, "messenger", user, 1))[0]
    assert answer in rephrase_requests(), answer  # the assistant did not understand it

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"{stack.desk_url}/login")
            page.fill("input[name=username]", editor)
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit]")
            expect(page).to_have_url(re.compile(r"/review$"))
            item = page.locator(".review-item", has_text="can my nan collect it for me")
            for _ in range(30):  # the monitoring service files it within a round or two (2 s each)
                if item.count():
                    break
                page.wait_for_timeout(1000)
                page.reload()
            expect(item).to_be_visible()
            expect(item).to_contain_text("fallback")
            assert "nan.smith@example.org" not in page.content()  # masked
            assert user not in page.content()  # no customer id for editors
            page.screenshot(path=str(SCREENSHOTS / "review-queue.png"), full_page=True)

            item.locator("select[name=intent]").select_option("shipping_info")
            item.locator("input[name=example]").fill("can my nan collect it for me")
            item.locator("form.accept button").click()
            expect(page.locator(".flash")).to_contain_text("1 message accepted as shipping_info")

            page.click("text=see the changes")
            expect(page.locator("#diff")).to_contain_text("+    - can my nan collect it for me")
            topic = page.locator(".placed code").first.inner_text()
            assert topic.startswith(("data/nlu/", "tests/nlu/")), topic
            expect(page.locator("#diff")).to_contain_text(f"+++ b/{topic}")
            page.screenshot(path=str(SCREENSHOTS / "review-diff.png"), full_page=True)

            page.click("form.save button")
            expect(page.locator(".flash")).to_contain_text("1 example(s) written")
        finally:
            browser.close()
    written = (content / topic).read_text()
    assert "    - can my nan collect it for me\n" in written
    assert "nan.smith" not in written
