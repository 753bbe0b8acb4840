"""Rasa's SQLite tracker store keeps its connections open (a pool); PostgreSQL keeps Rasa's options."""

from __future__ import annotations

import sqlite3

import rasa.core.tracker_store as rasa_tracker_store
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy.pool import NullPool, QueuePool

from bot.conversations.tracker_store import EnvTrackerStore
from bot.rasa_server import sqlite_pool


async def test_the_sqlite_store_reuses_its_connections_and_keeps_its_data(tmp_path, monkeypatch):
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert isinstance(EnvTrackerStore().engine.pool, NullPool)  # what SQLAlchemy 1.4 gives SQLite
    monkeypatch.setattr(rasa_tracker_store, "create_engine_kwargs", rasa_tracker_store.create_engine_kwargs)
    sqlite_pool.install()
    sqlite_pool.install()  # idempotent
    store = EnvTrackerStore()
    assert isinstance(store, SQLTrackerStore) and isinstance(store.engine.pool, QueuePool)
    opened: list[object] = []
    from sqlalchemy import event

    event.listen(store.engine, "connect", lambda connection, record: opened.append(connection))
    for turn in range(5):
        tracker = await store.retrieve("pooled") or DialogueStateTracker("pooled", [])
        tracker.update(UserUttered(f"message {turn}"))
        tracker.update(SlotSet("order_id", str(turn)))
        await store.save(tracker)
    assert len(opened) <= sqlite_pool.POOL_SIZE  # ten calls, not ten connections
    again = await store.retrieve("pooled")
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == [f"message {i}" for i in range(5)]
    with sqlite3.connect(tmp_path / "tracker.db") as reader:  # still in WAL mode, readable beside it
        assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_postgresql_and_memory_keep_rasas_options():
    def rasa_kwargs(url):
        return {"pool_size": 50} if str(url).startswith("postgresql") else {}

    assert sqlite_pool.engine_kwargs("postgresql://u@h/db", rasa_kwargs) == {"pool_size": 50}
    assert sqlite_pool.engine_kwargs("sqlite://", rasa_kwargs) == {}
    assert sqlite_pool.engine_kwargs("sqlite:///:memory:", rasa_kwargs) == {}
    assert sqlite_pool.engine_kwargs("sqlite:///var/tracker.db", rasa_kwargs)["poolclass"] is QueuePool
