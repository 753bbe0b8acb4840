"""Engines and sessions. Plain URLs in configuration; the drivers are chosen here.

`sqlite:///var/loom.db` runs on aiosqlite (async) and sqlite3 (migrations); `postgresql://...` runs on
psycopg 3 for both. Engines are opened by whoever starts a process and closed when it stops.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

ASYNC_DRIVERS = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}
SYNC_DRIVERS = {"sqlite": "sqlite", "postgresql": "postgresql+psycopg"}


class UnsupportedDatabaseError(ValueError):
    """The configured database is neither SQLite nor PostgreSQL."""


def _with_driver(url: str, drivers: dict[str, str]) -> str:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend not in drivers:
        raise UnsupportedDatabaseError(f"DATABASE_URL must be sqlite:// or postgresql://, got {backend}://")
    if backend == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return parsed.set(drivername=drivers[backend]).render_as_string(hide_password=False)


def async_url(url: str) -> str:
    """The URL with the async driver of its backend."""
    return _with_driver(url, ASYNC_DRIVERS)


def sync_url(url: str) -> str:
    """The URL with the blocking driver of its backend (for migrations and scripts)."""
    return _with_driver(url, SYNC_DRIVERS)


def _sqlite_pragmas(engine: Engine) -> None:
    """Foreign keys on, and WAL so the action server can read while another process writes."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def create_sync_engine(url: str) -> Engine:
    """A blocking engine, for migrations, seeding and command-line tools."""
    engine = create_engine(sync_url(url))
    if engine.dialect.name == "sqlite":
        _sqlite_pragmas(engine)
    return engine


class Database:
    """An async engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: AsyncEngine = create_async_engine(async_url(url), pool_pre_ping=True)
        if self.engine.dialect.name == "sqlite":
            _sqlite_pragmas(self.engine.sync_engine)
        self.sessions: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )

    async def close(self) -> None:
        """Release all pooled connections."""
        await self.engine.dispose()
