"""A Messenger/Instagram channel served by a real Sanic server, with a recording Send API stub.

These route tests check what reaches the assistant; the end-to-end tests (runtime B) cover the full
path through Rasa and the fake Graph API that validates every request.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from connectors.inbox_sql import SqlInbox
from connectors.instagram import InstagramInput
from connectors.messenger import MessengerInput
from connectors.meta_input import MetaConfig, MetaInput
from connectors.security import hub_signature
from connectors.state import ConnectorState, MemoryStore

from ..ports import free_port

SECRET = "test-app-secret"
APP_ID = "100000000000042"


TIME_KEYS = ("timestamp", "created_timestamp", "timestamp_ms")


def fresh(body: Any, now_ms: int | None = None) -> Any:
    """A recorded body with its events' times moved so the latest is now, their order kept.

    Fixtures keep the times they were recorded with; the channels refuse events older than two days
    (`connectors.limits`), which has its own tests in tests/security/webhooks.
    """
    stamps: list[int] = []

    def visit(value: Any, rewrite: int | None) -> Any:
        if isinstance(value, list):
            return [visit(item, rewrite) for item in value]
        if not isinstance(value, dict):
            return value
        copy = {}
        for key, item in value.items():
            is_time = key in TIME_KEYS and (
                (isinstance(item, int) and not isinstance(item, bool))
                or (isinstance(item, str) and item.isdigit())
            )
            if is_time and rewrite is None:
                stamps.append(int(item))
            copy[key] = (
                type(item)(int(item) + rewrite) if is_time and rewrite is not None else visit(item, rewrite)
            )
        return copy

    visit(body, None)
    if not stamps:
        return body
    now_ms = int(time.time() * 1000) if now_ms is None else now_ms
    return visit(body, now_ms - max(stamps))


def sqlite_inbox() -> SqlInbox:
    """A fresh inbox in a SQLite file of its own (the embedded default's engine)."""
    return SqlInbox(f"sqlite:///{tempfile.mkdtemp(prefix='inbox-')}/inbox.db", shards=4)


@dataclass
class Recorder:
    """The Send API stub: records every request body, answers like Meta."""

    requests: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.requests.append(body)
        answer = {"recipient_id": body["recipient"]["id"]}
        if "message" in body:
            answer["message_id"] = f"m_sent_{uuid.uuid4().hex[:8]}"
        return web.json_response(answer)


@dataclass
class Served:
    """A running channel and what it handed to the assistant."""

    channel: MetaInput
    url: str
    received: list[UserMessage]
    graph: Recorder

    async def post(
        self, body: Any, signature: str | None = "valid", raw: bytes | None = None
    ) -> tuple[int, str]:
        data = raw if raw is not None else json.dumps(fresh(body)).encode()
        headers = {"Content-Type": "application/json"}
        if signature == "valid":
            headers["X-Hub-Signature-256"] = hub_signature(data, SECRET)
        elif signature:
            headers["X-Hub-Signature-256"] = signature
        async with (
            aiohttp.ClientSession() as session,
            session.post(f"{self.url}/webhook", data=data, headers=headers) as response,
        ):
            return response.status, await response.text()

    async def settle(self) -> None:
        """Wait until the inbox holds nothing unfinished and nothing is in progress."""
        await self.channel.worker.settle()


async def start_graph_stub(handler: Any) -> tuple[web.AppRunner, str]:
    """An HTTP server answering POST /v21.0/me/messages with `handler`; its runner and base URL."""
    graph = web.Application()
    graph.router.add_post("/v21.0/me/messages", handler)
    runner = web.AppRunner(graph)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}/v21.0"


async def start_x_stub(stub: Any) -> tuple[web.AppRunner, str]:
    """A fake X API serving `stub`'s DM, media upload and /img.png handlers; its runner and base URL."""
    app = web.Application()
    app.router.add_post("/2/dm_conversations/with/{participant}/messages", stub.dm)
    app.router.add_post("/2/media/upload", stub.upload)
    app.router.add_get("/img.png", stub.image)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def serve(
    channel_class: type[MetaInput], answer: Callable[[UserMessage], Awaitable[None]] | None = None
) -> AsyncIterator[Served]:
    """The channel on a real Sanic server; `answer` plays the assistant (by default it only records)."""
    recorder = Recorder()
    runner, graph_url = await start_graph_stub(recorder.handle)

    config = MetaConfig(
        app_secret=SECRET,
        verify_token="test-verify-token",
        access_token="test-token",
        graph_api_url=graph_url,
        app_id=APP_ID,
    )
    channel = channel_class(config, ConnectorState(MemoryStore()), inbox=sqlite_inbox())
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)
        if answer is not None:
            await answer(message)

    # Sanic rewrites its request handling at start-up; in test mode it does so from the original
    # code each time, so several apps can run one after another in one process.
    Sanic.test_mode = True
    app = Sanic(f"test_{uuid.uuid4().hex[:8]}")
    app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.name()}")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    try:
        yield Served(channel, f"http://127.0.0.1:{port}/webhooks/{channel.name()}", received, recorder)
    finally:
        await channel.close()
        server.close()
        await server.wait_closed()
        await runner.cleanup()


@pytest.fixture
async def messenger() -> AsyncIterator[Served]:
    async for served in serve(MessengerInput):
        yield served


@pytest.fixture
async def instagram() -> AsyncIterator[Served]:
    async for served in serve(InstagramInput):
        yield served
