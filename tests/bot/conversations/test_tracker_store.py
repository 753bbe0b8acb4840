"""Tracker and lock stores chosen from the environment (runtime A, against real PostgreSQL and Redis)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from rasa.core.lock_store import InMemoryLockStore, RedisLockStore
from rasa.core.tracker_store import SQLTrackerStore
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
    sqlite_path,
    tracker_database_url,
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


def test_a_redis_db_in_the_query_is_the_one_the_inbox_uses():
    """The hand-written reader ignored `?db=4`: Rasa's lock store went to db 0, the inbox to db 4."""
    import redis

    url = "redis://:p%40ss@cache:6380?db=4"
    inbox_side = redis.Redis.from_url(url).connection_pool.connection_kwargs  # connectors/inbox_redis.py
    assert redis_kwargs(url) == {
        "host": "cache",
        "port": 6380,
        "db": 4,
        "username": None,
        "password": "p@ss",
        "use_ssl": False,
    }
    assert (inbox_side["db"], inbox_side["password"]) == (4, "p@ss")


def test_database_urls_are_read_as_sqlalchemy_reads_them():
    from sqlalchemy.engine import make_url

    url = "postgres://loom%2Bbot:p%3Aw%2Fd@[::1]:5433/support?sslmode=require&application_name=rasa"
    kwargs, parsed = sql_store_kwargs(url), make_url(url)
    assert kwargs["dialect"] == "postgresql"
    assert (kwargs["host"], kwargs["port"], kwargs["db"]) == (parsed.host, parsed.port, parsed.database)
    assert (kwargs["username"], kwargs["password"]) == ("loom+bot", "p:w/d")
    assert kwargs["query"] == {"sslmode": "require", "application_name": "rasa"}
    with pytest.raises(StoreConfigError, match="not a database URL") as refused:
        sql_store_kwargs("postgresql://u:secret@h:port/d")
    assert "secret" not in str(refused.value)


def test_trackers_are_in_database_url_else_a_sqlite_file_in_var_dir():
    assert tracker_database_url({}) == "sqlite:///var/tracker.db"
    assert tracker_database_url({"VAR_DIR": "/srv/loom"}) == "sqlite:////srv/loom/tracker.db"
    assert tracker_database_url({"VAR_DIR": ""}) == "sqlite:///var/tracker.db"
    pg = {"DATABASE_URL": "postgresql://u@h/d", "VAR_DIR": "/srv/loom"}
    assert tracker_database_url(pg) == "postgresql://u@h/d"


def test_sqlite_path_of_a_tracker_url(tmp_path):
    assert sqlite_path(f"sqlite:///{tmp_path}/tracker.db") == tmp_path / "tracker.db"
    assert sqlite_path("sqlite:///var/tracker.db") == Path("var/tracker.db")
    assert sqlite_path("postgresql://u@h/d") is None


@pytest.mark.parametrize(
    "env",
    [
        {"REDIS_URL": "redis://r"},
        {"REDIS_URL": "redis://r/3", "VAR_DIR": "/srv/loom"},
        {"REDIS_URL": "redis://r", "DATABASE_URL": "postgresql://u@h/d"},
    ],
)
def test_redis_url_never_moves_the_trackers(env):
    """The desk and monitoring tail the SQL `events` table: REDIS_URL picks only the lock store."""
    without_redis = {k: v for k, v in env.items() if k != "REDIS_URL"}
    assert tracker_database_url(env) == tracker_database_url(without_redis)
    assert not tracker_database_url(env).startswith("redis")


def test_lock_store_follows_redis_url():
    assert lock_store_choice({}) == ("memory", {})
    assert lock_store_choice({"REDIS_URL": "redis://r/2"})[1]["db"] == 2


def test_readers_use_the_same_choice(tmp_path):
    """The desk's (and monitoring's) Settings name the database Rasa's store was built in."""
    from bot.settings import Settings

    for env in (
        {"VAR_DIR": str(tmp_path), "REDIS_URL": "redis://r/11"},
        {"VAR_DIR": str(tmp_path)},
        {"DATABASE_URL": "postgresql://u@h/d", "REDIS_URL": "redis://r"},
    ):
        assert Settings.from_env(env).tracker_database_url == tracker_database_url(env)
    assert Settings(var_dir=str(tmp_path)).tracker_database_url == f"sqlite:///{tmp_path}/tracker.db"


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


async def test_with_only_redis_url_the_trackers_are_still_the_sqlite_file(tmp_path, redis_url, monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    store = EnvTrackerStore(domain=DOMAIN)
    assert isinstance(store, SQLTrackerStore)
    restored = await _round_trip(store, "redis-only-user")
    assert restored.get_slot("order_id") == "104523"
    assert (tmp_path / "tracker.db").exists()


async def test_lock_store_is_redis_when_configured(redis_url, monkeypatch):
    monkeypatch.setenv("REDIS_URL", redis_url)
    store = EnvLockStore()
    assert isinstance(store, RedisLockStore)
    async with store.lock("lock-test-conversation"):
        assert store.get_lock("lock-test-conversation") is not None
    monkeypatch.delenv("REDIS_URL")
    assert isinstance(EnvLockStore(), InMemoryLockStore)


def test_module_has_no_service_dependencies():
    """Runtime A imports this module: it must not need SQLAlchemy 2 or our service code.

    Of SQLAlchemy it uses only what 1.4 (Rasa's) and 2 share: `make_url` and its error.
    """
    tree = ast.parse(Path(rasa_stores.__file__).read_text(encoding="utf-8"))
    imported = {
        (node.module or "") + "." + alias.name if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    }
    assert not [name for name in imported if name.startswith("bot.")]
    assert {name for name in imported if name.startswith("sqlalchemy")} <= {
        "sqlalchemy.engine.make_url",
        "sqlalchemy.exc.ArgumentError",
    }


def test_the_sqlite_tracker_store_writes_ahead(tmp_path, monkeypatch):
    """Rasa's store, built from endpoints.yml's class: its file is in WAL mode (readers never block it)."""
    import sqlite3

    from rasa.core.tracker_store import SQLTrackerStore

    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    store = EnvTrackerStore()
    assert isinstance(store, SQLTrackerStore)
    with sqlite3.connect(tmp_path / "tracker.db") as reader:
        assert reader.execute("PRAGMA journal_mode").fetchone() == ("wal",)
