"""Sending to Messenger and Instagram: rendering, the messaging window, retries (runtime A)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from connectors.graph_api import GraphApiClient, GraphApiError
from connectors.meta_output import (
    INSTAGRAM,
    MESSENGER,
    MetaOutputChannel,
    OutsideWindowError,
    messaging_type,
    quick_replies,
    split_text,
)
from connectors.metrics import value
from connectors.outbox import turn
from connectors.retry import ReplyDeferred
from connectors.state import ConnectorState, MemoryStore

from .conftest import start_graph_stub

HOUR = 3_600_000
NOW = 1_764_112_800_000


def test_window_rules():
    assert messaging_type(NOW - 23 * HOUR, NOW, human=False) == ("RESPONSE", None)
    assert messaging_type(None, NOW, human=False) == ("RESPONSE", None)
    with pytest.raises(OutsideWindowError, match="24-hour"):
        messaging_type(NOW - 25 * HOUR, NOW, human=False)
    assert messaging_type(NOW - 25 * HOUR, NOW, human=True) == ("MESSAGE_TAG", "HUMAN_AGENT")
    with pytest.raises(OutsideWindowError, match="7-day"):
        messaging_type(NOW - 8 * 24 * HOUR, NOW, human=True)


@pytest.mark.parametrize("limit", [2000, 1000, 50])
def test_long_text_is_split_at_word_boundaries_within_the_limit(limit):
    text = " ".join(f"word{i}." for i in range(800))
    pieces = split_text(text, limit)
    assert all(len(p) <= limit for p in pieces)
    assert " ".join(pieces) == text
    assert split_text("short", limit) == ["short"]


def test_unbreakable_text_is_cut_hard():
    assert split_text("x" * 25, 10) == ["x" * 10, "x" * 10, "x" * 5]


def test_quick_replies_respect_meta_limits():
    buttons = [{"title": f"A very long button title number {i}", "payload": f"/p{i}"} for i in range(20)]
    rendered = quick_replies(buttons)
    assert len(rendered) == 13
    assert all(len(r["title"]) <= 20 and r["content_type"] == "text" for r in rendered)
    assert rendered[0]["payload"] == "/p0"


class FakeGraph:
    """A Graph API stub whose answers a test scripts: a list of (status, body) to give in turn."""

    def __init__(self) -> None:
        self.script: list[tuple[int, dict]] = []
        self.bodies: list[dict] = []
        self.delay = 0.0

    async def handle(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        await asyncio.sleep(self.delay)
        status, body = (
            self.script.pop(0) if self.script else (200, {"recipient_id": "u", "message_id": "m_ok"})
        )
        return web.json_response(body, status=status)


@pytest.fixture
async def graph() -> AsyncIterator[tuple[FakeGraph, str]]:
    fake = FakeGraph()
    runner, url = await start_graph_stub(fake.handle)
    yield fake, url
    await runner.cleanup()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as s:
        yield s


def client(url: str, session: aiohttp.ClientSession, **kwargs) -> GraphApiClient:
    async def get() -> aiohttp.ClientSession:
        return session

    return GraphApiClient(url, "page-token", "messenger", get, base_delay=0.01, max_delay=0.05, **kwargs)


def error(code: int, subcode: int | None = None) -> dict:
    body = {"message": "an error", "type": "OAuthException", "code": code, "fbtrace_id": "AbC"}
    if subcode:
        body["error_subcode"] = subcode
    return {"error": body}


async def test_failing_twice_then_succeeding_delivers_once(graph, session):
    fake, url = graph
    fake.script = [(500, error(2)), (503, error(1200))]
    mid = await client(url, session).send_message("u1", {"text": "hi"})
    assert mid == "m_ok"
    assert len(fake.bodies) == 3
    assert fake.bodies[0] == {
        "recipient": {"id": "u1"},
        "messaging_type": "RESPONSE",
        "message": {"text": "hi"},
    }


async def test_rate_limits_are_retried(graph, session):
    fake, url = graph
    fake.script = [(429, error(613)), (400, error(613))]
    assert await client(url, session).send_message("u1", {"text": "hi"}) == "m_ok"
    assert len(fake.bodies) == 3


@pytest.mark.parametrize(
    ("status", "code", "subcode"), [(400, 100, None), (400, 190, None), (400, 10, 2018278)]
)
async def test_errors_that_cannot_succeed_are_not_retried(graph, session, status, code, subcode):
    fake, url = graph
    fake.script = [(status, error(code, subcode))]
    with pytest.raises(GraphApiError) as raised:
        await client(url, session).send_message("u1", {"text": "hi"})
    assert len(fake.bodies) == 1
    assert raised.value.code == code
    assert raised.value.outside_window == (subcode == 2018278)


async def test_giving_up_after_the_last_attempt(graph, session):
    fake, url = graph
    fake.script = [(500, error(2))] * 10
    with pytest.raises(GraphApiError):
        await client(url, session, max_attempts=3).send_message("u1", {"text": "hi"})
    assert len(fake.bodies) == 3


async def test_timeouts_are_retried(graph, session):
    fake, url = graph
    fake.delay = 0.3
    with pytest.raises(GraphApiError, match="could not reach"):
        await client(url, session, max_attempts=2, timeout=0.1).send_message("u1", {"text": "hi"})
    assert len(fake.bodies) == 2


async def output(url: str, session, platform=MESSENGER) -> tuple[MetaOutputChannel, ConnectorState]:
    state = ConnectorState(MemoryStore())
    await state.record_inbound(platform.name, "u1", int(time.time() * 1000))
    return MetaOutputChannel(platform, client(url, session), state), state


async def test_buttons_become_quick_replies_and_sent_ids_are_remembered(graph, session):
    fake, url = graph
    channel, state = await output(url, session)
    buttons = [
        {"title": "Yes, cancel it", "payload": "/affirm"},
        {"title": "No, keep it", "payload": "/deny"},
    ]
    await channel.send_text_with_buttons("u1", "Cancel order #100871?", buttons)
    message = fake.bodies[0]["message"]
    assert message["text"] == "Cancel order #100871?"
    assert [q["payload"] for q in message["quick_replies"]] == ["/affirm", "/deny"]
    assert await state.was_sent_by_us("messenger", "m_ok")


async def test_link_buttons_use_a_button_template_on_messenger_and_a_card_on_instagram(graph, session):
    fake, url = graph
    buttons = [{"title": "Track parcel", "url": "https://track.example/1"}]
    messenger, _ = await output(url, session)
    await messenger.send_text_with_buttons("u1", "Your parcel is on its way", buttons)
    instagram, _ = await output(url, session, INSTAGRAM)
    await instagram.send_text_with_buttons("u1", "Your parcel is on its way", buttons)
    assert fake.bodies[0]["message"]["attachment"]["payload"]["template_type"] == "button"
    assert fake.bodies[1]["message"]["attachment"]["payload"]["template_type"] == "generic"


async def test_carousels_hold_at_most_ten_cards(graph, session):
    fake, url = graph
    channel, _ = await output(url, session)
    cards = [
        {"title": f"Product {i}", "subtitle": "£45.00", "image_url": f"https://img/{i}.jpg"}
        for i in range(12)
    ]
    await channel.send_elements("u1", cards)
    sizes = [len(b["message"]["attachment"]["payload"]["elements"]) for b in fake.bodies]
    assert sizes == [10, 2]


async def test_instagram_text_is_split_at_1000_characters(graph, session):
    fake, url = graph
    channel, _ = await output(url, session, INSTAGRAM)
    await channel.send_text_message("u1", "lorem ipsum " * 200)
    assert len(fake.bodies) == 3
    assert all(len(b["message"]["text"]) <= 1000 for b in fake.bodies)


async def test_bot_replies_outside_the_window_are_refused_and_counted(graph, session):
    fake, url = graph
    state = ConnectorState(MemoryStore())
    await state.record_inbound("messenger", "late", int(time.time() * 1000) - 30 * HOUR)
    channel = MetaOutputChannel(MESSENGER, client(url, session), state)
    before = value("replies_lost", "messenger")
    await channel.send_text_message("late", "hello again")
    assert fake.bodies == []
    assert value("replies_lost", "messenger") == before + 1
    [mid] = await channel.send_human_text("late", "Hi, Sam here from the team")
    assert mid == "m_ok"
    assert fake.bodies[0]["messaging_type"] == "MESSAGE_TAG" and fake.bodies[0]["tag"] == "HUMAN_AGENT"


async def test_a_platform_outage_defers_a_reply_of_an_inbox_event_and_loses_one_outside(graph, session):
    """Inside an inbox event the turn fails (handled again later); elsewhere the reply is lost, logged."""
    fake, url = graph
    channel, _ = await output(url, session)
    channel.client.max_attempts = 2
    fake.script = [(503, error(2))] * 2
    with turn("messenger", "m_inbound_1"), pytest.raises(ReplyDeferred, match="u1"):
        await channel.send_text_message("u1", "your parcel left today")
    fake.script = [(503, error(2))] * 2
    lost = value("replies_lost", "messenger")
    await channel.send_text_message("u1", "your parcel left today")  # no inbox event: nothing would retry
    assert value("replies_lost", "messenger") == lost + 1
    fake.script = [(400, error(100))]  # a request that cannot succeed is lost even in an inbox event
    with turn("messenger", "m_inbound_2"):
        await channel.send_text_message("u1", "your parcel left today")
    assert value("replies_lost", "messenger") == lost + 2
    assert len(fake.bodies) == 5
