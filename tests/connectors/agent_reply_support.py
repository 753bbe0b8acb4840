"""A Rasa-side stack for the agent reply route: three channels, a tracker store, and the simulator.

The channels run in a real Sanic server with a real Rasa `Agent` (SQLite tracker store, in-process
lock store) in `app.ctx`, as `rasa run` sets them up; Meta's Send API and X's DM API are the
project's simulator (`bot.simulator`), in process, which checks every request as the platforms do
(tokens, OAuth 1.0a, shapes, Meta's 24 h / 7 day window) and delivers signed webhooks to the channels.
Only the NLU and policies are missing (no trained model here): each customer message is logged in
its tracker as Rasa's processor would, with its input channel.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.core.lock_store import InMemoryLockStore
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, Event, UserUttered
from sanic import Sanic

from bot.simulator.app import create_app
from bot.simulator.config import SimulatorConfig
from bot.x_oauth import OAuth1Credentials
from connectors.instagram import InstagramInput
from connectors.messenger import MessengerInput
from connectors.meta_input import MetaConfig
from connectors.state import ConnectorState, MemoryStore
from connectors.twitter import TwitterInput, XConfig
from connectors.webhook_channel import WebhookChannel

from .conftest import free_port, sqlite_inbox

TOKEN = "desk-test-token"
SIM = SimulatorConfig(
    app_secret="agent-test-app-secret",
    verify_token="agent-test-verify",
    page_access_token="agent-test-page-token",
    instagram_access_token="agent-test-ig-token",
    x_consumer_key="agent-test-ck",
    x_consumer_secret="agent-test-cs",
    x_access_token="agent-test-at",
    x_access_token_secret="agent-test-ats",
)
HOUR_MS = 3_600_000


def reply_body(conversation_id: str, text: str = "Hi, Ada here from Loom & Co.", **fields: Any) -> dict:
    """A valid request body; `fields` replace or add top-level fields."""
    body = {
        "conversation_id": conversation_id,
        "text": text,
        "client_id": f"r-{uuid.uuid4().hex[:12]}",
        "agent": {"id": 3, "name": "Ada"},
    }
    return {**body, **fields}


def customer_id() -> str:
    """A fresh customer id (digits, as both Meta and X use)."""
    return str(int(time.time() * 1000)) + str(uuid.uuid4().int % 10_000).zfill(4)


@dataclass
class Stack:
    """The running Rasa side and the simulator, with the calls the tests make."""

    url: str
    sim_url: str
    agent: Agent
    channels: dict[str, WebhookChannel]
    received: list[UserMessage]
    http: aiohttp.ClientSession

    async def reply(
        self,
        platform: str,
        body: Any = None,
        raw: bytes | None = None,
        authorization: str | None = f"Bearer {TOKEN}",
    ) -> tuple[int, Any, Mapping[str, str]]:
        """POST /webhooks/<platform>/agent_reply; status, JSON answer, headers."""
        headers = {"Content-Type": "application/json"}
        if authorization is not None:
            headers["Authorization"] = authorization
        data = raw if raw is not None else json.dumps(body).encode()
        async with self.http.post(f"{self.url}/{platform}/agent_reply", data=data, headers=headers) as r:
            return r.status, await r.json(content_type=None), r.headers

    async def sim(self, method: str, path: str, **kwargs: Any) -> Any:
        """A simulator control call; its JSON answer (must be a 200)."""
        async with self.http.request(method, f"{self.sim_url}{path}", **kwargs) as r:
            assert r.status == 200, await r.text()
            return await r.json()

    async def customer_writes(self, platform: str, user_id: str, hours_ago: float = 0) -> None:
        """The customer writes to us: a signed webhook from the simulator through the channel."""
        if platform == "twitter" or not hours_ago:
            message = {"platform": platform, "user_id": user_id, "text": "where is my order?"}
            await self.sim("POST", "/_sim/customer_message", json=message)
        else:  # a message from the past: the channel and the simulator both see its time
            when_ms = int(time.time() * 1000 - hours_ago * HOUR_MS)
            webhook = {"platform": platform, "body": meta_webhook(platform, user_id, when_ms)}
            await self.sim("POST", "/_sim/webhook", json=webhook)
            inbound = {"platform": platform, "user_id": user_id, "timestamp": when_ms / 1000}
            await self.sim("POST", "/_sim/inbound_time", json=inbound)
        await self.settle()

    async def sends(self, platform: str, recipient: str) -> list[dict]:
        """Message sends (not sender actions) the simulator received for `recipient`."""
        records = await self.sim("GET", "/_sim/sends", params={"platform": platform, "recipient": recipient})
        return [r for r in records if isinstance(r["body"], dict) and "sender_action" not in r["body"]]

    async def fail(self, **rule: Any) -> None:
        """The simulator's next matching sends fail (or are slow)."""
        await self.sim("POST", "/_sim/fail", json=rule)

    async def events(self, conversation_id: str) -> list[Event]:
        """The conversation's events as stored."""
        tracker = await self.agent.tracker_store.retrieve(conversation_id)
        return list(tracker.events) if tracker is not None else []

    async def agent_turns(self, conversation_id: str) -> list[BotUttered]:
        """The agent's messages in the conversation."""
        return [
            e
            for e in await self.events(conversation_id)
            if isinstance(e, BotUttered) and e.metadata.get("author") == "agent"
        ]

    async def settle(self) -> None:
        """Wait until the channels processed everything delivered so far."""
        for channel in self.channels.values():
            await channel.worker.settle()


def meta_webhook(platform: str, user_id: str, when_ms: int) -> dict:
    """A customer's text message as Meta delivers it."""
    account = SIM.account_id(platform)
    item = {
        "sender": {"id": user_id},
        "recipient": {"id": account},
        "timestamp": when_ms,
        "message": {"mid": f"m_{uuid.uuid4().hex}", "text": "are you there?"},
    }
    return {
        "object": "page" if platform == "messenger" else "instagram",
        "entry": [{"id": account, "time": when_ms, "messaging": [item]}],
    }


def channels(sim_url: str) -> dict[str, WebhookChannel]:
    """The three channels, configured for the simulator, with fast retries."""

    def meta(token: str) -> MetaConfig:
        # No app id: our echoes must be recognised by the message ids we sent.
        return MetaConfig(SIM.app_secret, SIM.verify_token, token, f"{sim_url}/v21.0")

    x_credentials = OAuth1Credentials(
        SIM.x_consumer_key, SIM.x_consumer_secret, SIM.x_access_token, SIM.x_access_token_secret
    )
    built: dict[str, WebhookChannel] = {
        "messenger": MessengerInput(
            meta(SIM.page_access_token), ConnectorState(MemoryStore()), TOKEN, inbox=sqlite_inbox()
        ),
        "instagram": InstagramInput(
            meta(SIM.instagram_access_token), ConnectorState(MemoryStore()), TOKEN, inbox=sqlite_inbox()
        ),
        "twitter": TwitterInput(
            XConfig(x_credentials, SIM.x_user_id, f"{sim_url}/x"),
            ConnectorState(MemoryStore()),
            desk_token=TOKEN,
            inbox=sqlite_inbox(),
        ),
    }
    for channel in built.values():
        channel.model_required = False  # the Agent here has no model; `on_new_message` plays Rasa
        client = channel.client  # type: ignore[attr-defined]
        client.base_delay = client.max_delay = 0.01
        # These tests play customers who wrote days ago by delivering webhooks dated then, which no
        # platform does; the channels' age limit (two days) has its own tests in tests/security/webhooks.
        channel.limits = replace(channel.limits, max_age_seconds=10 * 24 * 3600)
    return built


async def start_stack(tmp_path: Path) -> AsyncIterator[Stack]:
    """Simulator, channels, Rasa agent and Sanic server, all on local ports; stopped afterwards."""
    port, sim_port = free_port(), free_port()
    url, sim_url = f"http://127.0.0.1:{port}/webhooks", f"http://127.0.0.1:{sim_port}"
    config = SimulatorConfig(**{**SIM.__dict__, "webhook_base": url, "public_url": sim_url})
    sim_runner = web.AppRunner(create_app(config))
    await sim_runner.setup()
    await web.TCPSite(sim_runner, "127.0.0.1", sim_port).start()

    tracker_store = SQLTrackerStore(dialect="sqlite", db=str(tmp_path / "tracker.db"))
    agent = Agent(domain=Domain.empty(), tracker_store=tracker_store, lock_store=InMemoryLockStore())
    received: list[UserMessage] = []

    async def on_new_message(message: UserMessage) -> None:
        """Rasa's processor without a model: log the customer's message in the conversation."""
        received.append(message)
        async with agent.lock_store.lock(message.sender_id):
            tracker = await agent.tracker_store.get_or_create_tracker(message.sender_id)
            tracker.update(
                UserUttered(message.text, input_channel=message.input_channel, metadata=message.metadata)
            )
            await agent.tracker_store.save(tracker)

    built = channels(sim_url)
    Sanic.test_mode = True
    app = Sanic(f"agent_reply_{uuid.uuid4().hex[:8]}")
    app.ctx.agent = agent
    for name, channel in built.items():
        app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{name}")
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    http = aiohttp.ClientSession()
    try:
        yield Stack(url, sim_url, agent, built, received, http)
    finally:
        await http.close()
        for channel in built.values():
            await channel.close()
        server.close()
        await server.wait_closed()
        await sim_runner.cleanup()
