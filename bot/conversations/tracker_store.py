"""Rasa tracker and lock stores chosen from the environment, so one endpoints.yml fits every deployment.

Rasa's endpoints.yml cannot fall back when a variable is unset, so endpoints.yml names these classes
and they pick the store. The tracker store is always SQL: the database of `DATABASE_URL`, else a
SQLite file (`$VAR_DIR/tracker.db`, default `var/`, so a restart loses nothing). `tracker_database_url`
is that choice, the one place it is made: Rasa (EnvTrackerStore) and every reader of conversations
(the desk, the monitoring worker, escalation: bot/settings.py `Settings.tracker_database_url`) call it.

Redis is never the tracker store here, even when `REDIS_URL` is set: our readers follow conversations
by tailing Rasa's SQL `events` table (bot/conversations/tail.py), which Rasa's RedisTrackerStore
does not write. Conversations kept in Redis would be invisible to the desk and the monitoring worker.
`REDIS_URL` picks the lock store (needed with more than one Rasa replica; in process without it) and,
elsewhere, the connectors' inbox and state and the live bus.

Runs in runtime A (Rasa's Python 3.10 environment) and in runtime B (the desk, monitoring): standard
library only at import time; URLs are read by SQLAlchemy's `make_url` and redis-py's `parse_url` (both
runtimes have them), Rasa imported only where a store is built.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_VAR_DIR = "var"
TRACKER_SQLITE_FILE = "tracker.db"
SQL_DIALECTS = {"postgresql": "postgresql", "postgres": "postgresql", "sqlite": "sqlite"}


class StoreConfigError(ValueError):
    """DATABASE_URL or REDIS_URL cannot be used for a Rasa store."""


def sql_store_kwargs(url: str) -> dict[str, Any]:
    """Keyword arguments of Rasa's SQLTrackerStore for a database URL, as SQLAlchemy parses it."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as err:  # the message may repeat the URL, password included
        raise StoreConfigError("DATABASE_URL is not a database URL") from err
    dialect = SQL_DIALECTS.get(parsed.get_backend_name())
    if dialect is None:
        raise StoreConfigError(
            f"DATABASE_URL must be postgresql:// or sqlite://, got {parsed.get_backend_name()}://"
        )
    if dialect == "sqlite":
        path = sqlite_path(url)
        if path is None:
            raise StoreConfigError("DATABASE_URL sqlite:// needs a file path, e.g. sqlite:///var/loom.db")
        path.parent.mkdir(parents=True, exist_ok=True)
        return {"dialect": "sqlite", "db": str(path)}
    kwargs: dict[str, Any] = {
        "dialect": dialect,
        "host": parsed.host or "localhost",
        "port": parsed.port or 5432,
        "db": parsed.database or "postgres",
        "username": parsed.username,
        "password": parsed.password,
    }
    if parsed.query:
        kwargs["query"] = dict(parsed.query)
    return kwargs


def redis_kwargs(url: str) -> dict[str, Any]:
    """Host, port, db, credentials and TLS of a redis:// or rediss:// URL, as redis-py parses it.

    The same reading as `redis.asyncio.from_url(REDIS_URL)` in the connectors' inbox and state, so the
    lock store is in the same database as they are (`?db=4` included).
    """
    from redis.connection import parse_url

    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in ("redis", "rediss"):
        raise StoreConfigError(f"REDIS_URL must be redis:// or rediss://, got {scheme}://")
    try:
        parsed = parse_url(url)
    except ValueError as err:
        raise StoreConfigError(f"REDIS_URL cannot be read: {err}") from err
    return {
        "host": parsed.get("host") or "localhost",
        "port": parsed.get("port") or 6379,
        "db": parsed.get("db") or 0,
        "username": parsed.get("username"),
        "password": parsed.get("password"),
        "use_ssl": scheme == "rediss",
    }


def tracker_database_url(env: Mapping[str, str | None]) -> str:
    """The database Rasa keeps conversations in: `DATABASE_URL`'s, else `$VAR_DIR/tracker.db`.

    Never Redis (see the module docstring): `REDIS_URL` plays no part in this choice.
    """
    url = env.get("DATABASE_URL")
    if url:
        return url
    var_dir = env.get("VAR_DIR") or DEFAULT_VAR_DIR
    return f"sqlite:///{var_dir}/{TRACKER_SQLITE_FILE}"


def sqlite_path(url: str) -> Path | None:
    """The file of a `sqlite:///` URL (relative or absolute), None for another database.

    The path as written (not percent-decoded): SQLAlchemy 1.4 (Rasa's) and 2 (the services') decode
    it differently, and both runtimes must find the same file.
    """
    parts = urlsplit(url)
    if parts.scheme.split("+")[0] != "sqlite":
        return None
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    return Path(path) if path else None


def lock_store_choice(env: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """Which lock store the environment asks for: ("redis" | "memory", its keyword arguments)."""
    if env.get("REDIS_URL"):
        return "redis", {**redis_kwargs(env["REDIS_URL"]), "key_prefix": "loom"}
    return "memory", {}


class EnvTrackerStore:
    """Named in endpoints.yml; constructing it returns the tracker store the environment asks for."""

    def __new__(cls, host: Any = None, domain: Any = None, event_broker: Any = None, **kwargs: Any) -> Any:
        """Rasa's SQL tracker store in `tracker_database_url` (extra endpoints.yml keys are passed on)."""
        from rasa.core.tracker_store import SQLTrackerStore

        options = sql_store_kwargs(tracker_database_url(os.environ))
        store = SQLTrackerStore(domain=domain, event_broker=event_broker, **options, **kwargs)
        if options["dialect"] == "sqlite":
            use_wal(store.engine)
        return store


def use_wal(engine: Any) -> None:
    """SQLite in WAL mode: a commit is one append to the log, and readers never block the writer.

    The desk and monitoring read this file while Rasa writes it. The mode is kept in the file, for
    every later connection; durable across a crash of any process (synchronous stays FULL, Rasa's
    default; Python's sqlite3 waits up to 5 s for a lock).
    """
    connection = engine.raw_connection()
    try:
        connection.cursor().execute("PRAGMA journal_mode=WAL")
    finally:
        connection.close()


class EnvLockStore:
    """Named in endpoints.yml; constructing it returns the lock store the environment asks for."""

    def __new__(cls, endpoint_config: Any = None) -> Any:
        """Build Rasa's Redis or in-memory lock store."""
        from rasa.core.lock_store import InMemoryLockStore, RedisLockStore

        kind, options = lock_store_choice(os.environ)
        return RedisLockStore(**options) if kind == "redis" else InMemoryLockStore()
