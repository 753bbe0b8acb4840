"""The three webhook channels on one real Sanic server, with recording platform API stubs (runtime A).

Attacks go through real HTTP to the real routes. Everything a channel does after accepting a webhook
is visible here: `received` (what reached the assistant), `api_calls` (every call to the Graph or X
API stub, such as a reply or "mark seen") and `mentions` (what monitoring stored).
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from rasa.core.channels.channel import UserMessage
from sanic import Sanic

from bot.x_oauth import OAuth1Credentials
from connectors.inbox import inbox_from_env
from connectors.instagram import InstagramInput
from connectors.mentions import PublicItem
from connectors.messenger import MessengerInput
from connectors.meta_input import MetaConfig
from connectors.security import hub_signature, x_signature
from connectors.state import ConnectorState, MemoryStore
from connectors.twitter import TwitterInput, XConfig
from connectors.webhook_channel import WebhookChannel

from ...ports import free_port

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
PLATFORMS = ("messenger", "instagram", "twitter")
META_SECRET = "security-test-app-secret"
X_SECRET = "security-test-consumer-secret"
BRAND = "1500000000000000001"  # the X account the fixtures were recorded for
TIME_KEYS = ("timestamp", "created_timestamp", "timestamp_ms")


def fixtures(platform: str) -> dict[str, Any]:
    """Every recorded body of a platform, by file name."""
    return {
        path.stem: json.loads(path.read_text(encoding="utf-8"))
        for path in sorted((FIXTURES / platform).glob("*.json"))
    }


def fresh(body: Any, now_ms: int | None = None) -> Any:
    """A recorded body with its events' times moved so the latest is `now_ms` (default now), order kept."""
    stamps: list[int] = []

    def is_time(key: str, item: Any) -> bool:
        return key in TIME_KEYS and (
            (isinstance(item, int) and not isinstance(item, bool))
            or (isinstance(item, str) and item.isdigit())
        )

    def visit(value: Any, shift: int | None) -> Any:
        if isinstance(value, list):
            return [visit(item, shift) for item in value]
        if not isinstance(value, dict):
            return value
        copy = {}
        for key, item in value.items():
            if is_time(key, item) and shift is None:
                stamps.append(int(item))
            moved = is_time(key, item) and shift is not None
            copy[key] = type(item)(int(item) + shift) if moved else visit(item, shift)
        return copy

    visit(body, None)
    if not stamps:
        return body
    return visit(body, (int(time.time() * 1000) if now_ms is None else now_ms) - max(stamps))


def signature_header(platform: str, raw: bytes) -> dict[str, str]:
    """The header the platform would send with `raw`."""
    if platform == "twitter":
        return {"x-twitter-webhooks-signature": x_signature(raw, X_SECRET)}
    return {"X-Hub-Signature-256": hub_signature(raw, META_SECRET)}


@dataclass
class RecordingMentions:
    """Stands in for the mentions table."""

    saved: list[PublicItem] = field(default_factory=list)

    async def save(self, item: PublicItem) -> bool:
        """Record; new if its id was not saved before."""
        new = all(m.external_id != item.external_id for m in self.saved)
        self.saved.append(item)
        return new

    def close(self) -> None:
        """Nothing to release."""


@dataclass
class Server:
    """The running channels and everything they did."""

    base: str
    channels: dict[str, WebhookChannel]
    received: list[UserMessage]
    api_calls: list[str]
    mentions: RecordingMentions
    http: aiohttp.ClientSession

    def url(self, platform: str) -> str:
        """The platform's webhook."""
        return f"{self.base}/{platform}/webhook"

    async def post(
        self, platform: str, raw: bytes, headers: dict[str, str] | None = None, signed: bool = True
    ) -> tuple[int, str]:
        """POST raw bytes, signed as the platform would unless `signed` is False; status and body."""
        sent = {"Content-Type": "application/json", **(signature_header(platform, raw) if signed else {})}
        sent.update(headers or {})
        async with self.http.post(self.url(platform), data=raw, headers=sent) as answer:
            return answer.status, await answer.text()

    async def post_json(self, platform: str, body: Any) -> tuple[int, str]:
        """POST a body as JSON, signed."""
        return await self.post(platform, json.dumps(body).encode())

    async def settle(self) -> None:
        """Wait until everything accepted so far has been processed."""
        for channel in self.channels.values():
            await channel.worker.settle()


async def start_stubs(calls: list[str]) -> tuple[web.AppRunner, str]:
    """Graph and X API stubs answering like the platforms; every call is recorded."""

    async def graph(request: web.Request) -> web.Response:
        body = await request.json()
        calls.append(f"graph {body.get('sender_action') or 'message'} {body['recipient']['id']}")
        return web.json_response({"recipient_id": body["recipient"]["id"], "message_id": uuid.uuid4().hex})

    async def dm(request: web.Request) -> web.Response:
        calls.append(f"x dm {request.match_info['participant']}")
        return web.json_response({"data": {"dm_conversation_id": "1-2", "dm_event_id": uuid.uuid4().hex}})

    app = web.Application()
    app.router.add_post("/v21.0/me/messages", graph)
    app.router.add_post("/2/dm_conversations/with/{participant}/messages", dm)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


async def serve(
    state: ConnectorState | None = None, var_dir: Path | None = None, inbox_env: dict[str, str] | None = None
) -> AsyncIterator[Server]:
    """Messenger, Instagram and X channels on one Sanic server, as Rasa registers them.

    Their inbox is the embedded default's (SQLite) in `var_dir`, or in a fresh directory, unless
    `inbox_env` names another engine (`REDIS_URL`, `DATABASE_URL`).
    """
    env = inbox_env or {"VAR_DIR": str(var_dir or tempfile.mkdtemp(prefix="inbox-"))}
    calls: list[str] = []
    runner, stub_url = await start_stubs(calls)
    meta = MetaConfig(META_SECRET, "verify-token", "page-token", graph_api_url=f"{stub_url}/v21.0")
    mentions = RecordingMentions()
    x_config = XConfig(OAuth1Credentials("ck", X_SECRET, "at", "ats"), user_id=BRAND, api_url=stub_url)
    channels: dict[str, WebhookChannel] = {
        "messenger": MessengerInput(meta, state or ConnectorState(MemoryStore()), inbox=inbox_from_env(env)),
        "instagram": InstagramInput(meta, state or ConnectorState(MemoryStore()), inbox=inbox_from_env(env)),
        "twitter": TwitterInput(
            x_config,
            state or ConnectorState(MemoryStore()),
            mentions,  # type: ignore[arg-type]
            inbox=inbox_from_env(env),
        ),
    }
    for channel in channels.values():  # comments and mentions alike
        channel.mentions = mentions  # type: ignore[assignment]
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        received.append(message)

    Sanic.test_mode = True
    app = Sanic(f"security_{uuid.uuid4().hex[:8]}")
    app.config.ACCESS_LOG = False  # thousands of requests in the fuzzer
    for name, channel in channels.items():
        app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{name}")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    http = aiohttp.ClientSession()
    try:
        yield Server(f"http://127.0.0.1:{port}/webhooks", channels, received, calls, mentions, http)
    finally:
        await http.close()
        for channel in channels.values():
            await channel.close()
        server.close()
        await server.wait_closed()
        await runner.cleanup()


@pytest.fixture
async def server() -> AsyncIterator[Server]:
    """The three channels, each with its own in-process state."""
    async for running in serve():
        yield running
