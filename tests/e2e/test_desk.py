"""The agent desk end to end: a real browser (Debian's Chromium), the real stack, the fake Meta API.

A Messenger customer asks for a person; an agent signs in, sees the conversation in the queue, claims
it, sees the customer's next message appear live, replies (the reply reaches the fake Send API),
resolves, and the assistant answers the customer's next message again. An agent whose page is open
is given a newly escalated conversation by the assigner, without claiming it.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Locator, Page, expect, sync_playwright

from bot.desk.accounts import Accounts
from bot.desk.config import Lockout
from bot.devtools.devstack import ROOT, Stack
from bot.settings import Settings
from bot.storage.db import Database

from .conftest import sim
from .customers import AMY, link
from .test_meta_channels import (
    answer_from_metas_inbox,
    customer_says,
    new_user,
    replies,
    texts,
    wait_for_replies,
)

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "desk test password"
SCREENSHOTS = ROOT / "results" / "screenshots"


def add_agent(stack: Stack, role: str = "agent", assigned: int = 0) -> str:
    """A fresh desk account in the stack's database; its username.

    `assigned`: how many conversations the desk assigns them by itself (bot/desk/assigner.py). 0 by
    default: these tests' people claim by hand, and an open page must not take their customers first.
    """
    username = f"{role}{uuid.uuid4().hex[:8]}"
    settings = Settings.from_env({k: v for k, v in stack.env.items() if v})

    async def create() -> None:
        database = Database(settings.database_url)
        try:
            accounts = Accounts(database, Lockout())
            await accounts.add(username, username.title(), PASSWORD, role)
            await accounts.set_capacity(username, assigned)
        finally:
            await database.close()

    asyncio.run(create())
    return username


def loaded(avatar: Locator, stack: Stack) -> None:
    """The customer's picture is on the page, decoded, and came from the desk itself."""
    expect(avatar).to_have_attribute("src", re.compile(r"^/customers/\d+/avatar$"))
    avatar.evaluate("img => img.decode()")  # waits for it to load; fails if it cannot be shown
    assert avatar.evaluate("img => img.naturalWidth") == 96
    assert avatar.evaluate("img => img.currentSrc").startswith(stack.desk_url)


def sign_in(page: Page, stack: Stack, username: str) -> None:
    page.goto(f"{stack.desk_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(re.compile(r"/queue$"))


def name_of(user: str) -> str:
    """The name the fake platform gives the customer (`escalated_customer`)."""
    return f"Robin Test{user[-6:]}"


def escalated_customer(
    stack: Stack, platform: str = "messenger", text: str = "can i talk to a real person please"
) -> str:
    """A customer whose message went to a person (the bot answered with a ticket number).

    Meta's webhooks carry no names: the desk asks Meta's User Profile API (the simulator's), which
    names this customer `name_of(user)`.
    """
    user = new_user()
    first, last = name_of(user).split(" ")
    sim(
        stack,
        "POST",
        "/_sim/profile",
        json={"platform": platform, "user_id": user, "first_name": first, "last_name": last},
    )
    customer_says(stack, platform, user, text=text)
    assert "ticket #" in texts(wait_for_replies(stack, platform, user, 1))[0]
    return user


def test_an_agent_takes_a_conversation_over_and_hands_it_back(default_stack):
    stack = default_stack
    username = add_agent(stack)
    user = escalated_customer(stack)
    urgent = escalated_customer(
        stack, "instagram", "it's been 3 weeks and STILL no refund, I want my money back"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 820})
        try:
            sign_in(page, stack, username)
            row = page.locator("#waiting tr.ticket", has_text=name_of(user))
            expect(row).to_be_visible()
            expect(row).to_contain_text("customer request")
            expect(row).not_to_contain_text(user)  # the name, not the page-scoped id
            loaded(row.locator("img.avatar"), stack)
            # Most urgent first: a high-stakes complaint (money) before a plain request for a person.
            urgent_row = page.locator("#waiting tr.ticket", has_text=name_of(urgent))
            expect(urgent_row).to_contain_text("high stakes money")
            order = page.locator("#waiting tr.ticket").all_inner_texts()
            position = {
                who: next(i for i, text in enumerate(order) if name_of(who) in text) for who in (urgent, user)
            }
            assert position[urgent] < position[user], order
            page.screenshot(path=str(SCREENSHOTS / "desk-queue.png"), full_page=True)

            row.locator("button.claim").click()
            expect(page.locator(".transcript h1")).to_contain_text(name_of(user))
            loaded(page.locator(".transcript h1 img.avatar"), stack)
            expect(page.locator(".line.customer .author").first).to_have_text(name_of(user))
            expect(page).to_have_title(re.compile(name_of(user)))
            expect(page.locator(".line.customer").first).to_contain_text("real person")
            page.screenshot(path=str(SCREENSHOTS / "customer-name.png"))

            # A new customer message appears without reloading the page.
            page.evaluate("window.__same_page = true")
            customer_says(stack, "messenger", user, text="my parcel 104523 never arrived and I'm upset")
            expect(page.locator(".line.customer").last).to_contain_text("never arrived", timeout=20_000)
            assert page.evaluate("window.__same_page") is True
            expect(page.locator(".line.customer").last.locator(".sentiment")).to_contain_text("negative")

            page.fill("textarea[name=text]", "I'm sorry! I've sent a replacement by express today.")
            page.click(".reply button[type=submit]")
            expect(page.locator(".line.agent").last).to_contain_text("replacement by express", timeout=20_000)
            page.fill("textarea[name=body]", "Express replacement sent; check delivery tomorrow.")
            page.click(".notes + form button")
            expect(page.locator(".notes li").first).to_contain_text("Express replacement sent")
            page.screenshot(path=str(SCREENSHOTS / "desk-conversation.png"), full_page=True)
            sent = replies(stack, "messenger", user)
            agent_sends = [
                s for s in sent if "replacement by express" in s["body"]["message"].get("text", "")
            ]
            assert len(agent_sends) == 1 and agent_sends[0]["body"]["messaging_type"] == "RESPONSE"
            before = len(sent)

            page.click("button.resolve")
            expect(page).to_have_url(re.compile(r"/queue$"))
            expect(page.locator(".flash")).to_contain_text("resolved")
        finally:
            browser.close()
    # The bot asks for a rating, then answers the next message itself: nothing said to the person is replayed.
    after = wait_for_replies(stack, "messenger", user, before + 1)
    assert re.search(r"rate|1.5|how did we do", texts(after)[before].lower()), texts(after)[before:]
    link(stack, "messenger", user, AMY)  # the order is theirs: answered at once
    customer_says(stack, "messenger", user, text="where is my order 104523?")
    final = wait_for_replies(stack, "messenger", user, len(after) + 1)
    assert "104523" in texts(final)[-1] and "Royal Mail" in texts(final)[-1]


def test_an_online_agent_is_given_a_new_conversation_without_claiming_it(default_stack):
    stack = default_stack
    # Room for whatever earlier tests left in the queue too: they are the more urgent (they waited longer).
    username = add_agent(stack, assigned=1000)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 820})
        try:
            sign_in(page, stack, username)
            expect(page.locator("#presence")).to_have_text("Online")
            expect(page.locator("body")).to_have_attribute("data-live", "connected")  # the page beats
            page.evaluate("window.__same_page = true")
            user = escalated_customer(stack)
            mine = page.locator("#working tr.ticket", has_text=name_of(user))
            expect(mine).to_contain_text("(you)", timeout=20_000)
            assert page.evaluate("window.__same_page") is True  # pushed live, not reloaded
            expect(page.locator("#waiting tr.ticket", has_text=name_of(user))).to_have_count(0)
            page.screenshot(path=str(SCREENSHOTS / "desk-auto-assigned.png"), full_page=True)
            mine.locator("a").first.click()  # theirs to answer: the reply box is there, no claim needed
            expect(page.locator("textarea[name=text]")).to_be_visible()
            # While they answer it, the next customer is given to them: the conversation page says so.
            expect(page.locator(".transcript h1")).to_contain_text(name_of(user))
            following = escalated_customer(stack)
            banner = page.locator("#assigned")
            expect(banner).to_contain_text("A new conversation was assigned to you", timeout=20_000)
            banner.locator("a").click()
            expect(page.locator(".transcript h1")).to_contain_text(name_of(following))
            page.click("form.presence button")
            expect(page.locator("#presence")).to_have_text("Away")
        finally:
            browser.close()
            signed_in = desk_session(stack, username)  # signing out: offline at once, for the next tests
            page_html = signed_in.get(f"{stack.desk_url}/queue", timeout=30).text
            csrf = re.search(r'name="csrf" value="([^"]+)"', page_html).group(1)
            signed_in.post(f"{stack.desk_url}/logout", data={"csrf": csrf}, timeout=30)


def test_agent_assist_a_suggested_reply_used(default_stack):
    """The agent sees the summary, the customer's orders and suggestions, and sends one as it is."""
    stack = default_stack
    username = add_agent(stack)
    user = link(stack, "messenger", new_user(), AMY)  # Amy: 104523 shipped with Royal Mail, 112930 delivered
    first, last = name_of(user).split(" ")
    sim(
        stack,
        "POST",
        "/_sim/profile",
        json={"platform": "messenger", "user_id": user, "first_name": first, "last_name": last},
    )
    customer_says(stack, "messenger", user, text="where is my order 104523?")
    assert "Royal Mail" in texts(wait_for_replies(stack, "messenger", user, 1))[0]
    customer_says(
        stack,
        "messenger",
        user,
        text="this is ridiculous, it's late AGAIN. can i talk to a real person please",
    )
    assert "ticket #" in texts(wait_for_replies(stack, "messenger", user, 2))[1]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        try:
            sign_in(page, stack, username)
            page.locator("#waiting tr.ticket", has_text=name_of(user)).locator("button.claim").click()
            expect(page.locator(".transcript h1")).to_contain_text(name_of(user))
            summary = page.locator("#assist-summary")
            expect(summary).to_contain_text("Wants: to know where order #104523")
            expect(summary).to_contain_text("customer asked for a person")
            orders = page.locator(".orders .order")
            expect(orders.first).to_contain_text("#104523")
            expect(orders.first).to_contain_text("Royal Mail")
            expect(page.locator(".orders")).to_contain_text("#112930")  # Amy's other order, linked
            suggestion = page.locator("button.suggestion").first
            expect(suggestion).to_have_text("Order #104523: status")
            suggested = suggestion.get_attribute("data-text")
            assert suggested and "104523" in suggested and "Royal Mail" in suggested
            suggestion.click()
            expect(page.locator("textarea[name=text]")).to_have_value(suggested)
            page.screenshot(path=str(SCREENSHOTS / "agent-assist.png"), full_page=True)
            before = len(replies(stack, "messenger", user))
            page.click(".reply button[type=submit]")
            expect(page.locator(".line.agent").last).to_contain_text("104523", timeout=20_000)
            # A one-click action: the return link for the delivered order lands in the reply box.
            page.locator(".orders .order", has_text="#112930").locator("button.start-return").click()
            expect(page.locator(".flash")).to_contain_text("Return started for order #112930")
            expect(page.locator("textarea[name=text]")).to_have_value(re.compile(r"returns\?order=112930"))
        finally:
            browser.close()
    sent = wait_for_replies(stack, "messenger", user, before + 1)
    assert texts(sent)[before:] == [suggested]  # exactly the suggestion, once


def desk_session(stack: Stack, username: str) -> requests.Session:
    """A signed-in HTTP session (for the checks that need no browser)."""
    session = requests.Session()
    page = session.get(f"{stack.desk_url}/login", timeout=30)
    token = re.search(r'name="login_csrf" value="([^"]+)"', page.text).group(1)
    answer = session.post(
        f"{stack.desk_url}/login",
        data={"username": username, "password": PASSWORD, "login_csrf": token},
        timeout=30,
    )
    assert answer.url.endswith("/queue"), answer.text
    return session


def ticket_id_of(html: str, customer: str) -> int:
    match = re.search(
        rf'data-ticket="(\d+)">\s*(?:<td class="urgency">\d+</td>\s*)?<td class="customer">[^\n]*?'
        rf'<a href="/tickets/\d+">{customer}</a>',
        html,
    )
    assert match, html
    return int(match.group(1))


def test_a_person_in_metas_inbox_owns_the_conversation_in_the_desk(stack):
    supervisor = desk_session(stack, add_agent(stack, "supervisor"))
    user = escalated_customer(stack)
    answer_from_metas_inbox(stack, user, "Hi, Sam here")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        queue = supervisor.get(f"{stack.desk_url}/fragments/queue", timeout=30).text
        working = queue.split('id="working"', 1)[-1] if 'id="working"' in queue else ""
        if name_of(user) in working and "meta_inbox" in working:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"the takeover never showed in the desk:\n{queue}")
    ticket = ticket_id_of(working, name_of(user))
    page = supervisor.get(f"{stack.desk_url}/tickets/{ticket}", timeout=30).text
    assert "Hi, Sam here" in page and "Person in Meta inbox" in page


def test_messages_that_arrive_while_the_desk_is_down_are_there_when_it_is_back(production_stack):
    stack = production_stack
    username = add_agent(stack)
    user = escalated_customer(stack)
    stack.service("desk").stop()
    customer_says(stack, "messenger", user, text="hello? anyone there? order 100871")
    time.sleep(1.5)
    stack.restart("desk")
    session = desk_session(stack, username)
    queue = session.get(f"{stack.desk_url}/fragments/queue", timeout=30).text
    ticket = ticket_id_of(queue, name_of(user))
    page = session.get(f"{stack.desk_url}/tickets/{ticket}", timeout=30).text
    assert "anyone there? order 100871" in page


@pytest.fixture(autouse=True, scope="module")
def _clean_screenshots() -> None:
    for pattern in ("desk-*.png", "customer-*.png", "agent-*.png"):
        for old in SCREENSHOTS.glob(pattern) if SCREENSHOTS.exists() else []:
            Path(old).unlink()
