"""Rasa's SQL tracker store reading and writing its `events` table with plain SQL statements.

Rasa 3.6's SQLTrackerStore goes through SQLAlchemy's ORM: a tracker read builds a new query, turns
every stored row into an ORM object and reads its `data`; a save builds the same query again to count
the session's stored events, then adds one ORM object per new event and flushes them through the unit
of work. At 20 conversations that was a quarter of the Rasa server's event loop, most of it ORM
book-keeping rather than the database (bench/PROFILE.md). Here the same statements are built once per
table and executed with SQLAlchemy Core: the same rows are read (the latest session's, or all with
`retrieve_full_tracker`, ordered by id), the same count decides which events are new, and the same
columns are written, in one transaction per save, on SQLite and PostgreSQL alike. The event broker
still gets every new event first, as in Rasa.

A saved tracker is also kept in memory (`Kept`), for its conversation's next read: reading it back
meant parsing every event's JSON and replaying the session into a new tracker, a tenth of the
server's busy time, and the next turn's policies could not carry their states forward
(bot/rasa_server/prior_states.py) from a tracker made of new objects. A kept tracker is handed out
once (the reader owns it until it saves it again), and only when one small query shows the
conversation's rows are still exactly those it was saved with (the same last id, the same number):
a write by another replica, the desk or any other tracker makes the next read go to the database.
Only trackers a read would give back alike are kept: one session, as the read selects it, whose
stored rows are the ones this store gave it (or none).

`install()` (called by `python -m bot.rasa_server`) replaces `SQLTrackerStore._retrieve` and
`SQLTrackerStore.save`; tests/bot/rasa_server/test_sql_events.py checks both against Rasa's own.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

SESSION_STARTED = "session_started"
KEPT = 1000  # saved trackers kept for their conversations' next reads (the least recently saved go)


@dataclass(frozen=True)
class Statements:
    """The statements of one `events` table, built once (SQLAlchemy caches their compiled form)."""

    session: Any  # data of the latest session's events, by id
    every_session: Any  # data of all events, by id
    count_session: Any  # how many events the latest session has stored
    insert: Any
    rows_now: Any  # the conversation's last row id and number of rows: changes with any write


def statements_for(table: Any) -> Statements:
    """Rasa's queries (`SQLTrackerStore._event_query`) over `table`, with `:sender_id` bound later."""
    import sqlalchemy as sa

    sender = sa.bindparam("sender_id")
    starts = table.alias("session_starts")  # its own name: never correlated with the outer query's rows
    session_start = (
        sa.select(sa.func.max(starts.c.timestamp))
        .where(starts.c.sender_id == sender, starts.c.type_name == SESSION_STARTED)
        .scalar_subquery()
    )
    # Events since the latest SessionStarted, or all of them when there is none (as Rasa's query).
    in_session = sa.or_(table.c.timestamp >= session_start, session_start.is_(None))
    return Statements(
        session=sa.select(table.c.data).where(table.c.sender_id == sender, in_session).order_by(table.c.id),
        every_session=sa.select(table.c.data).where(table.c.sender_id == sender).order_by(table.c.id),
        count_session=sa.select(sa.func.count())
        .select_from(table)
        .where(table.c.sender_id == sender, in_session),
        insert=table.insert(),
        rows_now=sa.select(sa.func.max(table.c.id), sa.func.count()).where(table.c.sender_id == sender),
    )


def _statements(store: Any) -> Statements:
    found = getattr(store, "_loom_statements", None)
    if found is None:
        found = statements_for(store.SQLEvent.__table__)
        store._loom_statements = found
    return found


def event_row(sender_id: str, event: Any) -> dict[str, Any]:
    """The `events` row Rasa's `save` writes for `event`."""
    data = event.as_dict()
    return {
        "sender_id": sender_id,
        "type_name": event.type_name,
        "timestamp": data.get("timestamp"),
        "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
        "action_name": data.get("name"),
        "data": json.dumps(data),
    }


@dataclass(frozen=True)
class Kept:
    """A saved tracker, and what its conversation's rows were right after the save."""

    tracker: Any  # its `loom_stored_events`: how many events were stored (more now: changed since)
    rows: tuple[int, int]  # (last id, number of rows)
    domain: Any  # the store's domain then (a new model's slots make a new tracker)


class KeptTrackers:
    """The trackers saved last, by conversation, each handed out at most once."""

    def __init__(self, size: int = KEPT) -> None:
        self.size = size
        self._kept: OrderedDict[str, Kept] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, sender_id: str) -> Kept | None:
        """The kept tracker of `sender_id`, no longer kept (whoever takes it owns it until its save)."""
        with self._lock:
            return self._kept.pop(sender_id, None)

    def keep(self, sender_id: str, kept: Kept) -> None:
        """Keep `kept` as the conversation's latest save, dropping the least recent beyond `size`."""
        with self._lock:
            self._kept.pop(sender_id, None)
            self._kept[sender_id] = kept
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)


def _kept(store: Any) -> KeptTrackers:
    found = store.__dict__.get("_loom_kept")
    if found is None:
        found = store._loom_kept = KeptTrackers()
    return found


def reads_back_alike(tracker: Any) -> bool:
    """Whether reading the tracker's session from the store gives these very events.

    The read takes the rows since the last `session_started` by timestamp: a tracker holding a later
    session start, or events older than its own start, would be read back differently.
    """
    from rasa.shared.core.events import SessionStarted

    events = list(tracker.events)
    if any(isinstance(event, SessionStarted) for event in events[1:]):
        return False
    if events and isinstance(events[0], SessionStarted):
        return all(event.timestamp >= events[0].timestamp for event in events)
    return True


def _rows_now(connection: Any, sql: Statements, sender_id: str) -> tuple[int, int]:
    last, number = connection.execute(sql.rows_now, {"sender_id": sender_id}).one()
    return (last or 0, number)


async def retrieve(store: Any, sender_id: str, fetch_events_from_all_sessions: bool) -> Any:
    """Rasa's `SQLTrackerStore._retrieve`: the tracker of `sender_id`, or None when it has no events."""
    from rasa.shared.core.trackers import DialogueStateTracker

    sql = _statements(store)
    kept = None if fetch_events_from_all_sessions else _kept(store).take(sender_id)
    statement = sql.every_session if fetch_events_from_all_sessions else sql.session
    with store.engine.connect() as connection:
        if (
            kept is not None
            and kept.domain is store.domain
            and len(kept.tracker.events) == kept.tracker.loom_stored_events
            and _rows_now(connection, sql, sender_id) == kept.rows
        ):
            return kept.tracker
        rows = connection.execute(statement, {"sender_id": sender_id}).scalars().all()
    events = [json.loads(data) for data in rows]
    if store.domain and events:
        tracker = DialogueStateTracker.from_dict(sender_id, events, store.domain.slots)
        tracker.loom_stored_events = len(events)  # its first events are the session's stored rows
        return tracker
    return None


async def save(store: Any, tracker: Any) -> None:
    """Rasa's `SQLTrackerStore.save`: stream the new events, then store those not stored yet."""
    await store.stream_events(tracker)
    sql = _statements(store)
    with store.engine.begin() as connection:
        stored = connection.execute(sql.count_session, {"sender_id": tracker.sender_id}).scalar_one()
        rows = [
            event_row(tracker.sender_id, event) for event in itertools.islice(tracker.events, stored, None)
        ]
        if rows:
            connection.execute(sql.insert, rows)
        now = _rows_now(connection, sql, tracker.sender_id)
    # Kept only when the stored rows are now exactly its events: nothing was stored, or what was stored
    # is what this store gave it (a tracker made up elsewhere, e.g. Rasa's replace-events API, is not).
    from_here = stored == 0 or getattr(tracker, "loom_stored_events", None) == stored
    if from_here and stored <= len(tracker.events) and store.domain and reads_back_alike(tracker):
        tracker.loom_stored_events = len(tracker.events)
        _kept(store).keep(tracker.sender_id, Kept(tracker, now, store.domain))
    else:
        _kept(store).take(tracker.sender_id)


def install() -> None:
    """Put the Core versions in place of SQLTrackerStore's `_retrieve` and `save` (idempotent)."""
    from rasa.core.tracker_store import SQLTrackerStore

    if getattr(SQLTrackerStore.save, "plain_sql", False):
        return

    async def _retrieve(self: Any, sender_id: str, fetch_events_from_all_sessions: bool) -> Any:
        return await retrieve(self, sender_id, fetch_events_from_all_sessions)

    async def save_tracker(self: Any, tracker: Any) -> None:
        await save(self, tracker)

    save_tracker.plain_sql = True  # type: ignore[attr-defined]
    SQLTrackerStore._retrieve = _retrieve
    SQLTrackerStore.save = save_tracker
