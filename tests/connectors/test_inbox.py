"""The durable inbox and its worker, on the real engines: SQLite, PostgreSQL and Redis Streams (runtime A).

Each test gets an inbox of its own: a fresh SQLite file, a platform name of its own in PostgreSQL's
`test` database (every query is per platform), or a key prefix of its own in Redis.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import sqlalchemy as sa
from redis import asyncio as aioredis

from connectors import inbox_worker
from connectors.inbox import Entry, Inbox, InboxSettings, InboxUnavailable, NewEntry, inbox_from_env, shard_of
from connectors.inbox_redis import RedisInbox
from connectors.inbox_sql import SqlInbox, inbox_table
from connectors.inbox_worker import InboxWorker
from connectors.metrics import value
from connectors.retry import ReplyDeferred

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"
ENGINES = ["sqlite", "postgresql", "redis"]
FAST = InboxSettings(shards=4, lease_seconds=1.0, drain_seconds=5.0, concurrency=16)


class Engine:
    """Opens inboxes on one engine, all seeing the same data (as several processes would)."""

    def __init__(self, kind: str, tmp_path) -> None:
        self.kind = kind
        self.platform = f"t{uuid.uuid4().hex[:10]}"
        self.prefix = f"loom:test:{uuid.uuid4().hex[:8]}:"
        self.sqlite_url = f"sqlite:///{tmp_path}/inbox.db"
        self.opened: list[Inbox] = []

    def open(self, shards: int = FAST.shards) -> Inbox:
        if self.kind == "redis":
            inbox: Inbox = RedisInbox(REDIS_URL, shards, prefix=self.prefix)
        elif self.kind == "postgresql":
            inbox = SqlInbox(POSTGRES_URL, shards)
        else:
            inbox = SqlInbox(self.sqlite_url, shards)
        self.opened.append(inbox)
        return inbox

    async def cleanup(self) -> None:
        for inbox in self.opened:
            await inbox.close()
        if self.kind == "redis":
            client = aioredis.from_url(REDIS_URL)
            keys = [key async for key in client.scan_iter(f"{self.prefix}*")]
            if keys:
                await client.delete(*keys)
            await client.close()
        elif self.kind == "postgresql":
            engine = sa.create_engine(POSTGRES_URL)
            with engine.begin() as connection:
                connection.execute(inbox_table.delete().where(inbox_table.c.platform == self.platform))
            engine.dispose()


@pytest.fixture(params=ENGINES)
async def engine(request, tmp_path) -> AsyncIterator[Engine]:
    opened = Engine(request.param, tmp_path)
    try:
        yield opened
    finally:
        await opened.cleanup()


def entry(event_id: str, conversation: str = "c1") -> NewEntry:
    return NewEntry(event_id, conversation, json.dumps({"id": event_id}))


class Recorder:
    """A handler that records (member, conversation, event id); optionally blocks on some events."""

    def __init__(self) -> None:
        self.handled: list[tuple[str, str, str]] = []
        self.hold: set[str] = set()
        self.released = asyncio.Event()
        self.started: set[str] = set()

    def handler(self, member: str):
        async def handle(item: Entry) -> None:
            self.started.add(item.event_id)
            if item.event_id in self.hold:
                await self.released.wait()
            self.handled.append((member, item.conversation, item.event_id))

        return handle

    def order(self, conversation: str) -> list[str]:
        return [event for _, c, event in self.handled if c == conversation]


async def wait_for(condition, timeout: float = 15.0, what=lambda: "") -> None:
    """Poll `condition` until true (the event we wait for), failing after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met in time {what()}")
        await asyncio.sleep(0.02)


async def test_append_stores_new_events_and_refuses_redeliveries_durably(engine):
    first = engine.open()
    assert await first.append(engine.platform, [entry("m1"), entry("m2", "c2")]) == [True, True]
    assert await first.append(engine.platform, [entry("m2", "c2"), entry("m3")]) == [False, True]
    await first.close()
    again = engine.open()  # another process, or the same one after a restart
    assert await again.append(engine.platform, [entry("m1"), entry("m3"), entry("m4")]) == [
        False,
        False,
        True,
    ]
    assert await again.count_pending(engine.platform) == 4  # type: ignore[attr-defined]


async def test_each_conversation_is_handled_once_and_in_order(engine):
    inbox = engine.open()
    recorder = Recorder()
    worker = InboxWorker(inbox, engine.platform, recorder.handler("a"), FAST)
    worker.start()
    sent: dict[str, list[str]] = {f"c{i}": [] for i in range(5)}
    for n in range(12):  # several webhooks, each with one message of every conversation
        batch = [entry(f"{c}-m{n}", c) for c in sent]
        for c in sent:
            sent[c].append(f"{c}-m{n}")
        assert all(await inbox.append(engine.platform, batch))
        await inbox.append(engine.platform, batch[:2])  # a redelivery: refused, never handled twice
    await worker.settle()
    await worker.stop()
    assert {c: recorder.order(c) for c in sent} == sent
    assert len(recorder.handled) == 60


async def test_entries_stored_before_a_crash_are_handled_after_the_restart(engine):
    """Acked, then the process died before handling anything: the next process handles everything."""
    before = engine.open()
    assert all(await before.append(engine.platform, [entry(f"m{i}", f"c{i % 3}") for i in range(9)]))
    await before.close()
    recorder = Recorder()
    worker = InboxWorker(engine.open(), engine.platform, recorder.handler("b"), FAST)
    worker.start()
    await worker.settle()
    await worker.stop()
    assert sorted(event for _, _, event in recorder.handled) == sorted(f"m{i}" for i in range(9))


async def test_two_members_share_the_shards_and_a_dead_ones_work_is_taken_over(engine):
    recorder = Recorder()
    a = InboxWorker(engine.open(), engine.platform, recorder.handler("a"), FAST, member="member-a")
    b = InboxWorker(engine.open(), engine.platform, recorder.handler("b"), FAST, member="member-b")
    a.start()
    await wait_for(lambda: len(a.held) == FAST.shards)
    b.start()
    await wait_for(lambda: a.held and b.held and not a.held & b.held and len(a.held | b.held) == FAST.shards)

    # Events for conversations of a's shards; a starts the first of each and dies in the middle of them.
    a_conversations = [c for c in (f"c{i}" for i in range(40)) if shard_of(engine.platform, c, 4) in a.held][
        :3
    ]
    events = [entry(f"{c}-m{n}", c) for n in range(3) for c in a_conversations]
    recorder.hold = {f"{c}-m0" for c in a_conversations}
    await a.inbox.append(engine.platform, events)
    await wait_for(
        lambda: recorder.hold <= recorder.started,
        what=lambda: (recorder.hold, recorder.started, a.in_flight.keys(), a.held),
    )
    assert a._task is not None
    a._task.cancel()  # SIGKILL: no release, no more heartbeats, the entry in progress never finishes
    await a.queue.cancel()
    killed_at = asyncio.get_running_loop().time()

    await wait_for(lambda: len(b.held) == FAST.shards)
    recorder.released.set()
    await b.settle()
    took_over = asyncio.get_running_loop().time() - killed_at
    await b.stop()
    for c in a_conversations:
        assert recorder.order(c) == [f"{c}-m{n}" for n in range(3)]
    assert {member for member, _, _ in recorder.handled} == {"b"}
    assert took_over < 10 * FAST.lease_seconds


async def test_stop_finishes_work_in_progress_and_hands_the_shards_back(engine):
    recorder = Recorder()
    settings = replace(FAST, drain_seconds=10.0)
    a = InboxWorker(engine.open(), engine.platform, recorder.handler("a"), settings, member="member-a")
    a.start()
    await wait_for(lambda: len(a.held) == FAST.shards)
    recorder.hold = {"slow"}
    await a.inbox.append(engine.platform, [entry("slow")])
    await wait_for(lambda: "slow" in recorder.started)
    stopping = asyncio.create_task(a.stop())
    await asyncio.sleep(0.1)
    assert not stopping.done()  # waits for the entry in progress
    recorder.released.set()
    await stopping
    assert recorder.handled == [("a", "c1", "slow")]
    b = InboxWorker(engine.open(), engine.platform, recorder.handler("b"), FAST, member="member-b")
    b.start()
    await wait_for(lambda: len(b.held) == FAST.shards, timeout=FAST.lease_seconds)  # released: no expiry wait
    await b.inbox.append(engine.platform, [entry("after")])
    await b.settle()
    await b.stop()
    assert recorder.handled[1:] == [("b", "c1", "after")]


async def test_a_failing_event_is_retried_then_given_up_without_blocking_its_conversation(
    engine, monkeypatch
):
    monkeypatch.setattr(inbox_worker, "RETRY_BASE_SECONDS", 0.01)
    handled: list[str] = []
    attempts: list[str] = []

    async def handle(item: Entry) -> None:
        attempts.append(item.event_id)
        if item.event_id == "poison":
            raise ValueError("cannot handle this one")
        handled.append(item.event_id)

    worker = InboxWorker(engine.open(), engine.platform, handle, FAST)
    failed = value("inbox_failed", engine.platform)
    worker.start()
    await worker.inbox.append(engine.platform, [entry("poison"), entry("next")])
    await worker.settle()
    await worker.stop()
    assert attempts.count("poison") == inbox_worker.ATTEMPTS
    assert handled == ["next"]
    assert value("inbox_failed", engine.platform) == failed + 1


@pytest.mark.parametrize(
    "env",
    [{"REDIS_URL": "redis://127.0.0.1:1/0"}, {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test"}],
    ids=["redis", "postgresql"],
)
async def test_an_engine_that_cannot_be_reached_is_inbox_unavailable(env):
    inbox = inbox_from_env(env)
    with pytest.raises(InboxUnavailable):
        await inbox.append("messenger", [entry("m1")])
    with pytest.raises(InboxUnavailable):
        await inbox.ping()
    await inbox.close()


def test_without_redis_or_a_database_the_inbox_is_a_sqlite_file_in_var_dir(tmp_path):
    inbox = inbox_from_env({"VAR_DIR": str(tmp_path)})
    assert isinstance(inbox, SqlInbox) and inbox.engine == "sqlite"
    assert str(inbox.engine_url.database) == f"{tmp_path}/inbox.db"
    assert inbox_from_env({"DATABASE_URL": "postgres://u@h/d"}).engine == "postgresql"
    assert isinstance(inbox_from_env({"REDIS_URL": REDIS_URL, "DATABASE_URL": POSTGRES_URL}), RedisInbox)


@pytest.mark.parametrize(
    "bad",
    [
        {"INBOX_SHARDS": "0"},
        {"INBOX_LEASE_SECONDS": "soon"},
        {"INBOX_DRAIN_SECONDS": "-1"},
        {"INBOX_CONCURRENCY": "0"},
    ],
)
def test_bad_inbox_settings_stop_start_up(bad):
    with pytest.raises(ValueError, match="INBOX_"):
        InboxSettings.from_env(bad)


async def test_a_reply_the_platform_refused_for_now_is_tried_again_until_it_goes(engine, monkeypatch):
    """A platform outage (ReplyDeferred) is not our failure: no giving up after four attempts."""
    monkeypatch.setattr(inbox_worker, "RETRY_BASE_SECONDS", 0.01)
    attempts: list[str] = []

    async def handle(item: Entry) -> None:
        attempts.append(item.event_id)
        if len(attempts) <= inbox_worker.ATTEMPTS + 2:
            raise ReplyDeferred("HTTP 503 from the Send API")

    worker = InboxWorker(engine.open(), engine.platform, handle, FAST)
    failed = value("inbox_failed", engine.platform)
    worker.start()
    await worker.inbox.append(engine.platform, [entry("m1")])
    await worker.settle()
    await worker.stop()
    assert attempts == ["m1"] * (inbox_worker.ATTEMPTS + 3)
    assert value("inbox_failed", engine.platform) == failed


async def test_a_sqlite_inbox_keeps_its_connection_open_between_transactions(tmp_path):
    inbox = SqlInbox(f"sqlite:///{tmp_path}/inbox.db", FAST.shards)
    connects: list[object] = []
    try:
        sa.event.listen(inbox._engine(), "connect", lambda connection, record: connects.append(connection))
        for number in range(5):
            assert await inbox.append("messenger", [entry(f"m{number}")]) == [True]
        await inbox.ping()
        assert await inbox.count_pending("messenger") == 5
        assert len(connects) <= 1  # one connection for every transaction, not one each
    finally:
        await inbox.close()


async def test_with_a_timeline_each_handled_entry_writes_its_stages_and_spans(tmp_path):
    from bot import timeline

    path = tmp_path / "timeline.jsonl"
    engine = Engine("sqlite", tmp_path)
    inbox = engine.open()

    async def handle(item: Entry) -> None:
        timeline.mark("parsed")
        with timeline.span("work"):
            await asyncio.sleep(0.02)

    timeline.configure(str(path))
    try:
        worker = InboxWorker(inbox, engine.platform, handle, FAST)
        assert all(await inbox.append(engine.platform, [entry("m1"), entry("m2", "c2")]))
        worker.start()
        await worker.settle()
        await worker.stop()
    finally:
        timeline.configure(None)
        await engine.cleanup()
    turns = [json.loads(line) for line in path.read_text().splitlines()]
    assert sorted(turn["key"] for turn in turns) == sorted(f"{engine.platform}:{m}" for m in ("m1", "m2"))
    for turn in turns:
        marks = turn["marks"]
        assert list(marks) == ["fetched", "taken", "parsed", "handled", "done"]
        assert 0 <= marks["fetched"] <= marks["taken"] <= marks["parsed"] <= marks["handled"] <= marks["done"]
        assert turn["spans"]["work"] >= 0.015  # the loop's timer may fire a little early
        assert turn["spans"]["inbox_sql"] > 0  # marking the entry done: a transaction of the inbox


async def test_without_a_timeline_nothing_is_recorded(tmp_path):
    from bot import timeline

    timeline.configure(None)
    assert timeline.begin("k", 0.0) is None
    timeline.mark("taken")  # no turn: nothing to record, nothing raised
    with timeline.span("work"):
        pass
    timeline.end(None)
    assert not timeline.enabled()


async def test_a_sqlite_inbox_held_by_another_process_stores_once_it_is_free(tmp_path):
    """The event loop never waits for the file's lock: the transaction waits in the inbox's thread."""
    import sqlite3

    inbox = SqlInbox(f"sqlite:///{tmp_path}/inbox.db", 4)
    assert await inbox.append("messenger", [entry("m0")]) == [True]
    other = sqlite3.connect(tmp_path / "inbox.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write transaction
    try:
        store = asyncio.ensure_future(inbox.append("messenger", [entry("m1")]))
        started = time.monotonic()
        await asyncio.sleep(0.2)
        assert time.monotonic() - started < 1.0  # the event loop was not held up by the lock
        assert not store.done()  # waiting in the thread; the event loop went on
    finally:
        other.execute("COMMIT")
        other.close()
    assert await asyncio.wait_for(store, timeout=5) == [True]
    assert inbox._thread.hand_overs == 2  # the first transaction, and the one that found the file locked
    assert await inbox.append("messenger", [entry("m1")]) == [False]
    await inbox.close()


async def test_once_its_connection_is_open_a_sqlite_inbox_commits_in_the_event_loop(tmp_path):
    inbox = SqlInbox(f"sqlite:///{tmp_path}/inbox.db", 4)
    assert await inbox.append("messenger", [entry("m0")]) == [True]  # opens the connections, in the thread
    for i in range(1, 30):
        assert await inbox.append("messenger", [entry(f"m{i}", f"c{i}")]) == [True]
    fetched = await inbox.fetch("messenger", [0, 1, 2, 3], "member", set(), 100, 0.0)
    for item in fetched:
        await inbox.done(item)
    assert len(fetched) == 30 and await inbox.count_pending("messenger") == 0
    assert inbox._thread.hand_overs == 1
    await inbox.close()


async def test_a_sqlite_inbox_checkpoints_its_write_ahead_log_in_its_thread(tmp_path):
    from connectors import inbox_sql

    inbox = SqlInbox(f"sqlite:///{tmp_path}/inbox.db", 4)
    wal = tmp_path / "inbox.db-wal"
    sizes = []
    for round_ in range(4):
        for i in range(inbox_sql.CHECKPOINT_EVERY):
            await inbox.append("messenger", [entry(f"m{round_}-{i}")])
        sizes.append(wal.stat().st_size)
    assert sizes[-1] <= sizes[0] * 1.5  # checkpointed, the log is written again from its start
    assert await inbox.count_pending("messenger") == 4 * inbox_sql.CHECKPOINT_EVERY
    await inbox.close()
