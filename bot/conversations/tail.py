"""Rasa's SQL `events` table, read: transcripts, and one tail that follows the table (or any id-keyed one).

Rasa writes every event of every conversation there before anything else happens (customer messages
while the bot is paused included), so the desk and monitoring never hold a second copy that could
disagree, and a restart loses nothing. Interpreting an event's JSON is bot/conversations/events.py's job.

PostgreSQL hands out ids before commit, so a slow transaction can commit id 3 after id 4 was read: a
tail reads RESCAN ids behind its cursor every time and skips the ids it has already delivered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Column, Float, Integer, MetaData, String, Table, Text, func, inspect, select

from bot.conversations.events import Line, to_line
from bot.storage.db import Database

logger = logging.getLogger(__name__)

# Rasa 3.x SQLTrackerStore's table (rasa/core/tracker_store.py, SQLEvent); we only read it.
EVENTS = Table(
    "events",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("sender_id", String(255)),
    Column("type_name", String(255)),
    Column("timestamp", Float),
    Column("intent_name", String(255)),
    Column("action_name", String(255)),
    Column("data", Text),
)
SPOKEN = ("user", "bot")
RESCAN = 200  # ids re-read behind the cursor: how late a commit may be and still be seen
BATCH = 1000  # rows per read; more than RESCAN, so every read makes progress


@dataclass(frozen=True)
class StoredEvent:
    """One row of the `events` table; `event` is its JSON, parsed (None when it is not readable)."""

    id: int
    conversation_id: str
    type_name: str
    event: dict[str, Any] | None


def _parse(event_id: int, data: str | None) -> dict[str, Any] | None:
    try:
        event = json.loads(data or "")
    except (ValueError, TypeError) as err:
        logger.warning("Rasa event %s is not readable, skipped: %s", event_id, err)
        return None
    return event if isinstance(event, dict) else None


class Transcripts:
    """Reads conversations from Rasa's tracker store."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._table_seen = False

    async def rows(self, query: Any) -> list[Any]:
        """Run a query; nothing at all until Rasa has created its table (it does at start-up)."""
        async with self._db.engine.connect() as connection:
            if not self._table_seen:
                self._table_seen = await connection.run_sync(lambda c: inspect(c).has_table("events"))
                if not self._table_seen:
                    return []
            return list((await connection.execute(query)).all())

    async def lines(self, conversation_id: str, after: int = 0) -> list[Line]:
        """Every spoken turn of a conversation, oldest first (only those after event `after`)."""
        query = (
            select(EVENTS.c.id, EVENTS.c.data)
            .where(
                EVENTS.c.sender_id == conversation_id,
                EVENTS.c.type_name.in_(SPOKEN),
                EVENTS.c.id > after,
            )
            .order_by(EVENTS.c.id)
        )
        lines = [to_line(row.id, json.loads(row.data)) for row in await self.rows(query)]
        return [line for line in lines if line is not None]

    async def events(self, conversation_id: str, types: Sequence[str]) -> list[dict[str, Any]]:
        """A conversation's events of these types, oldest first, as Rasa's JSON (unreadable ones left out)."""
        query = (
            select(EVENTS.c.id, EVENTS.c.data)
            .where(EVENTS.c.sender_id == conversation_id, EVENTS.c.type_name.in_(types))
            .order_by(EVENTS.c.id)
        )
        parsed = [_parse(row.id, row.data) for row in await self.rows(query)]
        return [event for event in parsed if event is not None]

    async def last_customer_times(self, conversation_ids: list[str]) -> dict[str, float]:
        """When each conversation's customer last wrote (POSIX seconds)."""
        if not conversation_ids:
            return {}
        query = (
            select(EVENTS.c.sender_id, func.max(EVENTS.c.timestamp))
            .where(EVENTS.c.sender_id.in_(conversation_ids), EVENTS.c.type_name == "user")
            .group_by(EVENTS.c.sender_id)
        )
        return {row[0]: float(row[1]) for row in await self.rows(query)}

    async def input_channel(self, conversation_id: str) -> str | None:
        """The channel the customer last wrote on (Rasa's input channel name)."""
        query = (
            select(EVENTS.c.data)
            .where(EVENTS.c.sender_id == conversation_id, EVENTS.c.type_name == "user")
            .order_by(EVENTS.c.id.desc())
            .limit(1)
        )
        rows = await self.rows(query)
        return json.loads(rows[0][0]).get("input_channel") if rows else None

    async def latest_id(self) -> int:
        """The newest event id (0 when there is none, or no table yet)."""
        rows = await self.rows(select(func.max(EVENTS.c.id)))
        return int(rows[0][0] or 0) if rows else 0

    async def since(
        self, after: int, limit: int = BATCH, types: Sequence[str] | None = None
    ) -> list[StoredEvent]:
        """Events newer than `after` (of the given types), oldest first."""
        query = select(EVENTS.c.id, EVENTS.c.sender_id, EVENTS.c.type_name, EVENTS.c.data).where(
            EVENTS.c.id > after
        )
        if types is not None:
            query = query.where(EVENTS.c.type_name.in_(types))
        rows = await self.rows(query.order_by(EVENTS.c.id).limit(limit))
        return [StoredEvent(r.id, r.sender_id, r.type_name, _parse(r.id, r.data)) for r in rows]


class Cursor(Protocol):
    """Where a tail got to; ids at or below `floor` are never read (what was there before a live view).

    MemoryCursor here; monitoring keeps its cursors in a table (bot/monitoring/ingest.py, StoredCursor).
    """

    floor: int

    async def load(self) -> int:
        """The position: the highest id delivered."""

    async def save(self, position: int) -> None:
        """Move the position forward (never back)."""


class MemoryCursor:
    """In memory, starting at the newest id: a live view nudges about what is new from its start on."""

    def __init__(self, newest: Callable[[], Awaitable[int]]) -> None:
        self._newest = newest
        self._position: int | None = None
        self.floor = 0

    async def load(self) -> int:
        """The position; the first call starts it (and the floor) at the newest id."""
        if self._position is None:
            self._position = self.floor = await self._newest()
        return self._position

    async def save(self, position: int) -> None:
        """Move forward."""
        self._position = max(self._position or 0, position)


class HasId(Protocol):
    """A row a tail can follow."""

    @property
    def id(self) -> int:
        """Its id, increasing with time (mostly: see RESCAN)."""


R = TypeVar("R", bound=HasId)
Fetch = Callable[[int, int], Awaitable[Sequence[R]]]  # (after, limit) → rows with id > after, by id


class Tail(Generic[R]):
    """Follows a table by id: each row is delivered once, late commits included.

    `unhandled`, when given, says which of the ids read are not handled yet by anyone (a restarted
    process, another replica): the tail's own memory covers only what this process delivered.
    """

    def __init__(
        self,
        fetch: Fetch[R],
        cursor: Cursor,
        unhandled: Callable[[list[int]], Awaitable[set[int]]] | None = None,
        rescan: int = RESCAN,
        batch: int = BATCH,
    ) -> None:
        self._fetch = fetch
        self.cursor = cursor
        self._unhandled = unhandled
        self._rescan = rescan
        self._batch = batch
        self._seen: set[int] = set()

    async def step(self, handle: Callable[[list[R]], Awaitable[int]]) -> tuple[int, bool]:
        """Read the next batch, hand `handle` the rows not delivered yet: (what it counted, more to read).

        The cursor moves only after `handle` returned, so rows of a failed step are read again.
        """
        position = await self.cursor.load()
        rows = list(await self._fetch(max(self.cursor.floor, position - self._rescan), self._batch))
        if not rows:
            return 0, False
        new = [row for row in rows if row.id not in self._seen]
        if new and self._unhandled is not None:
            wanted = await self._unhandled([row.id for row in new])
            new = [row for row in new if row.id in wanted]
        handled = await handle(new) if new else 0
        last = rows[-1].id
        self._seen.update(row.id for row in rows)
        await self.cursor.save(last)
        horizon = max(position, last) - self._rescan  # ids at or below it are never read again
        self._seen = {i for i in self._seen if i > horizon}
        return handled, len(rows) == self._batch and last > position

    async def catch_up(self, handle: Callable[[list[R]], Awaitable[int]]) -> int:
        """Step until nothing is left to read; the total `handle` counted."""
        total, more = 0, True
        while more:
            handled, more = await self.step(handle)
            total += handled
        return total


def event_tail(
    transcripts: Transcripts,
    cursor: Cursor,
    types: Sequence[str] | None = None,
    unhandled: Callable[[list[int]], Awaitable[set[int]]] | None = None,
    rescan: int = RESCAN,
    batch: int = BATCH,
) -> Tail[StoredEvent]:
    """A tail of Rasa's events (of the given types)."""

    async def fetch(after: int, limit: int) -> list[StoredEvent]:
        return await transcripts.since(after, limit, types)

    return Tail(fetch, cursor, unhandled, rescan, batch)
