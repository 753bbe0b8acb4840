"""Live updates: nudges reach every desk replica through Redis; the watcher reports each event once."""

from __future__ import annotations

import asyncio

from bot.conversations.tail import Transcripts
from bot.desk.live import TrackerWatcher
from bot.live_bus import Bus

from .conftest import user_event


async def test_nudges_reach_the_pages_of_every_replica_through_redis(redis_url):
    first, second = Bus(redis_url), Bus(redis_url)
    await first.start()
    await second.start()
    try:
        async with first.subscribe() as here, second.subscribe() as there:
            await asyncio.sleep(0.2)  # both relays subscribed
            await first.publish({"kind": "queue", "from": "first"})
            assert await asyncio.wait_for(there.get(), 5) == {"kind": "queue", "from": "first"}
            assert await asyncio.wait_for(here.get(), 5) == {"kind": "queue", "from": "first"}
            second.local({"kind": "conversation", "conversation_id": "c"})  # this replica's pages only
            assert (await asyncio.wait_for(there.get(), 5))["conversation_id"] == "c"
            await asyncio.sleep(0.2)
            assert here.empty()
    finally:
        await first.stop()
        await second.stop()


async def test_without_redis_nudges_stay_in_process():
    bus = Bus(None)
    await bus.start()
    async with bus.subscribe() as queue:
        await bus.publish({"kind": "queue"})
        assert queue.get_nowait() == {"kind": "queue"}
    await bus.stop()


async def test_a_stalled_page_keeps_only_the_newest_nudges():
    bus = Bus(None)
    async with bus.subscribe() as queue:
        for number in range(150):
            bus.local({"kind": "queue", "n": number})
        assert queue.qsize() == 100 and queue.get_nowait()["n"] == 50


async def test_the_watcher_reports_each_event_once(database, store_event):
    await store_event("old", user_event("before the desk started"))
    seen: list[tuple[str, str]] = []

    async def on_event(conversation_id: str, event: dict) -> None:
        seen.append((conversation_id, event["text"]))

    bus = Bus(None)
    watcher = TrackerWatcher(Transcripts(database), bus, 60, on_event)
    await watcher.prime()  # polled by hand below
    try:
        async with bus.subscribe() as nudges:
            await store_event("a", user_event("one"))
            await store_event("b", user_event("two"))
            assert await watcher.poll() == 2
            assert await watcher.poll() == 0  # the rescan window finds nothing new
            await store_event("a", user_event("three"))
            assert await watcher.poll() == 1
            kinds = [nudges.get_nowait() for _ in range(nudges.qsize())]
    finally:
        await watcher.stop()
    assert seen == [("a", "one"), ("b", "two"), ("a", "three")]
    assert {"kind": "conversation", "conversation_id": "b"} in kinds and {"kind": "queue"} in kinds
