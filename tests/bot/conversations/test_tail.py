"""One tail of Rasa's events: each row once, late commits included, and a restart resumes."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from sqlalchemy import insert

from bot.conversations.tail import EVENTS, MemoryCursor, StoredEvent, Tail, Transcripts, event_tail
from bot.monitoring.ingest import StoredCursor

from ..desk import conftest as desk

# The desk's fixtures: each test runs on PostgreSQL and on SQLite, with Rasa's events table.
database_url, database, store_event, user_event = (
    desk.database_url,
    desk.database,
    desk.store_event,
    desk.user_event,
)


async def put(database, event_id: int, text: str, conversation: str = "c", kind: str = "user") -> None:
    """Commit one event with a chosen id (PostgreSQL hands ids out before commit, so order can differ)."""
    event = {**user_event(text), "event": kind, "timestamp": time.time()}
    async with database.engine.begin() as connection:
        await connection.execute(
            insert(EVENTS).values(
                id=event_id,
                sender_id=conversation,
                type_name=kind,
                timestamp=time.time(),
                data=json.dumps(event),
            )
        )


class Collect:
    """A consumer that remembers what it was handed."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    async def __call__(self, rows: list[StoredEvent]) -> int:
        self.texts.extend(row.event["text"] for row in rows)
        return len(rows)


def stored_tail(database, rescan: int = 200) -> Tail[StoredEvent]:
    """A tail with monitoring's persisted cursor, in batches of 50."""

    async def fetch(after: int, limit: int) -> list[StoredEvent]:
        return await Transcripts(database).since(after, limit)

    return Tail(fetch, StoredCursor(database, "test-events"), rescan=rescan, batch=50)


async def test_an_id_committed_late_is_still_delivered_once(database):
    collect = Collect()
    tail = stored_tail(database)
    for event_id in (1, 2, 4):
        await put(database, event_id, f"m{event_id}")
    assert await tail.catch_up(collect) == 3
    await put(database, 3, "m3")  # committed after 4 was read
    assert await tail.catch_up(collect) == 1
    assert await tail.catch_up(collect) == 0
    assert collect.texts == ["m1", "m2", "m4", "m3"]


async def test_a_restart_resumes_from_the_persisted_cursor(database):
    first = Collect()
    for event_id in range(1, 11):
        await put(database, event_id, f"m{event_id}")
    assert await stored_tail(database, rescan=2).catch_up(first) == 10
    assert await StoredCursor(database, "test-events").load() == 10
    await put(database, 11, "m11")
    again = Collect()
    restarted = stored_tail(database, rescan=2)
    await restarted.catch_up(again)
    assert again.texts == ["m9", "m10", "m11"]  # only the rescan window before the cursor, not from 0


async def test_nothing_twice_across_a_restart_when_the_consumer_keeps_what_it_handled(database):
    kept: set[int] = set()

    async def unhandled(ids: list[int]) -> set[int]:
        return set(ids) - kept

    async def keep(rows: list[StoredEvent]) -> int:
        assert not kept & {row.id for row in rows}
        kept.update(row.id for row in rows)
        return len(rows)

    def tail() -> Tail[StoredEvent]:
        return event_tail(Transcripts(database), StoredCursor(database, "test-events"), unhandled=unhandled)

    for event_id in (1, 2, 4):
        await put(database, event_id, f"m{event_id}")
    assert await tail().catch_up(keep) == 3
    await put(database, 3, "m3")
    assert await tail().catch_up(keep) == 1  # restarted, late id 3 found, 1, 2, 4 not again
    assert await tail().catch_up(keep) == 0
    assert kept == {1, 2, 3, 4}


async def test_a_live_tail_starts_at_the_newest_event(database):
    await put(database, 5, "before the start")
    transcripts = Transcripts(database)
    collect = Collect()
    tail = event_tail(transcripts, MemoryCursor(transcripts.latest_id))
    assert await tail.catch_up(collect) == 0
    await put(database, 7, "after")
    await put(database, 4, "late, but from before the start")  # below the floor: never delivered
    await put(database, 6, "late")
    assert await tail.catch_up(collect) == 2
    assert await tail.catch_up(collect) == 0
    assert collect.texts == ["late", "after"]


async def test_a_failed_step_is_read_again(database):
    await put(database, 1, "m1")
    tail = stored_tail(database)
    calls: list[int] = []

    async def fail_once(rows: list[StoredEvent]) -> int:
        calls.append(len(rows))
        if len(calls) == 1:
            raise RuntimeError("database away")
        return len(rows)

    with contextlib.suppress(RuntimeError):
        await tail.step(fail_once)
    assert await tail.step(fail_once) == (1, False) and calls == [1, 1]


async def test_types_filter_and_unreadable_rows(database):
    await put(database, 1, "hello")
    await put(database, 2, "Hi there", kind="bot")
    async with database.engine.begin() as connection:
        await connection.execute(
            insert(EVENTS).values(
                id=3, sender_id="c", type_name="user", timestamp=time.time(), data="{not json"
            )
        )
    rows = await Transcripts(database).since(0, types=("user",))
    assert [(r.id, r.type_name, r.event is None) for r in rows] == [(1, "user", False), (3, "user", True)]


async def test_batches_continue_until_everything_is_read(database):
    for event_id in range(1, 121):
        await put(database, event_id, f"m{event_id}")
    collect = Collect()
    tail = stored_tail(database, rescan=10)  # batches of 50
    assert await tail.step(collect) == (50, True)
    assert await tail.catch_up(collect) == 70
    assert collect.texts == [f"m{n}" for n in range(1, 121)]


async def test_transcript_lines_of_a_conversation(database, store_event: Any):
    await store_event("c", user_event("where is my parcel"))
    await store_event("c", {"event": "action", "name": "action_listen"})
    await store_event("c", {"event": "bot", "text": "Let me look", "metadata": {}})
    await store_event("other", user_event("not this one"))
    transcripts = Transcripts(database)
    lines = await transcripts.lines("c")
    assert [(line.author, line.text) for line in lines] == [
        ("customer", "where is my parcel"),
        ("bot", "Let me look"),
    ]
    assert await transcripts.lines("c", after=lines[0].event_id) == lines[1:]
    assert await transcripts.input_channel("c") == "messenger"
    assert set(await transcripts.last_customer_times(["c", "other", "nobody"])) == {"c", "other"}
