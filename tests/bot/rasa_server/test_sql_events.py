"""The tracker store's plain-SQL read and save give what Rasa's ORM ones give, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conversations.tracker_store import sql_store_kwargs
from bot.rasa_server import sql_events

DOMAIN = Domain.from_dict({"slots": {"order_id": {"type": "text", "mappings": [{"type": "custom"}]}}})
RASA_RETRIEVE = SQLTrackerStore._retrieve
RASA_SAVE = SQLTrackerStore.save


class Published(EventBroker):
    """The events a store streams (Rasa's broker interface; nothing leaves the process)."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def publish(self, event: dict) -> None:
        self.events.append(event)


def session(turn: int) -> list:
    return [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        SlotSet("order_id", f"10{turn}"),
        ActionExecuted("action_listen"),
        UserUttered(f"where is order 10{turn}", {"name": "order_status", "confidence": 0.9}),
        ActionExecuted("utter_order"),
        BotUttered(f"order 10{turn} ships today"),
        ActionExecuted("action_listen"),
    ]


def dicts(tracker: DialogueStateTracker | None) -> list[dict]:
    return [event.as_dict() for event in tracker.events] if tracker else []


def untimed(events: list[dict]) -> list[dict]:
    return [{key: value for key, value in event.items() if key != "timestamp"} for event in events]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path, monkeypatch) -> SQLTrackerStore:
    monkeypatch.setattr(SQLTrackerStore, "_retrieve", RASA_RETRIEVE)
    monkeypatch.setattr(SQLTrackerStore, "save", RASA_SAVE)
    url = (
        f"sqlite:///{tmp_path}/tracker.db"
        if request.param == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    return SQLTrackerStore(domain=DOMAIN, event_broker=Published(), **sql_store_kwargs(url))


def rows(store: SQLTrackerStore, sender_id: str) -> list[tuple]:
    with store.engine.connect() as connection:
        table = store.SQLEvent.__table__
        found = connection.execute(table.select().where(table.c.sender_id == sender_id).order_by(table.c.id))
        return [(r.type_name, r.intent_name, r.action_name, r.timestamp, r.data) for r in found]


async def test_reads_give_rasas_trackers_for_the_last_session_and_for_all(store):
    tracker = DialogueStateTracker.from_events("reader", [], DOMAIN.slots)
    for turn in range(3):  # three sessions, saved the way Rasa saves them, turn by turn
        for event in session(turn):
            tracker.update(event)
        await store.save(tracker)
        tracker = await store.retrieve("reader")
    expected_last = dicts(await store.retrieve("reader"))
    expected_all = dicts(await store.retrieve_full_tracker("reader"))
    assert len(expected_all) == 3 * len(session(0))
    assert expected_last[0]["event"] == "session_started" and len(expected_last) == len(session(0)) - 1
    sql_events.install()
    sql_events.install()  # idempotent
    assert dicts(await store.retrieve("reader")) == expected_last
    assert dicts(await store.retrieve_full_tracker("reader")) == expected_all
    assert await store.retrieve("nobody") is None


async def test_saves_write_rasas_rows_and_stream_every_new_event_once(store):
    """The same conversation saved turn by turn by Rasa (one sender) and by the plain SQL (another)."""
    trackers = {
        sender: DialogueStateTracker.from_events(sender, [ActionExecuted("action_listen")], DOMAIN.slots)
        for sender in ("rasa", "ours")
    }
    for turn in range(3):
        for sender in ("rasa", "ours"):
            if sender == "ours":
                sql_events.install()
            else:
                SQLTrackerStore._retrieve, SQLTrackerStore.save = RASA_RETRIEVE, RASA_SAVE
            tracker = await store.retrieve(sender) or trackers[sender]
            for event in session(turn):
                tracker.update(event)
            await store.save(tracker)
    assert [row[:3] for row in rows(store, "ours")] == [row[:3] for row in rows(store, "rasa")]
    assert len(rows(store, "ours")) == 1 + 3 * len(session(0))  # nothing stored twice
    published = [e for e in store.event_broker.events if e["sender_id"] == "ours"]
    assert len(published) == len(rows(store, "ours"))
    assert [e["event"] for e in published] == [row[0] for row in rows(store, "ours")]
    SQLTrackerStore._retrieve, SQLTrackerStore.save = RASA_RETRIEVE, RASA_SAVE
    ours = dicts(await store.retrieve_full_tracker("ours"))
    rasa = dicts(await store.retrieve_full_tracker("rasa"))
    assert untimed(ours) == untimed(rasa)
    assert [row[3] for row in rows(store, "ours")] == [
        e["timestamp"] for e in ours
    ]  # the timestamp column too
