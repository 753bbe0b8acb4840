"""The inbox in a SQL table: SQLite for the embedded default, PostgreSQL when `DATABASE_URL` names one.

`loom_inbox` holds one row per event; its unique `(platform, event_id)` is the dedupe, so storing and
recognising a redelivery are one `INSERT ... ON CONFLICT DO NOTHING` in one transaction with the rest
of the webhook's events. A finished row keeps its id (`done_at` set) for `SEEN_TTL`, then is pruned.
Shard leases (`loom_inbox_leases`) are one upsert that only succeeds when the lease is free, expired
or already ours; members (`loom_inbox_members`) say who is alive, so shards are shared evenly.

SQLite runs in WAL mode with `synchronous=FULL`: an acknowledged event is on disk, not only in the
operating system's cache. Calls are short and run in a worker thread (SQLAlchemy's engine is
synchronous in Rasa 3.6's SQLAlchemy 1.4); SQLite's in one thread of their own, where the transactions
that queue together go in one hand-over (`connectors.serial_thread`). The tables are created on first
use, as Rasa creates its own `events` table.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from bot import timeline
from connectors.inbox import PRUNE_EVERY, SEEN_TTL, Entry, InboxUnavailable, NewEntry, shard_of
from connectors.serial_thread import Busy, SerialThread, sqlite_without_waiting

logger = logging.getLogger(__name__)

T = TypeVar("T")
SQLITE_POOL_SIZE = 2  # transactions run one at a time (SQLite has one writer); a spare for a reader
CHECKPOINT_EVERY = 250  # SQLite transactions between two WAL checkpoints in the thread
POLL_SECONDS = 0.2  # how often a consumer looks for rows stored by another process
CREATE_ATTEMPTS = 5
_CREATING = threading.Lock()

metadata = sa.MetaData()
inbox_table = sa.Table(
    "loom_inbox",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("platform", sa.String(32), nullable=False),
    sa.Column("event_id", sa.String(255), nullable=False),
    sa.Column("shard", sa.Integer, nullable=False),
    sa.Column("conversation", sa.String(255), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("done_at", sa.Float, nullable=True),
    sa.UniqueConstraint("platform", "event_id", name="uq_loom_inbox_event"),
)
sa.Index(
    "ix_loom_inbox_pending",
    inbox_table.c.platform,
    inbox_table.c.done_at,
    inbox_table.c.shard,
    inbox_table.c.id,
)
sa.Index("ix_loom_inbox_received", inbox_table.c.received_at)
leases_table = sa.Table(
    "loom_inbox_leases",
    metadata,
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("shard", sa.Integer, primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)
members_table = sa.Table(
    "loom_inbox_members",
    metadata,
    sa.Column("platform", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(128), primary_key=True),
    sa.Column("expires_at", sa.Float, nullable=False),
)


def normalise_url(url: str) -> str:
    """SQLAlchemy 1.4 knows `postgresql://`, not the `postgres://` many hosts hand out."""
    return "postgresql://" + url[len("postgres://") :] if url.startswith("postgres://") else url


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # an acked event is on disk before the 200
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_inline_pragmas(connection: Any, record: Any) -> None:
    """The event loop's connection: never waits for a lock, never checkpoints (`SqlInbox._run`)."""
    _sqlite_pragmas(connection, record)
    cursor = connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


def create_tables(db: Engine) -> None:
    """Create the tables unless they exist; another replica creating them at the same moment is fine."""
    with _CREATING:  # this process's channels one at a time; other processes: retry after their turn
        for attempt in range(CREATE_ATTEMPTS):
            try:
                metadata.create_all(db, checkfirst=True)
                return
            except (sa.exc.OperationalError, sa.exc.IntegrityError, sa.exc.ProgrammingError):
                if attempt == CREATE_ATTEMPTS - 1:
                    raise
                time.sleep(0.1 * (attempt + 1))


@dataclass(frozen=True)
class EveryMessage:
    """The statements each message runs, built once with bound parameters.

    SQLAlchemy takes 0.1-0.3 ms of Python to build a statement and compute its cache key, more than
    SQLite takes to run it; built once, only the key is computed per call (bench/PROFILE.md, sixth round).
    """

    insert: Any
    pending: Any
    done: Any


def every_message(insert: Callable[[sa.Table], Any]) -> EveryMessage:
    """The statements for a dialect's INSERT (SQLite's or PostgreSQL's, both with ON CONFLICT)."""
    table = inbox_table
    columns = ("platform", "event_id", "shard", "conversation", "body", "received_at")
    return EveryMessage(
        insert=insert(table)
        .values({name: sa.bindparam(f"new_{name}") for name in columns})
        .on_conflict_do_nothing(),
        pending=sa.select(table)
        .where(
            table.c.platform == sa.bindparam("platform"),
            table.c.done_at.is_(None),
            table.c.shard.in_(sa.bindparam("shards", expanding=True)),
        )
        .order_by(table.c.id)
        .limit(sa.bindparam("limit")),
        done=table.update()
        .where(table.c.id == sa.bindparam("row_id"))
        .values(done_at=sa.bindparam("finished")),
    )


class SqlInbox:
    """The inbox in `loom_inbox` (and its lease and member tables) of a SQLite or PostgreSQL database."""

    def __init__(self, url: str, shards: int) -> None:
        url = normalise_url(url)
        self.engine_url = sa.engine.make_url(url)
        self.engine = "sqlite" if self.engine_url.get_backend_name() == "sqlite" else "postgresql"
        self.shards = shards
        self._db: Engine | None = None
        self._inline_db: Engine | None = None  # SQLite: the event loop's one connection
        self._inline_lock = threading.Lock()
        self._transactions = 0  # SQLite's, for the checkpoints
        self._insert = sqlite.insert if self.engine == "sqlite" else postgresql.insert
        self._sql = every_message(self._insert)
        self._pruned_at = 0.0
        self._stored = asyncio.Event()  # set when this process stores something: wakes its consumer
        # SQLite has one writer: its transactions queue for one thread, and go to it together.
        self._thread = SerialThread("inbox-sqlite") if self.engine == "sqlite" else None
        # A second connection sees the same data only in a file (an in-memory database is per connection).
        self._inlines = self._thread is not None and self.engine_url.database not in (None, "", ":memory:")

    def _engine(self) -> Engine:
        if self._db is None:
            if self.engine == "sqlite":
                # Connections kept open (SQLAlchemy 1.4 would open and close one per transaction: the
                # pragmas again, and a WAL checkpoint at every close, all under the lock below).
                db = sa.create_engine(
                    self.engine_url,
                    poolclass=sa.pool.QueuePool,
                    pool_size=SQLITE_POOL_SIZE,
                    connect_args={"check_same_thread": False, "timeout": 5.0},
                )
                sa.event.listen(db, "connect", _sqlite_pragmas)
            else:
                db = sa.create_engine(self.engine_url, pool_pre_ping=True, pool_size=5, max_overflow=5)
            create_tables(db)
            self._db = db
        return self._db

    def _open_inline(self) -> None:
        """In the thread: the event loop's connection, opened and kept by its pool for the inline calls.

        Its set-up may wait for a lock like any other connection's; `_sqlite_inline_pragmas` then makes
        it never wait. A failure leaves it unopened (the calls stay in the thread) and is tried again.
        """
        self._engine()  # the tables first
        db = sa.create_engine(
            self.engine_url,
            poolclass=sa.pool.QueuePool,
            pool_size=1,
            connect_args={"check_same_thread": False, "timeout": 5.0},
        )
        sa.event.listen(db, "connect", _sqlite_inline_pragmas)
        try:
            with db.connect():  # back to the pool, which keeps it open
                pass
        except sa.exc.DBAPIError as err:
            db.dispose()
            logger.info("inbox: the event loop's SQLite connection not opened yet: %s", err)
            return
        self._inline_db = db

    async def _run(self, call: Callable[[Connection], T]) -> T:
        """One transaction; any database error is InboxUnavailable.

        PostgreSQL's in a worker thread. SQLite's right here in the event loop while that is quick
        (a commit with its fsync: well under a millisecond on a local disk) and the file is free, else
        in the inbox's thread (`connectors.serial_thread`): a hand-over to a thread and back cost tens
        of milliseconds under load, three times a message (bench/PROFILE.md, fifth round).
        """

        def transaction() -> T:
            with self._engine().begin() as connection:
                result = call(connection)
            if self._inlines and self._inline_db is None:
                self._open_inline()  # here, off the event loop, for the next calls
            return result

        def inline() -> T:
            with sqlite_without_waiting(self._inline_lock):  # the lock: another thread's event loop
                if self._inline_db is None:
                    raise Busy
                with self._inline_db.begin() as connection:  # refused: rolled back, nothing written
                    return call(connection)

        try:
            with timeline.span("inbox_sql"):
                if self._thread is None:
                    return await asyncio.to_thread(transaction)
                if not self._inlines:
                    return await self._thread.run(transaction)
                result = await self._thread.run(transaction, inline)
                self._transactions += 1
                if self._transactions % CHECKPOINT_EVERY == 0:
                    await self._thread.run(self._checkpoint)
                return result
        except SQLAlchemyError as err:
            raise InboxUnavailable(f"{self.engine} inbox: {err.__class__.__name__}: {err}") from err

    async def append(self, platform: str, entries: list[NewEntry]) -> list[bool]:
        """Insert every entry not seen before, in one transaction."""
        if not entries:
            return []
        now = time.time()

        def insert(connection: Connection) -> list[bool]:
            stored = []
            for entry in entries:
                row = {
                    "new_platform": platform,
                    "new_event_id": entry.event_id,
                    "new_shard": shard_of(platform, entry.conversation, self.shards),
                    "new_conversation": entry.conversation,
                    "new_body": entry.body,
                    "new_received_at": now,
                }
                stored.append(connection.execute(self._sql.insert, row).rowcount == 1)
            return stored

        stored = await self._run(insert)
        if any(stored):
            self._stored.set()
        return stored

    async def heartbeat(self, platform: str, member: str, ttl: float) -> int:
        """Renew `member`, forget expired members, count the live ones; prune old rows now and then."""
        now = time.time()

        def beat(connection: Connection) -> int:
            table = members_table
            statement = self._insert(table).values(platform=platform, name=member, expires_at=now + ttl)
            connection.execute(
                statement.on_conflict_do_update(
                    index_elements=[table.c.platform, table.c.name],
                    set_={"expires_at": now + ttl},
                )
            )
            connection.execute(table.delete().where(table.c.expires_at < now))
            if now - self._pruned_at > PRUNE_EVERY:
                self._pruned_at = now
                connection.execute(inbox_table.delete().where(inbox_table.c.received_at < now - SEEN_TTL))
            query = sa.select(sa.func.count()).select_from(table).where(table.c.platform == platform)
            return int(connection.execute(query).scalar_one())

        return await self._run(beat)

    async def leave(self, platform: str, member: str) -> None:
        """Forget `member`."""
        table = members_table
        await self._run(
            lambda c: c.execute(table.delete().where(table.c.platform == platform, table.c.name == member))
        )

    async def lease(self, platform: str, shard: int, member: str, ttl: float) -> bool:
        """One upsert that takes the lease only if it is free, expired or ours."""
        now = time.time()
        table = leases_table

        def take(connection: Connection) -> bool:
            statement = self._insert(table).values(
                platform=platform, shard=shard, owner=member, expires_at=now + ttl
            )
            statement = statement.on_conflict_do_update(
                index_elements=[table.c.platform, table.c.shard],
                set_={"owner": member, "expires_at": now + ttl},
                where=sa.or_(table.c.expires_at < now, table.c.owner == member),
            )
            return connection.execute(statement).rowcount == 1

        return await self._run(take)

    async def release(self, platform: str, shard: int, member: str) -> None:
        """Delete the lease if it is ours."""
        table = leases_table
        await self._run(
            lambda c: c.execute(
                table.delete().where(
                    table.c.platform == platform, table.c.shard == shard, table.c.owner == member
                )
            )
        )

    @staticmethod
    def _entry(row: Any) -> Entry:
        return Entry(
            entry_id=str(row.id),
            platform=row.platform,
            shard=row.shard,
            event_id=row.event_id,
            conversation=row.conversation,
            body=row.body,
            received_at=row.received_at,
        )

    async def adopt(self, platform: str, shard: int, member: str) -> list[Entry]:
        """Nothing to move in SQL: rows belong to the shard, and `fetch` reads every pending one."""
        return []

    async def fetch(
        self, platform: str, shards: list[int], member: str, skip: set[str], limit: int, wait: float
    ) -> list[Entry]:
        """Pending rows of the shards, oldest first, not in `skip`; else wait for a store or a poll tick."""
        deadline = time.monotonic() + wait
        while True:
            self._stored.clear()
            if shards and limit > 0:
                bound = {"platform": platform, "shards": list(shards), "limit": limit + len(skip)}
                rows = await self._run(lambda c, b=bound: c.execute(self._sql.pending, b).fetchall())
                entries = [e for e in map(self._entry, rows) if e.key not in skip][:limit]
                if entries:
                    return entries
            left = deadline - time.monotonic()
            if left <= 0:
                return []
            # another process's rows show up at the next poll; this process's at once
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stored.wait(), timeout=min(left, POLL_SECONDS))

    async def done(self, entry: Entry) -> None:
        """Mark the row finished (kept for dedupe until pruned)."""
        bound = {"row_id": int(entry.entry_id), "finished": time.time()}
        await self._run(lambda c: c.execute(self._sql.done, bound))

    async def ping(self) -> None:
        """A trivial query."""
        await self._run(lambda c: c.execute(sa.text("SELECT 1")))

    async def count_pending(self, platform: str) -> int:
        """Rows not yet done (tests and diagnostics)."""
        table = inbox_table
        query = (
            sa.select(sa.func.count())
            .select_from(table)
            .where(table.c.platform == platform, table.c.done_at.is_(None))
        )
        return await self._run(lambda c: int(c.execute(query).scalar_one()))

    def _checkpoint(self) -> None:
        """In the thread: the WAL copied back into the database file (never by the loop's connection)."""
        with self._engine().connect() as connection:
            connection.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    async def close(self) -> None:
        """Dispose of the connection pools."""
        with self._inline_lock:
            if self._inline_db is not None:
                self._inline_db.dispose()
                self._inline_db = None
        if self._db is not None:
            self._db.dispose()
            self._db = None
