"""A migrated database (PostgreSQL and SQLite) with agents, tickets and Rasa-shaped conversation events."""

from __future__ import annotations

import json
import re
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert

from bot.conversations.tail import EVENTS
from bot.desk import passwords
from bot.desk.accounts import Accounts
from bot.desk.config import DeskConfig, Lockout
from bot.handoff.tickets import HandoffService
from bot.settings import Settings
from bot.storage.db import Database

PASSWORD = "correct horse battery"
OWASP_COST = passwords.CURRENT


@pytest.fixture(autouse=True)
def quick_hashing(monkeypatch) -> None:
    """OWASP's scrypt cost takes about 0.4 s a hash: tests that are not about it hash cheaply.

    Tests about hashing cost, re-hashing and timing ask for `owasp_cost`, which puts the real one back.
    """
    monkeypatch.setattr(passwords, "CURRENT", passwords.Cost(2**10, 8, 1))


@pytest.fixture
def owasp_cost(monkeypatch) -> passwords.Cost:
    """The production hashing cost, for the tests about it."""
    monkeypatch.setattr(passwords, "CURRENT", OWASP_COST)
    return OWASP_COST


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request, fresh_database) -> str:
    """Each test runs on PostgreSQL and on SQLite, on its own empty schema at head (tests/db_support.py).

    With the columns of Rasa's SQL tracker-store `events` table that the desk reads.
    """
    return fresh_database(request.param, rasa_events=True)


@pytest.fixture
async def database(database_url) -> AsyncIterator[Database]:
    """An open async database."""
    db = Database(database_url)
    yield db
    await db.close()


@pytest.fixture
def config(database_url, tmp_path) -> DeskConfig:
    """Desk settings on the test database; Rasa is not reachable (port 9 discards)."""
    settings = Settings(database_url=database_url, var_dir=str(tmp_path))
    return DeskConfig(
        settings=settings, rasa_url="http://127.0.0.1:9", lockout=Lockout(attempts=3, minutes=15)
    )


@pytest.fixture
async def accounts(database) -> Accounts:
    """The account service with a lock-out after 3 failures."""
    return Accounts(database, Lockout(attempts=3, minutes=15))


@pytest.fixture
async def people(accounts) -> dict[str, Any]:
    """Two agents and a supervisor."""
    return {
        "ada": await accounts.add("ada", "Ada", PASSWORD),
        "bob": await accounts.add("bob", "Bob", PASSWORD),
        "sam": await accounts.add("sam", "Sam", PASSWORD, role="supervisor"),
    }


@pytest.fixture
def open_ticket(database) -> Callable[..., Any]:
    """Open a handoff ticket as the bot's action does."""

    async def make(conversation_id: str = "psid-1", **kwargs: Any) -> int:
        values = {
            "channel": "messenger",
            "reason": "customer_request",
            "sentiment_trend": -0.4,
            "priority": 50,
            "summary": "Asked about: refund. Messages: 2.",
            "customer_name": "Jo Customer",
            **kwargs,
        }
        info = await HandoffService(database).open_ticket(conversation_id=conversation_id, **values)
        return info.id

    return make


@pytest.fixture
def store_event(database) -> Callable[..., Any]:
    """Write an event into the tracker-store table the way Rasa's SQLTrackerStore does."""

    async def store(conversation_id: str, event: dict[str, Any]) -> None:
        event = {"timestamp": time.time(), **event}
        row = {
            "sender_id": conversation_id,
            "type_name": event["event"],
            "timestamp": event["timestamp"],
            "intent_name": ((event.get("parse_data") or {}).get("intent") or {}).get("name"),
            "action_name": event.get("name"),
            "data": json.dumps(event),
        }
        async with database.engine.begin() as connection:
            await connection.execute(insert(EVENTS).values(**row))

    return store


def user_event(text: str, label: str = "negative", score: float = -0.6, **metadata: Any) -> dict[str, Any]:
    """A customer message as Rasa stores it (our sentiment component's output included)."""
    return {
        "event": "user",
        "text": text,
        "input_channel": "messenger",
        "parse_data": {
            "intent": {"name": "request_refund", "confidence": 0.93},
            "sentiment": {"label": label, "score": score, "confidence": 0.8, "signals": []},
        },
        "metadata": metadata,
    }


async def client_for(server: TestServer, username: str | None) -> TestClient:
    """A browser-like client, signed in as `username` unless None."""
    client = TestClient(server)
    await client.start_server()
    if username:
        page = await client.get("/login")
        token = re.search(r'name="login_csrf" value="([^"]+)"', await page.text()).group(1)
        answer = await client.post(
            "/login",
            data={"username": username, "password": PASSWORD, "login_csrf": token},
            allow_redirects=False,
        )
        assert answer.status == 303, await answer.text()
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)
