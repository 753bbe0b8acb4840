"""A running simulator and a tiny stand-in for our connectors' webhook endpoints."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bot.simulator.app import create_app
from bot.simulator.config import SimulatorConfig

PAGE_TOKEN = "test-page-token"
IG_TOKEN = "test-ig-token"
APP_SECRET = "test-app-secret"
VERIFY_TOKEN = "test-verify-token"
PAGE_ID = "100000000000001"
IG_ID = "17841400000000001"


@dataclass
class Captured:
    path: str
    headers: dict[str, str]
    raw: bytes


@dataclass
class Receiver:
    """Records what the simulator posts; answers `status` with `text`."""

    base_url: str
    requests: list[Captured] = field(default_factory=list)
    status: int = 200
    text: str = "EVENT_RECEIVED"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    state = Receiver(base_url="")

    async def webhook(request: web.Request) -> web.Response:
        state.requests.append(Captured(request.path, dict(request.headers), await request.read()))
        return web.Response(status=state.status, text=state.text)

    async def verification(request: web.Request) -> web.Response:
        query = request.query
        if query.get("hub.mode") == "subscribe" and query.get("hub.verify_token") == VERIFY_TOKEN:
            return web.Response(text=query.get("hub.challenge", ""))
        return web.Response(status=403, text="bad verify token")

    app = web.Application()
    for platform in ("messenger", "instagram"):
        app.router.add_post(f"/webhooks/{platform}/webhook", webhook)
        app.router.add_get(f"/webhooks/{platform}/webhook", verification)
    server = TestServer(app)
    await server.start_server()
    state.base_url = str(server.make_url("/webhooks"))
    try:
        yield state
    finally:
        await server.close()


def make_config(webhook_base: str, **overrides: Any) -> SimulatorConfig:
    values: dict[str, Any] = {
        "app_secret": APP_SECRET,
        "verify_token": VERIFY_TOKEN,
        "page_access_token": PAGE_TOKEN,
        "instagram_access_token": IG_TOKEN,
        "page_id": PAGE_ID,
        "ig_id": IG_ID,
        "webhook_base": webhook_base,
        "webhook_timeout": 2.0,
    }
    values.update(overrides)
    return SimulatorConfig(**values)


@pytest.fixture
async def sim(receiver: Receiver) -> AsyncIterator[TestClient]:
    client = TestClient(TestServer(create_app(make_config(receiver.base_url))))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def send(
    client: TestClient, body: Any, token: str | None = PAGE_TOKEN, node: str = "me", version: str = "v21.0"
) -> tuple[int, dict[str, Any]]:
    """Call the fake Send API with the token in the query string; (HTTP status, JSON answer)."""
    params = {"access_token": token} if token is not None else {}
    response = await client.post(f"/{version}/{node}/messages", json=body, params=params)
    return response.status, await response.json()


async def open_window(client: TestClient, platform: str, user_id: str, ago: float = 0.0) -> None:
    """Pretend `user_id` last wrote `ago` seconds ago."""
    response = await client.post(
        "/_sim/inbound_time", json={"platform": platform, "user_id": user_id, "timestamp": time.time() - ago}
    )
    assert response.status == 200


def text_message(recipient: str = "u1", text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"recipient": {"id": recipient}, "messaging_type": "RESPONSE", "message": {"text": text}, **extra}


def graph_error(answer: dict[str, Any]) -> dict[str, Any]:
    """The error object, checked for Graph's shape."""
    error = answer["error"]
    assert {"message", "type", "code", "fbtrace_id"} <= set(error)
    assert isinstance(error["fbtrace_id"], str) and error["fbtrace_id"]
    return error
