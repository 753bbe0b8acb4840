"""REDIS_URL without DATABASE_URL: Redis takes the locks, conversations stay in `$VAR_DIR/tracker.db`.

The desk (and the monitoring worker, and escalation) follow conversations by tailing Rasa's SQL
`events` table. When REDIS_URL alone once moved Rasa's tracker store to Redis, the desk kept reading
an empty `tracker.db` and showed escalated conversations without a word of what the customer said.
This runs the real stack in that configuration: a customer asks for a person, an agent signs in to
the desk and reads the transcript, and the tracker rows are in the SQLite file.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.conversations.tracker_store import sqlite_path, tracker_database_url
from bot.desk.accounts import Accounts
from bot.desk.config import Lockout
from bot.devtools.devstack import Ports, Stack
from bot.settings import Settings
from bot.storage.db import Database, create_sync_engine
from bot.storage.models import HandoffTicket

from .conftest import PORT_OFFSET, start

REDIS_DB = 11  # this test's own database: flushed before the stack starts
PASSWORD = "redis-only test password"


def redis_db_url(url: str, db: int) -> str:
    """`url` (the test Redis server) with its database number replaced."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{db}"))


@pytest.fixture(scope="module")
def redis_only_stack(redis_url, tmp_path_factory) -> Iterator[Stack]:
    """The stack with REDIS_URL set and DATABASE_URL unset, in a fresh VAR_DIR, on ports 5700-5715."""
    url = redis_db_url(redis_url, REDIS_DB)
    redis.Redis.from_url(url).flushdb()
    env = {"VAR_DIR": str(tmp_path_factory.mktemp("var")), "DATABASE_URL": None, "REDIS_URL": url}
    base = 5700 + PORT_OFFSET
    stack = start(env, Ports(base, base + 5, base + 10, base + 15))
    yield stack
    stack.stop()


def settings_of(stack: Stack) -> Settings:
    return Settings.from_env({k: v for k, v in stack.env.items() if v is not None})


def ticket_of(stack: Stack, sender: str) -> HandoffTicket:
    engine = create_sync_engine(settings_of(stack).database_url)
    try:
        with Session(engine) as session:
            [ticket] = session.scalars(select(HandoffTicket).where(HandoffTicket.conversation_id == sender))
            return ticket
    finally:
        engine.dispose()


def add_agent(stack: Stack) -> str:
    username = f"agent{uuid.uuid4().hex[:8]}"

    async def create() -> None:
        database = Database(settings_of(stack).database_url)
        try:
            await Accounts(database, Lockout()).add(username, username.title(), PASSWORD, "agent")
        finally:
            await database.close()

    asyncio.run(create())
    return username


def signed_in(stack: Stack, username: str) -> requests.Session:
    """A desk session, signed in through the sign-in form as a browser would."""
    browser = requests.Session()
    page = browser.get(f"{stack.desk_url}/login", timeout=30)
    [token] = re.findall(r'name="login_csrf" value="([^"]+)"', page.text)
    form = {"login_csrf": token, "username": username, "password": PASSWORD}
    answer = browser.post(f"{stack.desk_url}/login", data=form, timeout=30)
    assert answer.status_code == 200 and answer.url.endswith("/queue"), answer.text[:500]
    return browser


def test_with_only_redis_url_the_desk_shows_the_escalated_conversation(redis_only_stack):
    stack = redis_only_stack
    sender = f"redis-only-{uuid.uuid4().hex[:10]}"
    first = "i want to talk to a human"
    assert "ticket #" in "\n".join(m.get("text", "") for m in stack.say(sender, first))
    ticket = ticket_of(stack, sender)

    # The desk shows what the customer said (from Rasa's `events` table).
    browser = signed_in(stack, add_agent(stack))
    deadline = time.monotonic() + 30
    while True:
        page = browser.get(f"{stack.desk_url}/tickets/{ticket.id}", timeout=30)
        assert page.status_code == 200
        if first in page.text or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert first in page.text, "the desk shows no transcript: it reads another tracker store than Rasa's"

    # Rasa wrote the conversation into the SQLite file in VAR_DIR, the file the desk reads.
    url = tracker_database_url({k: v for k, v in stack.env.items() if v is not None})
    assert url == f"sqlite:///{stack.env['VAR_DIR']}/tracker.db"
    database = sqlite_path(url)
    assert database is not None and database.exists()
    with sqlite3.connect(database) as connection:
        texts = [
            text
            for (text,) in connection.execute(
                "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (sender,)
            )
        ]
    assert any(first in text for text in texts)
    # ... and not into Redis (Rasa's RedisTrackerStore keys are `<prefix>:tracker:<sender>`).
    assert not redis.Redis.from_url(str(stack.env["REDIS_URL"])).keys(f"*tracker:{sender}")
