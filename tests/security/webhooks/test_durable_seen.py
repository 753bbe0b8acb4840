"""Seen webhook ids survive a restart without Redis: the SQLite inbox and store (runtime A)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from connectors.kv_sqlite import SqliteStore
from connectors.state import ConnectorState, store_from_env

from .conftest import fixtures, fresh, serve


async def test_a_batch_redelivered_after_a_restart_is_answered_once(tmp_path):
    """Meta redelivers a batch after the server restarted: the new process still knows its ids."""
    body = fresh(fixtures("messenger")["batch__two_users_out_of_order"])
    answered = []
    for _ in range(2):  # two server processes, one after the other, configured as `make run` does
        store = store_from_env({"VAR_DIR": str(tmp_path)})  # no REDIS_URL
        async for server in serve(ConnectorState(store), var_dir=tmp_path):
            assert (await server.post_json("messenger", body))[0] == 200
            await server.settle()
            answered.append(len(server.received))
        getattr(store, "close", lambda: None)()
    assert answered == [3, 0]


def test_without_redis_the_store_is_a_file_in_var_dir(tmp_path):
    store = store_from_env({"VAR_DIR": str(tmp_path)})
    assert isinstance(store, SqliteStore) and store.path == tmp_path / "connectors.db"


async def test_a_new_store_on_the_same_file_sees_the_same_keys(tmp_path):
    first = SqliteStore(tmp_path / "state.db")
    assert await first.add("seen:messenger:m_1", "1", 3600)
    await first.set("inbound:messenger:42", "1700000000000", 3600)
    first.close()
    second = SqliteStore(tmp_path / "state.db")
    assert not await second.add("seen:messenger:m_1", "1", 3600)
    assert await second.get("inbound:messenger:42") == "1700000000000"
    await second.delete("inbound:messenger:42")
    assert await second.get("inbound:messenger:42") is None


async def test_expired_keys_are_gone_and_can_be_added_again(tmp_path):
    store = SqliteStore(tmp_path / "state.db")
    assert await store.add("k", "old", 0)  # expires at once
    assert await store.get("k") is None
    assert await store.add("k", "new", 3600)
    assert await store.get("k") == "new"
    assert not await store.add("k", "newer", 3600)
    assert await store.get("k") == "new"


async def test_expired_rows_are_pruned(tmp_path):
    store = SqliteStore(tmp_path / "state.db", prune_every=10)
    for i in range(9):
        await store.set(f"gone:{i}", "1", 0)
    await store.set("kept", "1", 3600)  # the tenth write prunes
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("SELECT key FROM kv").fetchall() == [("kept",)]


async def test_concurrent_adds_of_one_key_have_exactly_one_winner(tmp_path):
    """Two stores (two connections, as two processes would have) race for the same keys."""
    stores = [SqliteStore(tmp_path / "state.db"), SqliteStore(tmp_path / "state.db")]
    for round_ in range(20):
        key = f"seen:twitter:{round_}"
        results = await asyncio.gather(*(stores[i % 2].add(key, str(i), 3600) for i in range(16)))
        assert sum(results) == 1
    for store in stores:
        store.close()


def open_together(stores: list[SqliteStore]) -> list[Exception]:
    """Each store opens its connection in a thread of its own, all at the same moment; what they raised."""
    together, failures = threading.Barrier(len(stores)), []

    def open_(store: SqliteStore) -> None:
        together.wait()
        try:
            store._connection()
        except sqlite3.Error as err:
            failures.append(err)

    threads = [threading.Thread(target=open_, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_two_stores_opening_a_new_file_at_the_same_moment_both_open_it(tmp_path):
    """Both switch the new file to WAL at once: SQLite refuses one without waiting (1 time in 4 here)."""
    for attempt in range(40):
        path = tmp_path / f"state-{attempt}.db"
        stores = [SqliteStore(path), SqliteStore(path)]
        assert open_together(stores) == []
        with sqlite3.connect(path) as db:
            assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        for store in stores:
            store.close()


async def test_store_calls_never_wait_for_the_event_loops_shared_threads(tmp_path):
    """Calls queue in the store's own thread: a busy default executor (the inbox's) does not hold them."""
    loop = asyncio.get_running_loop()
    busy = threading.Event()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    blocker = loop.run_in_executor(None, busy.wait, 10)  # the shared pool's one thread, taken
    store = SqliteStore(tmp_path / "state.db")
    try:
        await asyncio.wait_for(store.set("inbound:messenger:42", "1", 3600), timeout=5)
        assert await asyncio.wait_for(store.get("inbound:messenger:42"), timeout=5) == "1"
        assert not blocker.done()  # the shared thread was busy all along
    finally:
        busy.set()
        await blocker
        store.close()


async def test_once_its_connection_is_open_calls_run_in_the_event_loop(tmp_path):
    """A hand-over to the store's thread costs tens of ms under load; a call here, well under one."""
    store = SqliteStore(tmp_path / "state.db")
    assert await store.add("seen:messenger:m0", "1", 3600) is True  # opens the connections, in the thread
    assert store._thread.hand_overs == 1
    for i in range(1, 50):
        assert await store.add(f"seen:messenger:m{i}", "1", 3600) is True
        assert await store.get(f"seen:messenger:m{i}") == "1"
    assert await store.add("seen:messenger:m7", "1", 3600) is False
    assert store._thread.hand_overs == 1
    store.close()


async def test_a_loop_connection_that_cannot_open_yet_fails_no_call(tmp_path, monkeypatch):
    """The loop's connection opens after the first call committed: its failure is not the call's."""
    store = SqliteStore(tmp_path / "state.db")
    connect, opened = store._connect, []

    def locked_on_the_second() -> (
        sqlite3.Connection
    ):  # the loop's connection, as another process locks the file
        opened.append(1)
        if len(opened) == 2:
            raise sqlite3.OperationalError("database is locked")
        return connect()

    monkeypatch.setattr(store, "_connect", locked_on_the_second)
    assert await store.add("seen:messenger:m1", "1", 3600) is True  # committed, and reported so
    assert len(opened) == 2 and store._inline_db is None  # the loop's connection was tried, not opened
    assert await store.add("seen:messenger:m1", "1", 3600) is False  # in the thread, which opens it now
    assert store._inline_db is not None
    assert await store.get("seen:messenger:m1") == "1"
    assert store._thread.hand_overs == 2  # and from here, the calls run in the loop
    store.close()


async def test_a_write_while_another_process_holds_the_database_waits_for_it_in_the_thread(tmp_path):
    """In the event loop a locked database is never waited for; the call goes to the store's thread."""
    store = SqliteStore(tmp_path / "state.db")
    await store.set("first", "1", 3600)  # the file and its table exist
    other = sqlite3.connect(tmp_path / "state.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process's write transaction
    try:
        write = asyncio.ensure_future(store.add("seen:messenger:m1", "1", 3600))
        started = time.monotonic()
        await asyncio.sleep(0.2)
        assert time.monotonic() - started < 1.0  # the event loop was not held up by the lock
        assert not write.done()  # waiting in the thread, and the event loop is free meanwhile
    finally:
        other.execute("COMMIT")
        other.close()
    assert await asyncio.wait_for(write, timeout=5) is True
    assert store._thread.hand_overs == 2  # the first call, and the one that found the file locked
    assert await store.add("seen:messenger:m1", "1", 3600) is False
    store.close()


async def test_the_write_ahead_log_is_checkpointed_by_the_store(tmp_path):
    """The event loop's connection never checkpoints (a copy and an fsync); the store's thread does."""
    from connectors import kv_sqlite

    store = SqliteStore(tmp_path / "state.db")
    wal = tmp_path / "state.db-wal"
    sizes = []
    for round_ in range(4):
        for i in range(kv_sqlite.CHECKPOINT_EVERY):
            await store.set(f"inbound:messenger:{round_}:{i}", "x" * 200, 3600)
        sizes.append(wal.stat().st_size)
    # Checkpointed, the log is written again from its start: it stops growing.
    assert sizes[-1] <= sizes[0] * 1.5
    with sqlite3.connect(tmp_path / "state.db") as db:
        assert db.execute("SELECT count(*) FROM kv").fetchone() == (4 * kv_sqlite.CHECKPOINT_EVERY,)
    store.close()
