"""The REST channel (`connectors.rest`): a bearer token, and no client-chosen channel or metadata (runtime A).

Served by a real Sanic server; what reaches the assistant is recorded. The end-to-end tests through
Rasa are in tests/security/test_internal_surface.py (runtime B).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
import pytest
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from connectors.rest import TokenRestInput

from .conftest import free_port

TOKEN = "rest-test-token-0123456789"
SPOOFED = {
    "sender": "customer-7",
    "message": "where is my order",
    "input_channel": "messenger",
    "metadata": {"is_external": True, "screen_name": "famous_vip", "image_url": "http://evil.example/x.png"},
}


@asynccontextmanager
async def serve(channel: TokenRestInput) -> AsyncIterator[tuple[str, list[UserMessage]]]:
    """The channel on a real server answering "ok" to every message; its URL and what it received."""
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        await message.output_channel.send_text_message(message.sender_id, "ok")

    Sanic.test_mode = True
    app = Sanic(f"rest_{uuid.uuid4().hex[:8]}")
    app.blueprint(channel.blueprint(on_new_message), url_prefix="/webhooks/rest")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    try:
        yield f"http://127.0.0.1:{port}/webhooks/rest/webhook", received
    finally:
        server.close()
        await server.wait_closed()


async def post(url: str, body: object, token: str | None = None, query: str = "") -> tuple[int, str]:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + query, json=body, headers=headers) as answer,
    ):
        return answer.status, await answer.text()


def test_the_token_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("REST_CHANNEL_TOKEN", TOKEN)
    assert TokenRestInput.from_credentials(None).token == TOKEN
    monkeypatch.setenv("REST_CHANNEL_TOKEN", "")
    assert TokenRestInput.from_credentials(None).token is None
    assert TokenRestInput.name() == "rest"  # same URL as Rasa's channel: /webhooks/rest/webhook


@pytest.mark.parametrize(
    "header",
    [None, "", f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer"],
)
async def test_without_the_token_nothing_reaches_the_assistant(header: str | None):
    async with serve(TokenRestInput(TOKEN)) as (url, received):
        headers = {"Authorization": header} if header is not None else {}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=SPOOFED, headers=headers) as answer,
        ):
            assert answer.status == 401
            assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert received == []


async def test_without_a_configured_token_the_channel_is_off(caplog):
    async with serve(TokenRestInput(None)) as (url, received):
        for token in (None, "", "anything", "None"):
            status, text = await post(url, SPOOFED, token)
            assert status == 403 and "REST_CHANNEL_TOKEN" in text
        assert received == []
        async with aiohttp.ClientSession() as session, session.get(url.removesuffix("webhook")) as answer:
            assert answer.status == 403
    assert "set REST_CHANNEL_TOKEN" in caplog.text


async def test_with_the_token_the_message_goes_through_without_spoofed_channel_or_metadata():
    async with serve(TokenRestInput(TOKEN)) as (url, received):
        status, text = await post(url, SPOOFED, f" {TOKEN} ")
        assert status == 200 and json.loads(text) == [{"recipient_id": "customer-7", "text": "ok"}]
        [message] = received
        assert (message.sender_id, message.text) == ("customer-7", "where is my order")
        assert message.input_channel == "rest"
        assert not message.metadata


async def test_streaming_keeps_the_same_rules():
    async with serve(TokenRestInput(TOKEN)) as (url, received):
        assert (await post(url, SPOOFED, "wrong", query="?stream=true"))[0] == 401
        assert received == []
        status, text = await post(url, SPOOFED, TOKEN, query="?stream=true")
        assert status == 200 and [json.loads(line) for line in text.splitlines()] == [
            {"recipient_id": "customer-7", "text": "ok"}
        ]
        [message] = received
        assert message.input_channel == "rest" and not message.metadata


@pytest.mark.parametrize(
    "body",
    [
        [],
        "hi",
        {"sender": "a"},
        {"message": "hi"},
        {"sender": 5, "message": "hi"},
        {"sender": "a", "message": 5},
    ],
)
async def test_a_malformed_body_is_a_400(body: object):
    async with serve(TokenRestInput(TOKEN)) as (url, received):
        assert (await post(url, body, TOKEN))[0] == 400
        assert received == []


async def test_a_body_that_is_not_json_is_a_400():
    async with serve(TokenRestInput(TOKEN)) as (url, received):
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as session:
            for data in (b"{not json", b"", b"\xff\xfe"):
                async with session.post(url, data=data, headers=headers) as answer:
                    assert answer.status == 400, data
        assert received == []
