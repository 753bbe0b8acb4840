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


def one_session(sender: str, turns: int = 2) -> DialogueStateTracker:
    """A conversation of one session, as a read gives it (from its start) and a turn leaves it."""
    events = session(0)[1:]
    for turn in range(1, turns):
        events += session(turn)[2:]  # further turns of the same session
    return DialogueStateTracker.from_events(sender, events, DOMAIN.slots)


async def test_a_saved_tracker_is_read_back_once_from_memory_then_from_the_database(store):
    sql_events.install()
    tracker = one_session("kept")
    await store.save(tracker)
    assert await store.retrieve("kept") is tracker  # no JSON, no replay: the very object
    again = await store.retrieve("kept")  # handed out once: now the database's
    assert again is not tracker and dicts(again) == dicts(tracker)
    SQLTrackerStore._retrieve = RASA_RETRIEVE
    assert dicts(await store.retrieve("kept")) == dicts(tracker)  # what Rasa reads


async def test_a_write_from_elsewhere_sends_the_next_read_to_the_database(store):
    sql_events.install()
    tracker = one_session("shared")
    await store.save(tracker)
    other = await other_store(store)
    theirs = await other.retrieve("shared")
    theirs.update(UserUttered("and my refund?", {"name": "refund", "confidence": 0.9}))
    await other.save(theirs)
    read = await store.retrieve("shared")
    assert read is not tracker and dicts(read) == dicts(theirs)


async def other_store(store: SQLTrackerStore) -> SQLTrackerStore:
    """Another replica's store on the same database."""
    return SQLTrackerStore(domain=DOMAIN, event_broker=None, **sql_store_kwargs(str(store.engine.url)))


async def test_a_tracker_changed_after_its_save_is_not_handed_out(store):
    sql_events.install()
    tracker = one_session("changed")
    await store.save(tracker)
    tracker.update(UserUttered("never saved", {"name": "greet", "confidence": 1.0}))
    read = await store.retrieve("changed")
    assert read is not tracker and len(read.events) == len(tracker.events) - 1


async def test_trackers_a_read_would_give_back_differently_are_not_kept(store):
    sql_events.install()
    two_sessions = DialogueStateTracker.from_events("sessions", session(0) + session(1), DOMAIN.slots)
    await store.save(two_sessions)
    read = await store.retrieve("sessions")
    assert read is not two_sessions
    assert dicts(read) == dicts(two_sessions)[len(session(0)) + 1 :]  # the last session only, as Rasa reads

    old_model = one_session("models")
    await store.save(old_model)
    store.domain = Domain.from_dict(DOMAIN.as_dict())  # a new model's domain: its slots, a new tracker
    read = await store.retrieve("models")
    assert read is not old_model and dicts(read) == dicts(old_model)
    assert sql_events.reads_back_alike(one_session("fine"))
    assert not sql_events.reads_back_alike(two_sessions)
    new_conversation = DialogueStateTracker.from_events("new", session(0), DOMAIN.slots)
    assert not sql_events.reads_back_alike(new_conversation)  # its action_session_start is read no more


async def test_the_kept_trackers_are_bounded(store, monkeypatch):
    sql_events.install()
    kept = sql_events._kept(store)
    monkeypatch.setattr(kept, "size", 3)
    saved = [one_session(f"bounded-{number}", turns=1) for number in range(5)]
    for tracker in saved:
        await store.save(tracker)
    assert [await store.retrieve(t.sender_id) is t for t in saved] == [False, False, True, True, True]


async def test_a_tracker_made_up_elsewhere_is_not_kept_over_the_stored_rows(store):
    """Rasa's replace-events API saves a new tracker over stored rows: a read gives the rows, not it."""
    sql_events.install()
    await store.save(one_session("replaced", turns=1))
    stored = dicts(await store.retrieve("replaced"))
    made_up = DialogueStateTracker.from_events("replaced", session(5)[1:], DOMAIN.slots)
    made_up.update(UserUttered("and the other one?", {"name": "order_status", "confidence": 0.8}))
    made_up.update(BotUttered("which one?"))
    await store.save(made_up)
    read = await store.retrieve("replaced")
    assert read is not made_up
    SQLTrackerStore._retrieve = RASA_RETRIEVE
    assert dicts(read) == dicts(await store.retrieve("replaced")) != dicts(made_up)
    assert len(stored) < len(dicts(read))  # Rasa stored the made-up tracker's extra events after the rows
