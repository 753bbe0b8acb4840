"""A `KeyValueStore` in a SQLite file: the connectors' state survives a restart without Redis.

Used when `REDIS_URL` is unset (`state.store_from_env`), in `$VAR_DIR/connectors.db`. Seen webhook ids
kept here mean a batch that the platform redelivers after a restart is still known as a duplicate.
Several processes on one machine may share the file: WAL mode lets readers and one writer work at once,
and `add` is a single `INSERT ... ON CONFLICT` statement, atomic across connections. Expiry uses the
wall clock (it has to mean the same after a restart); expired rows are ignored at once and deleted in
batches every `PRUNE_EVERY` writes. Each call is short and runs in the store's own worker thread, so a
busy database never stalls the server's event loop, and calls waiting for the one connection wait in
that thread's queue, not in the event loop's shared executor, where they would hold threads that the
inbox and others need (bench/PROFILE.md, fourth round); the calls that queue together go to the
thread in one hand-over (`connectors.serial_thread`, fifth round).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bot import timeline
from connectors.serial_thread import SerialThread

PRUNE_EVERY = 1000  # writes between two deletions of expired rows
BUSY_TIMEOUT = 5.0  # seconds a write waits for another process's transaction
SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL NOT NULL)"
T = TypeVar("T")


class SqliteStore:
    """Keys with expiry in one table of a SQLite file (created on first use)."""

    def __init__(self, path: str | Path, prune_every: int = PRUNE_EVERY) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # one connection: its thread, or `close` from any other
        self._thread = SerialThread("kv-sqlite")
        self._prune_every = prune_every
        self._writes = 0

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across crashes of the process
            db.execute(SCHEMA)
            self._db = db
            self._prune(db)
        return self._db

    async def _run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        def locked() -> T:
            with self._lock:
                return call(self._connection())

        with timeline.span("kv_sqlite"):
            return await self._thread.run(locked)

    def _prune(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM kv WHERE expires <= ?", (time.time(),))

    def _wrote(self, db: sqlite3.Connection) -> None:
        self._writes += 1
        if self._writes % self._prune_every == 0:
            self._prune(db)

    async def add(self, key: str, value: str, ttl: int) -> bool:
        """Store unless a live value is present; True if this call stored it (one atomic statement)."""

        def add(db: sqlite3.Connection) -> bool:
            now = time.time()
            cursor = db.execute(
                "INSERT INTO kv (key, value, expires) VALUES (?, ?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value, expires = excluded.expires "
                "WHERE kv.expires <= ?",
                (key, value, now + ttl, now),
            )
            self._wrote(db)
            return cursor.rowcount == 1

        return await self._run(add)

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store, replacing any value."""

        def put(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO kv (key, value, expires) VALUES (?, ?, ?)",
                (key, value, time.time() + ttl),
            )
            self._wrote(db)

        await self._run(put)

    async def get(self, key: str) -> str | None:
        """A live value, or None."""

        def get(db: sqlite3.Connection) -> str | None:
            row = db.execute(
                "SELECT value FROM kv WHERE key = ? AND expires > ?", (key, time.time())
            ).fetchone()
            return row[0] if row else None

        return await self._run(get)

    async def delete(self, key: str) -> None:
        """Forget (no error if absent)."""
        await self._run(lambda db: db.execute("DELETE FROM kv WHERE key = ?", (key,)))

    def close(self) -> None:
        """Close the connection (a later call opens it again)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
