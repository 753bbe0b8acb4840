"""Hostile customer data in the desk, checked in a real browser (Playwright driving Debian's Chromium).

Every field a customer (or a spoofed channel) controls and the desk shows carries the same payloads:
`<script>`, `<img src=x onerror=...>`, `"><svg onload=...>`, a `javascript:` URL and template
syntax `{{7*7}}`. In each case: no dialog opens, no injected element exists in the DOM, the payload is
shown as text, no link or image points at a `javascript:` URL, every image comes from the desk itself
(customer media through `/media/<ticket>/<n>`), and the browser never contacts another host: a
tracking pixel in a photo URL or a product picture must not reveal an agent's address to its owner.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from PIL import Image
from playwright.async_api import Browser, Page, async_playwright, expect
from sqlalchemy import insert

from bot.conversations.tail import EVENTS
from bot.desk.accounts import Accounts
from bot.desk.app import create_app
from bot.desk.config import DeskConfig
from bot.handoff.tickets import HandoffService
from bot.settings import Settings
from bot.storage import migrate
from bot.storage.db import Database, create_sync_engine
from bot.storage.models import Alert, AlertMessage, LoggedMessage, ModerationFlag

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "xss test password"
SCRIPT = "<script id=xss-script>alert('script')</script>"
IMG = "<img src=x id=xss-img onerror=alert('img')>"
SVG = "\"><svg id=xss-svg onload=alert('svg')>"
JS_URL = "javascript:alert('js')"
TEMPLATE = "{{7*7}}"
HOSTILE = f"{SCRIPT} {IMG} {SVG} {JS_URL} {TEMPLATE}"


def png(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


@dataclass
class Hosts:
    """The platform CDN (allowed to the desk's fetcher) and an attacker's server (allowed to nobody)."""

    cdn: str
    attacker: str
    attacker_hits: list[str] = field(default_factory=list)


@dataclass
class World:
    """A running desk with one ticket per hostile field."""

    desk: str
    hosts: Hosts
    tickets: dict[str, int]
    agent: str
    supervisor: str


@pytest.fixture(scope="module")
async def hosts() -> AsyncIterator[Hosts]:
    async def photo(_: web.Request) -> web.Response:
        return web.Response(body=png((64, 48), (200, 30, 30)), content_type="image/png")

    async def product(_: web.Request) -> web.Response:
        return web.Response(body=png((80, 80), (10, 90, 200)), content_type="image/png")

    cdn_app = web.Application()
    cdn_app.router.add_get("/photo.png", photo)
    cdn_app.router.add_get("/product.png", product)
    found = Hosts("", "")

    async def anything(request: web.Request) -> web.Response:
        found.attacker_hits.append(request.path_qs)
        return web.Response(body=png((1, 1), (0, 0, 0)), content_type="image/png")

    attacker_app = web.Application()
    attacker_app.router.add_get("/{tail:.*}", anything)
    async with (
        TestServer(cdn_app, host="127.0.0.1") as cdn,
        TestServer(attacker_app, host="127.0.0.1") as bad,
    ):
        found.cdn, found.attacker = f"127.0.0.1:{cdn.port}", f"127.0.0.1:{bad.port}"
        yield found


def user_event(text: str, **metadata: Any) -> dict[str, Any]:
    return {
        "event": "user",
        "timestamp": time.time(),
        "text": text,
        "input_channel": "messenger",
        "parse_data": {
            "intent": {"name": "complain", "confidence": 0.9},
            "sentiment": {"label": "negative", "score": -0.7},
        },
        "metadata": metadata,
    }


def bot_event(text: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"event": "bot", "timestamp": time.time(), "text": text, "data": data, "metadata": {}}


async def seed(database: Database, hosts: Hosts) -> dict[str, int]:
    """One ticket per hostile field, as the channels and the bot's actions would have stored it."""
    cdn, attacker = f"http://{hosts.cdn}", f"http://{hosts.attacker}"
    handoff = HandoffService(database)
    conversations: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {
        "customer_name": ({"customer_name": HOSTILE}, [user_event("hello")]),
        "message_text": ({}, [user_event(HOSTILE)]),
        "caption": ({}, [user_event(HOSTILE, image_urls=[f"{cdn}/photo.png"], caption=HOSTILE)]),
        "image_urls": (
            {},
            [
                user_event(
                    "look",
                    image_urls=[
                        JS_URL,
                        SVG,
                        f"{attacker}/pixel.png?who=agent",
                        f'{attacker}/x.png" onerror="alert(1)',
                        f"{cdn}/photo.png",
                    ],
                )
            ],
        ),
        "product_data": (
            {},
            [
                user_event("where can I buy this"),
                bot_event(
                    HOSTILE,
                    {
                        "elements": [
                            {
                                "title": HOSTILE,
                                "subtitle": HOSTILE,
                                "image_url": f"{attacker}/product.png?track=1",
                                "buttons": [{"title": HOSTILE, "url": JS_URL}],
                                "default_action": {"url": JS_URL},
                            },
                            {
                                "title": "Canvas Tote",
                                "subtitle": HOSTILE,
                                "image_url": f"{cdn}/product.png",
                                "buttons": [{"title": "View", "url": f"https://shop.example/{HOSTILE}"}],
                            },
                        ],
                        "buttons": [{"title": HOSTILE, "payload": "/x"}],
                    },
                ),
            ],
        ),
        "summary": (
            {"summary": f"Asked about: complain. Messages: 1.\n- [negative -0.70] {HOSTILE}"},
            [user_event(HOSTILE)],
        ),
        # Agent assist: a product the NLU read out of the message, and the name in a suggested reply.
        "assist": (
            {"customer_name": HOSTILE},
            [
                {
                    **user_event(f"is the {HOSTILE} in stock"),
                    "parse_data": {
                        "intent": {"name": "product_availability", "confidence": 0.9},
                        "entities": [{"entity": "product", "value": HOSTILE}],
                        "sentiment": {"label": "negative", "score": -0.7},
                    },
                }
            ],
        ),
    }
    tickets: dict[str, int] = {}
    for name, (ticket_fields, events) in conversations.items():
        conversation_id = f"psid-{name}-{uuid.uuid4().hex[:6]}"
        values = {
            "channel": "messenger",
            "reason": "customer_request",
            "sentiment_trend": -0.5,
            "priority": 50,
            "summary": "Asked about: refund.",
        }
        info = await handoff.open_ticket(conversation_id=conversation_id, **{**values, **ticket_fields})
        tickets[name] = info.id
        async with database.engine.begin() as connection:
            for event in events:
                await connection.execute(
                    insert(EVENTS).values(
                        sender_id=conversation_id,
                        type_name=event["event"],
                        timestamp=event["timestamp"],
                        data=json.dumps(event),
                    )
                )
    now = dt.datetime.now(dt.timezone.utc)
    async with database.sessions() as session, session.begin():
        logged = LoggedMessage(
            source=f"mention:{uuid.uuid4().hex}",
            kind="mention",
            channel="twitter",
            conversation_id=None,
            author=HOSTILE[:200],
            link=JS_URL,
            text=HOSTILE,
            sentiment_label="negative",
            sentiment_score=-0.8,
            at=now,
        )
        session.add(logged)
        await session.flush()
        session.add(
            ModerationFlag(
                conversation_id="psid-flagged",
                channel="twitter",
                reason="repeated_abuse",
                text=HOSTILE,
                author=HOSTILE[:200],
                message_id=logged.id,
            )
        )
        alert = Alert(
            scope="twitter",
            window_start=now - dt.timedelta(minutes=10),
            window_end=now,
            negative_count=9,
            total_count=10,
            baseline_count=1.0,
            baseline_share=0.1,
            reason=HOSTILE,
        )
        session.add(alert)
        await session.flush()
        session.add(AlertMessage(alert_id=alert.id, message_id=logged.id))
    return tickets


@pytest.fixture(scope="module")
async def world(postgres_url, hosts, tmp_path_factory) -> AsyncIterator[World]:
    migrate.downgrade(postgres_url, "base")
    migrate.upgrade(postgres_url)
    engine = create_sync_engine(postgres_url)
    EVENTS.metadata.drop_all(engine)
    EVENTS.metadata.create_all(engine)  # the columns of Rasa's tracker-store table that the desk reads
    database = Database(postgres_url)
    monkeypatch = pytest.MonkeyPatch()
    monkeypatch.setenv(
        "PHOTO_ALLOWED_HOSTS", hosts.cdn
    )  # the CDN is a platform media host; the attacker is not
    monkeypatch.delenv("SIM_PUBLIC_URL", raising=False)
    try:
        accounts = Accounts(database, DeskConfig(settings=Settings()).lockout)
        agent, supervisor = f"agent{uuid.uuid4().hex[:6]}", f"super{uuid.uuid4().hex[:6]}"
        await accounts.add(agent, "Agent", PASSWORD)
        await accounts.add(supervisor, "Supervisor", PASSWORD, role="supervisor")
        tickets = await seed(database, hosts)
        config = DeskConfig(
            settings=Settings(database_url=postgres_url, var_dir=str(tmp_path_factory.mktemp("desk"))),
            rasa_url="http://127.0.0.1:9",
        )
        async with TestServer(create_app(config, database, database), host="127.0.0.1") as server:
            yield World(f"http://127.0.0.1:{server.port}", hosts, tickets, agent, supervisor)
    finally:
        monkeypatch.undo()
        await database.close()
        EVENTS.metadata.drop_all(engine)
        engine.dispose()
        migrate.downgrade(postgres_url, "base")


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        await chromium.close()


@dataclass
class Visit:
    """A signed-in page with everything it did recorded."""

    page: Page
    dialogs: list[str]
    requests: list[str]


@pytest.fixture
async def visit(browser, world) -> AsyncIterator[Any]:
    contexts = []
    world.hosts.attacker_hits.clear()  # each test counts its own

    async def open_as(username: str) -> Visit:
        context = await browser.new_context()
        contexts.append(context)
        page = await context.new_page()
        seen = Visit(page, [], [])

        async def on_dialog(dialog: Any) -> None:
            seen.dialogs.append(dialog.message)
            await dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("request", lambda request: seen.requests.append(request.url))
        await page.goto(f"{world.desk}/login")
        await page.fill("input[name=username]", username)
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await expect(page).to_have_url(f"{world.desk}/queue")
        return seen

    yield open_as
    for context in contexts:
        await context.close()


async def settle(page: Page) -> None:
    """Loaded, every image finished (loaded or failed), and a moment for any handler to fire."""
    await page.wait_for_load_state("load")
    await page.wait_for_function("() => Array.from(document.images).every(image => image.complete)")
    await page.evaluate("new Promise(resolve => requestAnimationFrame(() => setTimeout(resolve, 200)))")


async def assert_inert(visit: Visit, world: World, shown_in: str) -> None:
    """Nothing ran, nothing was injected, the payload reads as text, nothing left the desk."""
    page = visit.page
    await settle(page)
    assert visit.dialogs == []
    assert await page.locator("[id^=xss]").count() == 0
    assert await page.locator("script:not([src])").count() == 0
    assert await page.locator("a[href^='javascript:' i], img[src^='javascript:' i]").count() == 0
    handlers = await page.evaluate(
        "Array.from(document.querySelectorAll('*')).flatMap(e => Array.from(e.attributes))"
        ".filter(a => a.name.startsWith('on')).map(a => a.name)"
    )
    assert handlers == []
    text = page.locator(shown_in).filter(has_text=SCRIPT).first  # the payload, as text
    await expect(text).to_contain_text(SCRIPT)
    await expect(text).to_contain_text(IMG)
    await expect(text).to_contain_text(SVG)
    await expect(text).to_contain_text(TEMPLATE)  # shown as typed: evaluated, it would read 49
    sources = await page.eval_on_selector_all("img", "images => images.map(i => i.getAttribute('src'))")
    assert all(src.startswith(("/media/", "/static/", "/analytics/")) for src in sources), sources
    foreign = [url for url in visit.requests if not url.startswith(world.desk)]
    assert foreign == [] and world.hosts.attacker_hits == []


async def test_customer_names(world, visit):
    seen = await visit(world.agent)
    await assert_inert(seen, world, "#waiting")
    await seen.page.goto(f"{world.desk}/tickets/{world.tickets['customer_name']}")
    await assert_inert(seen, world, ".transcript h1")
    await expect(seen.page).to_have_title(
        f"#{world.tickets['customer_name']} {HOSTILE} · Loom & Co. support desk"
    )


async def test_message_text(world, visit):
    seen = await visit(world.agent)
    await seen.page.goto(f"{world.desk}/tickets/{world.tickets['message_text']}")
    await assert_inert(seen, world, ".line.customer p.text")


async def test_captions_of_photos(world, visit):
    seen = await visit(world.agent)
    ticket = world.tickets["caption"]
    await seen.page.goto(f"{world.desk}/tickets/{ticket}")
    await assert_inert(seen, world, ".line.customer p.text")
    photo = seen.page.locator("img.photo")
    await expect(photo).to_have_attribute("src", f"/media/{ticket}/0")
    assert await photo.evaluate("image => image.naturalWidth") == 64  # shown, through the desk


async def test_image_urls(world, visit):
    seen = await visit(world.agent)
    ticket = world.tickets["image_urls"]
    await seen.page.goto(f"{world.desk}/tickets/{ticket}")
    await settle(seen.page)
    photos = seen.page.locator("img.photo")
    assert await photos.evaluate_all("images => images.map(i => i.getAttribute('src'))") == [
        f"/media/{ticket}/{n}" for n in range(5)
    ]
    widths = await photos.evaluate_all("images => images.map(i => i.naturalWidth)")
    assert widths == [0, 0, 0, 0, 64]  # only the platform's photo is fetched; the others are refused
    assert seen.dialogs == [] and await seen.page.locator("[id^=xss]").count() == 0
    assert [url for url in seen.requests if not url.startswith(world.desk)] == []
    assert world.hosts.attacker_hits == []


async def test_product_data(world, visit):
    seen = await visit(world.agent)
    ticket = world.tickets["product_data"]
    await seen.page.goto(f"{world.desk}/tickets/{ticket}")
    await assert_inert(seen, world, ".line.bot .card strong")
    cards = seen.page.locator(".card")
    await expect(cards.nth(0).locator("span")).to_contain_text(SCRIPT)
    await expect(cards.nth(0).locator("a")).to_have_count(0)  # a javascript: product link is no link
    assert await cards.nth(1).locator("a").get_attribute("href") == f"https://shop.example/{HOSTILE}"
    pictures = cards.locator("img")
    assert await pictures.evaluate_all("images => images.map(i => i.getAttribute('src'))") == [
        f"/media/{ticket}/0",
        f"/media/{ticket}/1",
    ]
    assert await pictures.evaluate_all("images => images.map(i => i.naturalWidth)") == [0, 80]
    await expect(seen.page.locator(".line.bot .options")).to_contain_text(SCRIPT)


async def test_handoff_summary(world, visit):
    seen = await visit(world.agent)
    await seen.page.goto(f"{world.desk}/tickets/{world.tickets['summary']}")
    await assert_inert(seen, world, "pre.summary")


async def test_agent_assist(world, visit):
    seen = await visit(world.agent)
    await seen.page.goto(f"{world.desk}/tickets/{world.tickets['assist']}")
    await seen.page.click("button.claim")
    await assert_inert(seen, world, ".assist-summary .products")
    await expect(seen.page.locator(".assist-summary .product")).to_have_text(HOSTILE)
    await seen.page.click("button.suggestion", timeout=5_000)  # "Introduce yourself", with their name
    value = await seen.page.locator("textarea[name=text]").input_value()
    assert value.startswith(f"Hi {HOSTILE}, I'm Agent")  # text in the box, never markup on the page
    await assert_inert(seen, world, ".assist-summary .products")


async def test_moderation_page(world, visit):
    seen = await visit(world.supervisor)
    await seen.page.goto(f"{world.desk}/monitoring/moderation?status=all")
    await assert_inert(seen, world, "tr.flag td.text")
    await expect(seen.page.locator("tr.flag").first).to_contain_text(SCRIPT)


async def test_alerts_page(world, visit):
    seen = await visit(world.supervisor)
    await seen.page.goto(f"{world.desk}/monitoring/alerts")
    await assert_inert(seen, world, ".alert-messages td.text")
    await expect(seen.page.locator("article.alert").first).to_contain_text(IMG)
