"""Tracker and lock stores chosen from the environment (runtime A, against real PostgreSQL and Redis)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rasa.core.lock_store import InMemoryLockStore, RedisLockStore
from rasa.core.tracker_store import RedisTrackerStore, SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.conversations import tracker_store as rasa_stores
from bot.conversations.tracker_store import (
    EnvLockStore,
    EnvTrackerStore,
    StoreConfigError,
    lock_store_choice,
    redis_kwargs,
    sql_store_kwargs,
    tracker_store_choice,
)

DOMAIN = Domain.from_dict({"slots": {"order_id": {"type": "text", "mappings": [{"type": "custom"}]}}})


def test_postgres_url_becomes_sql_tracker_store_arguments():
    kwargs = sql_store_kwargs("postgresql://bot:s%40cret@db.internal:6543/support?sslmode=require")
    assert kwargs == {
        "dialect": "postgresql",
        "host": "db.internal",
        "port": 6543,
        "db": "support",
        "username": "bot",
        "password": "s@cret",
        "query": {"sslmode": "require"},
    }


def test_driver_suffix_is_ignored():
    assert sql_store_kwargs("postgresql+psycopg://u@h/d")["dialect"] == "postgresql"


def test_sqlite_url_relative_and_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert sql_store_kwargs("sqlite:///state/t.db") == {"dialect": "sqlite", "db": "state/t.db"}
    assert (tmp_path / "state").is_dir()
    assert sql_store_kwargs(f"sqlite:///{tmp_path}/a.db")["db"] == f"{tmp_path}/a.db"


@pytest.mark.parametrize("url", ["mysql://u@h/d", "sqlite://"])
def test_unusable_database_urls_are_refused(url):
    with pytest.raises(StoreConfigError):
        sql_store_kwargs(url)


def test_redis_url_parts():
    assert redis_kwargs("rediss://:pw@cache:6380/3") == {
        "host": "cache",
        "port": 6380,
        "db": 3,
        "username": None,
        "password": "pw",
        "use_ssl": True,
    }
    with pytest.raises(StoreConfigError):
        redis_kwargs("http://cache")


def test_choice_follows_the_environment():
    assert tracker_store_choice({})[0] == "sql"
    assert tracker_store_choice({})[1]["dialect"] == "sqlite"
    assert tracker_store_choice({"REDIS_URL": "redis://r"})[0] == "redis"
    both = {"REDIS_URL": "redis://r", "DATABASE_URL": "postgresql://u@h/d"}
    assert tracker_store_choice(both) == ("sql", sql_store_kwargs("postgresql://u@h/d"))
    assert lock_store_choice({}) == ("memory", {})
    assert lock_store_choice({"REDIS_URL": "redis://r/2"})[1]["db"] == 2


async def _round_trip(store, sender: str) -> DialogueStateTracker:
    tracker = DialogueStateTracker.from_events(
        sender, [UserUttered("where is 104523"), SlotSet("order_id", "104523")], slots=DOMAIN.slots
    )
    await store.save(tracker)
    return await store.retrieve(sender)


async def test_default_is_a_sqlite_file_that_survives_a_new_store(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    store = EnvTrackerStore(domain=DOMAIN)
    assert isinstance(store, SQLTrackerStore)
    await _round_trip(store, "default-user")
    again = await EnvTrackerStore(domain=DOMAIN).retrieve("default-user")
    assert again.get_slot("order_id") == "104523"
    assert (tmp_path / "tracker.db").exists()


async def test_postgres_tracker_store(postgres_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    store = EnvTrackerStore(domain=DOMAIN)
    assert isinstance(store, SQLTrackerStore)
    restored = await _round_trip(store, "pg-user")
    assert restored.get_slot("order_id") == "104523"


async def test_redis_tracker_store(redis_url, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("REDIS_URL", redis_url)
    store = EnvTrackerStore(domain=DOMAIN)
    assert isinstance(store, RedisTrackerStore)
    sender = f"redis-user-{id(store)}"
    restored = await _round_trip(store, sender)
    assert restored.get_slot("order_id") == "104523"
    assert store.key_prefix.startswith("loom:")
    store.red.delete(store.key_prefix + sender)


async def test_lock_store_is_redis_when_configured(redis_url, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    store = EnvLockStore()
    assert isinstance(store, RedisLockStore)
    async with store.lock("lock-test-conversation"):
        assert store.get_lock("lock-test-conversation") is not None
    monkeypatch.delenv("REDIS_URL")
    assert isinstance(EnvLockStore(), InMemoryLockStore)


def test_module_has_no_service_dependencies():
    """Runtime A imports this module: it must not need SQLAlchemy 2 or our service code."""
    text = Path(rasa_stores.__file__).read_text(encoding="utf-8")
    assert "bot.storage" not in text and "sqlalchemy" not in text.lower()
