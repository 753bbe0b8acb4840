"""Rasa tracker and lock stores chosen from the environment, so one endpoints.yml fits every deployment.

Rasa's endpoints.yml cannot fall back when a variable is unset, so endpoints.yml names these classes
and they pick the store: `DATABASE_URL` → SQL tracker store in that database, else `REDIS_URL` →
Redis tracker store, else a SQLite file (`$VAR_DIR/tracker.db`, default `var/`, so a restart loses
nothing). Locks go to
Redis when `REDIS_URL` is set (needed with more than one Rasa replica), else stay in process.
Runs in runtime A (Rasa's Python 3.10 environment): standard library and Rasa only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

DEFAULT_VAR_DIR = "var"
SQL_DIALECTS = {"postgresql": "postgresql", "postgres": "postgresql", "sqlite": "sqlite"}


class StoreConfigError(ValueError):
    """DATABASE_URL or REDIS_URL cannot be used for a Rasa store."""


def sql_store_kwargs(url: str) -> dict[str, Any]:
    """Keyword arguments of Rasa's SQLTrackerStore for a database URL."""
    parts = urlsplit(url)
    dialect = SQL_DIALECTS.get(parts.scheme.split("+")[0])
    if dialect is None:
        raise StoreConfigError(f"DATABASE_URL must be postgresql:// or sqlite://, got {parts.scheme}://")
    if dialect == "sqlite":
        # sqlite:///relative.db has path "/relative.db"; sqlite:////abs.db has "//abs.db".
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        if not path:
            raise StoreConfigError("DATABASE_URL sqlite:// needs a file path, e.g. sqlite:///var/loom.db")
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return {"dialect": "sqlite", "db": path}
    kwargs: dict[str, Any] = {
        "dialect": dialect,
        "host": parts.hostname or "localhost",
        "port": parts.port or 5432,
        "db": parts.path.lstrip("/") or "postgres",
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
    }
    if parts.query:
        kwargs["query"] = dict(parse_qsl(parts.query))
    return kwargs


def redis_kwargs(url: str) -> dict[str, Any]:
    """Host, port, db, credentials and TLS of a redis:// or rediss:// URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise StoreConfigError(f"REDIS_URL must be redis:// or rediss://, got {parts.scheme}://")
    db = parts.path.lstrip("/")
    return {
        "host": parts.hostname or "localhost",
        "port": parts.port or 6379,
        "db": int(db) if db else 0,
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "use_ssl": parts.scheme == "rediss",
    }


def tracker_store_choice(env: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """Which tracker store the environment asks for: ("sql" | "redis", its keyword arguments)."""
    if env.get("DATABASE_URL"):
        return "sql", sql_store_kwargs(env["DATABASE_URL"])
    if env.get("REDIS_URL"):
        return "redis", {**redis_kwargs(env["REDIS_URL"]), "key_prefix": "loom"}
    var_dir = env.get("VAR_DIR") or DEFAULT_VAR_DIR
    return "sql", sql_store_kwargs(f"sqlite:///{var_dir}/tracker.db")


def lock_store_choice(env: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """Which lock store the environment asks for: ("redis" | "memory", its keyword arguments)."""
    if env.get("REDIS_URL"):
        return "redis", {**redis_kwargs(env["REDIS_URL"]), "key_prefix": "loom"}
    return "memory", {}


class EnvTrackerStore:
    """Named in endpoints.yml; constructing it returns the tracker store the environment asks for."""

    def __new__(cls, host: Any = None, domain: Any = None, event_broker: Any = None, **kwargs: Any) -> Any:
        """Build Rasa's SQL or Redis tracker store (extra endpoints.yml keys are passed on)."""
        from rasa.core.tracker_store import RedisTrackerStore, SQLTrackerStore

        kind, options = tracker_store_choice(os.environ)
        store_class = RedisTrackerStore if kind == "redis" else SQLTrackerStore
        return store_class(domain=domain, event_broker=event_broker, **options, **kwargs)


class EnvLockStore:
    """Named in endpoints.yml; constructing it returns the lock store the environment asks for."""

    def __new__(cls, endpoint_config: Any = None) -> Any:
        """Build Rasa's Redis or in-memory lock store."""
        from rasa.core.lock_store import InMemoryLockStore, RedisLockStore

        kind, options = lock_store_choice(os.environ)
        return RedisLockStore(**options) if kind == "redis" else InMemoryLockStore()
