"""Monitoring tests share the desk's fixtures: PostgreSQL and SQLite, agents, Rasa-shaped events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.conversations.rasa_api import RasaClient

from ..desk.conftest import (  # noqa: F401  (fixtures are found by name)
    PASSWORD,
    accounts,
    config,
    database,
    database_url,
    open_ticket,
    people,
    quick_hashing,  # autouse: signing people in at OWASP's scrypt cost took over a second a test
    store_event,
    user_event,
)

RASA_TOKEN = "rasa-test-token"


class FakeRasa:
    """Rasa's HTTP API as monitoring uses it: tracker events (pause, resume), trigger_intent, /model/parse."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.intents: dict[str, str] = {}
        self.sentiments: dict[str, dict[str, Any]] = {}  # word in the text -> the parse's sentiment
        self.url = ""
        self.triggers: list[tuple[str, str, str]] = []  # (conversation, intent, output_channel)
        self.failing_triggers = 0  # answer this many triggers with a 500 first

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/conversations/{conversation_id}/tracker/events", self._tracker_events)
        app.router.add_post("/conversations/{conversation_id}/trigger_intent", self._trigger)
        app.router.add_post("/model/parse", self._parse)
        return app

    @staticmethod
    def _authorised(request: web.Request) -> None:
        """As Rasa with --jwt-secret: an HS256 bearer JWT with the admin role, never `?token=`."""
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        try:
            claims = jwt.decode(token, RASA_TOKEN, algorithms=["HS256"]) if scheme == "Bearer" else {}
        except jwt.InvalidTokenError:
            claims = {}
        if "token" in request.query or claims.get("user", {}).get("role") != "admin":
            raise web.HTTPUnauthorized(text="token")

    async def _tracker_events(self, request: web.Request) -> web.Response:
        self._authorised(request)
        self.events.append((request.match_info["conversation_id"], await request.json()))
        return web.json_response({"sender_id": request.match_info["conversation_id"]})

    async def _trigger(self, request: web.Request) -> web.Response:
        self._authorised(request)
        if self.failing_triggers:
            self.failing_triggers -= 1
            return web.Response(status=500, text="boom")
        body = await request.json()
        self.triggers.append(
            (request.match_info["conversation_id"], body["name"], request.query.get("output_channel", ""))
        )
        return web.json_response({"tracker": {"sender_id": request.match_info["conversation_id"]}})

    async def _parse(self, request: web.Request) -> web.Response:
        self._authorised(request)
        text = (await request.json())["text"]
        intent = next((name for word, name in self.intents.items() if word in text.lower()), "nlu_fallback")
        parsed: dict[str, Any] = {"text": text, "intent": {"name": intent, "confidence": 0.9}}
        sentiment = next((s for word, s in self.sentiments.items() if word in text.lower()), None)
        if sentiment is not None:
            parsed["sentiment"] = sentiment
        return web.json_response(parsed)

    def sent_to(self, conversation_id: str) -> list[Any]:
        """The event lists (or single events) posted to one conversation, in order."""
        return [body for cid, body in self.events if cid == conversation_id]


@pytest.fixture
async def fake_rasa() -> AsyncIterator[FakeRasa]:
    """A fake Rasa server on a free local port."""
    fake = FakeRasa()
    async with TestServer(fake.app()) as server:
        fake.url = str(server.make_url("")).rstrip("/")
        yield fake


@pytest.fixture
def rasa(fake_rasa) -> RasaClient:
    """The desk's Rasa client, pointed at the fake."""
    return RasaClient(fake_rasa.url, RASA_TOKEN, "desk-token")


@pytest.fixture
def down_rasa() -> RasaClient:
    """A Rasa client whose server is not there (port 9 discards)."""
    return RasaClient("http://127.0.0.1:9", RASA_TOKEN, "desk-token")
