"""The analytics dashboard in a real browser (Debian's Chromium) on the embedded default stack.

A customer's product photo goes through the simulator, Rasa and the photo action, which records the
lookup; a week of generated activity (the one the query tests know the answers for) is added to the
stack's database; a supervisor opens the dashboard and every chart is drawn.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import uuid
from collections.abc import Iterator
from typing import Any

from playwright.sync_api import Page, expect, sync_playwright
from sqlalchemy import delete, select

from bot.desk.accounts import Accounts
from bot.desk.analytics_pages import CHARTS
from bot.desk.config import Lockout
from bot.devtools.devstack import Stack
from bot.settings import Settings
from bot.storage.db import Database
from bot.storage.models import (
    Agent,
    AgentMessage,
    BotSession,
    HandoffTicket,
    LoggedMessage,
    LogoSighting,
    PhotoLookup,
)

from ..bot.monitoring.test_analytics import generate
from ..bot.monitoring.test_analytics_pages import DATA_COLORS
from .test_desk import CHROMIUM, PASSWORD, SCREENSHOTS, add_agent, sign_in
from .test_meta_channels import new_user, send_tote_photo

WEEK = "from=2026-03-01&to=2026-03-07"
# Paths the browser laid out in a data colour: bars with an area, lines with a length.
PLOTTED = """colors => [...document.querySelectorAll("path")].filter(path => {
  const style = path.getAttribute("style") || "";
  const box = path.getBBox();
  const filled = colors.some(c => style.includes("fill: " + c));
  const stroked = colors.some(c => style.includes("stroke: " + c)) && style.includes("fill: none");
  const area = box.width > 0.5 && box.height > 0.5, length = Math.max(box.width, box.height) > 0.5;
  return (filled && area) || (stroked && length);
}).length"""


def in_database(stack: Stack, work: Any) -> Any:
    """Run `work(database)` against the stack's own database."""
    settings = Settings.from_env({k: v for k, v in stack.env.items() if v})

    async def run() -> Any:
        database = Database(settings.database_url)
        try:
            return await work(database)
        finally:
            await database.close()

    return asyncio.run(run())


@contextlib.contextmanager
def generated_week(stack: Stack) -> Iterator[None]:
    """The query tests' week (March 2026), with its own agents and identifiers, removed afterwards.

    Removed because the stack is shared: monitoring takes the oldest logged message as the start of
    history, and later tests should see the stack as they would without this test.
    """
    tag = f"e2e{uuid.uuid4().hex[:6]}-"

    async def add(database: Database) -> None:
        accounts = Accounts(database, Lockout())
        staff = {name: await accounts.add(f"{tag}{name}", name.title(), PASSWORD) for name in ("ada", "bob")}
        await generate(database, staff, tag)

    async def remove(database: Database) -> None:
        async with database.sessions() as session, session.begin():
            tickets = select(HandoffTicket.id).where(HandoffTicket.conversation_id.startswith(tag))
            await session.execute(delete(AgentMessage).where(AgentMessage.ticket_id.in_(tickets)))
            for table, column in (
                (HandoffTicket, HandoffTicket.conversation_id),
                (LoggedMessage, LoggedMessage.source),
                (PhotoLookup, PhotoLookup.conversation_id),
                (LogoSighting, LogoSighting.conversation_id),
                (BotSession, BotSession.conversation_id),
                (Agent, Agent.username),
            ):
                await session.execute(delete(table).where(column.startswith(tag)))

    in_database(stack, add)
    try:
        yield
    finally:
        in_database(stack, remove)


def photo_lookups(stack: Stack, conversation_id: str) -> list[tuple[str, str, int | None]]:
    async def read(database: Database) -> list[tuple[str, str, int | None]]:
        async with database.sessions() as session:
            rows = await session.execute(
                select(PhotoLookup.channel, PhotoLookup.outcome, PhotoLookup.product_id).where(
                    PhotoLookup.conversation_id == conversation_id
                )
            )
            return [tuple(row) for row in rows]

    return in_database(stack, read)


def kpis(page: Page) -> dict[str, str]:
    return {
        item.locator("dt").inner_text(): item.locator("dd").inner_text()
        for item in page.locator(".kpis > div").all()
    }


def test_a_supervisor_sees_every_chart_drawn(default_stack):
    stack = default_stack
    username = add_agent(stack, "supervisor")
    # A real customer photo: the action records the lookup before the reply goes out.
    user = new_user()
    send_tote_photo(stack, "messenger", user)
    [(channel, outcome, product_id)] = photo_lookups(stack, user)
    assert (channel, outcome) == ("messenger", "confident") and product_id is not None
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with generated_week(stack), sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        try:
            sign_in(page, stack, username)
            page.click("header nav >> text=Analytics")
            expect(page).to_have_url(re.compile(r"/analytics$"))
            expect(page.locator("h1")).to_have_text("Analytics")
            # The last 7 days include the photo just looked up.
            assert re.match(r"\d+% of [1-9]", kpis(page)["Photo hit rate"]), kpis(page)

            page.fill("input[name=from]", "2026-03-01")
            page.fill("input[name=to]", "2026-03-07")
            page.click(".range button[type=submit]")
            expect(page).to_have_url(re.compile(re.escape(f"/analytics?{WEEK}") + "$"))
            assert kpis(page) == {
                "Customer messages": "69",
                "Conversations": "30",
                "Contained by the bot (verified)": (
                    "44% of 9 bot sessions: not back about it within 48 h, not rated 1–2"
                ),
                "No person took over (raw)": "80% of conversations, givers-up included",
                "Handoffs": "15",
                "Photo hit rate": "80% of 10",
                "Photos showing our logo": "3",
                "CSAT (people)": "4.00 of 4",
                "CSAT (assistant)": "3.67 of 3; 1–5: 0 / 1 / 0 / 1 / 1",
            }
            images = page.locator("figure.chart img")
            expect(images).to_have_count(len(CHARTS))
            for image in images.all():
                expect(image).to_be_visible()
                # Drawn by the browser: a loaded image has a size; a broken one has none.
                page.wait_for_function(
                    "img => img.complete && img.naturalWidth > 300", arg=image.element_handle()
                )
            assert page.locator(".error").count() == 0
            page.screenshot(path=str(SCREENSHOTS / "analytics.png"), full_page=True)
            sources = [image.get_attribute("src") for image in images.all()]
            chart = context.new_page()  # the same session: each chart as a document of its own
            for source in sources:
                chart.goto(f"{stack.desk_url}{source}")
                expect(chart.locator("svg").first).to_be_visible()
                plotted = chart.evaluate(PLOTTED, sorted(DATA_COLORS))
                assert plotted >= 2, (source, plotted)
                text = chart.locator("svg").first.text_content() or ""
                assert "No " not in text and "rror" not in text, (source, text)
        finally:
            browser.close()
