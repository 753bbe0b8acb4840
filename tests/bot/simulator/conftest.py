"""A running simulator and a tiny stand-in for our connectors' webhook endpoints."""

from __future__ import annotations

import base64
import hashlib
import hmac
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
X_CONSUMER_KEY = "test-x-consumer-key"
X_CONSUMER_SECRET = "test-x-consumer-secret"
X_ACCESS_TOKEN = "test-x-access-token"
X_ACCESS_TOKEN_SECRET = "test-x-access-secret"
X_USER_ID = "1500000000000000001"
X_SCREEN_NAME = "loomandco"


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
    crc_secret: str = X_CONSUMER_SECRET
    crc_tokens: list[str] = field(default_factory=list)


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

    async def crc(request: web.Request) -> web.Response:
        """What our X connector does with X's challenge-response check."""
        token = request.query.get("crc_token", "")
        state.crc_tokens.append(token)
        digest = hmac.new(state.crc_secret.encode(), token.encode(), hashlib.sha256).digest()
        return web.json_response({"response_token": "sha256=" + base64.b64encode(digest).decode()})

    app = web.Application()
    for platform in ("messenger", "instagram", "twitter"):
        app.router.add_post(f"/webhooks/{platform}/webhook", webhook)
        app.router.add_get(f"/webhooks/{platform}/webhook", crc if platform == "twitter" else verification)
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
        "x_consumer_key": X_CONSUMER_KEY,
        "x_consumer_secret": X_CONSUMER_SECRET,
        "x_access_token": X_ACCESS_TOKEN,
        "x_access_token_secret": X_ACCESS_TOKEN_SECRET,
        "x_user_id": X_USER_ID,
        "x_screen_name": X_SCREEN_NAME,
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
