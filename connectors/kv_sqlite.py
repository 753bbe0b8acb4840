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

import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from bot import timeline
from connectors.serial_thread import Busy, SerialThread, sqlite_without_waiting

logger = logging.getLogger(__name__)

PRUNE_EVERY = 1000  # writes between two deletions of expired rows
BUSY_TIMEOUT = 5.0  # seconds a write waits for another process's transaction
CHECKPOINT_EVERY = 250  # writes between two WAL checkpoints
SCHEMA = "CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL NOT NULL)"
T = TypeVar("T")


class SqliteStore:
    """Keys with expiry in one table of a SQLite file (created on first use)."""

    def __init__(self, path: str | Path, prune_every: int = PRUNE_EVERY) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None  # the thread's: waits up to BUSY_TIMEOUT for a lock
        self._inline_db: sqlite3.Connection | None = None  # the event loop's: never waits
        self._lock = threading.Lock()  # the connections: one call at a time, or `close` from any thread
        self._thread = SerialThread("kv-sqlite")
        self._prune_every = prune_every
        self._writes = 0

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            db = self._connect()
            try:
                db.execute(SCHEMA)
                self._prune(db)
            except sqlite3.Error:
                db.close()
                raise
            self._db = db
        return self._db

    def _open_inline(self) -> None:
        """In the thread: the event loop's connection, for the inline calls.

        Its set-up may wait for another connection's lock like any other; only then is it made never to
        wait. A failure leaves it unopened (the calls stay in the thread) and is tried again.
        """
        if self._inline_db is not None:
            return
        db = None
        try:
            db = self._connect()
            db.execute("PRAGMA busy_timeout=0")
            # Its WAL checkpoints (a copy and an fsync) run in the thread instead (`_maintain`).
            db.execute("PRAGMA wal_autocheckpoint=0")
        except sqlite3.Error as err:
            if db is not None:
                db.close()
            logger.info("%s: the event loop's connection not opened yet: %s", self.path, err)
            return
        self._inline_db = db

    def _connect(self) -> sqlite3.Connection:
        """A connection in WAL mode; tried again while another connection is switching a new file to WAL.

        Switching the journal mode needs the file to itself, and SQLite refuses a second connection
        doing the same at once with "database is locked" without waiting (its busy timeout does not
        apply to that lock): two processes opening a new file together, 1 time in 4 in a test.
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + BUSY_TIMEOUT
        while True:
            db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
            try:
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across crashes of the process
                return db
            except sqlite3.OperationalError as err:
                db.close()
                if "locked" not in str(err) or time.monotonic() > deadline:
                    raise
            time.sleep(0.01)

    async def _run(self, call: Callable[[sqlite3.Connection], T], write: bool = False) -> T:
        """`call` on a connection: in the event loop while that is quick, else in the store's thread.

        Each call is one statement in autocommit, so one refused as busy changed nothing and can go
        to the thread as it is.
        """

        def locked() -> T:
            with self._lock:
                result = call(self._connection())
                self._open_inline()  # here, off the event loop, for the next calls
                return result

        def inline() -> T:
            with sqlite_without_waiting(self._lock):
                if self._inline_db is None:
                    raise Busy
                return call(self._inline_db)

        with timeline.span("kv_sqlite"):
            result = await self._thread.run(locked, inline)
        if write:
            self._writes += 1
            prune = self._writes % self._prune_every == 0
            if prune or self._writes % CHECKPOINT_EVERY == 0:
                await self._thread.run(lambda: self._maintain(prune))
        return result

    def _maintain(self, prune: bool) -> None:
        """In the thread: the WAL copied back into the database file; expired rows deleted if `prune`."""
        with self._lock:
            db = self._connection()
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            if prune:
                self._prune(db)

    def _prune(self, db: sqlite3.Connection) -> None:
        db.execute("DELETE FROM kv WHERE expires <= ?", (time.time(),))

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
            return cursor.rowcount == 1

        return await self._run(add, write=True)

    async def set(self, key: str, value: str, ttl: int) -> None:
        """Store, replacing any value."""

        def put(db: sqlite3.Connection) -> None:
            db.execute(
                "INSERT OR REPLACE INTO kv (key, value, expires) VALUES (?, ?, ?)",
                (key, value, time.time() + ttl),
            )

        await self._run(put, write=True)

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
        """Close the connections (a later call opens them again)."""
        with self._lock:
            for db in (self._inline_db, self._db):
                if db is not None:
                    db.close()
            self._db = self._inline_db = None
