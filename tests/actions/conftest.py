"""Actions run against a real, seeded PostgreSQL database."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.services import services
from bot.storage.db import create_sync_engine
from bot.storage.seed import seed

from .responses import render


@pytest.fixture
def seeded_db(fresh_database, monkeypatch) -> Iterator[str]:
    """A freshly migrated and seeded PostgreSQL database of the test's own, used by `services()`."""
    url = fresh_database("postgresql")
    engine = create_sync_engine(url)
    seed(engine)
    engine.dispose()
    monkeypatch.setenv("DATABASE_URL", url)
    services.cache_clear()
    yield url
    services.cache_clear()


# A seeded Messenger identity (bot/storage/seed/shop.yml): Amy Clarke, orders 104523 and 112930.
AMY = ("messenger", "sim-amy")


def make_tracker(
    slots: dict[str, Any] | None = None,
    text: str = "",
    intent: str = "order_status",
    entities: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] | None = None,
    channel: str = "rest",
    sender: str = "test-user",
) -> Tracker:
    """A tracker as the action server receives it; its latest user message came in on `channel`."""
    latest = {"text": text, "intent": {"name": intent, "confidence": 0.9}, "entities": entities or []}
    if events is None:
        events = [{"event": "user", "text": text, "parse_data": latest, "input_channel": channel}]
    return Tracker(
        sender_id=sender,
        slots=slots or {},
        latest_message=latest,
        events=events,
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )


def rendered(dispatcher: CollectingDispatcher) -> list[dict[str, Any]]:
    """The messages an action sent, their responses rendered from domain.yml as Rasa renders them."""
    return [render(message) for message in dispatcher.messages]


def texts(dispatcher: CollectingDispatcher) -> list[str]:
    """The texts an action sent."""
    return [message["text"] for message in rendered(dispatcher)]
