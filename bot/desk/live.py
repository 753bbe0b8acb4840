"""Live updates: a bus that reaches every open desk page, on this replica and (with Redis) on the others.

What travels is only a nudge ("queue changed", "conversation X has news"); pages then fetch what they
are allowed to see through the API. So nothing customer-written crosses the bus, and a lost nudge
delays a page by one event at worst, it never loses a message (the tracker store has it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from bot.desk.transcript import Transcripts

logger = logging.getLogger(__name__)
CHANNEL = "loom:desk:live"
SUBSCRIBER_BACKLOG = 100
RESCAN = 200  # re-read this many recent ids: PostgreSQL may commit ids out of order


class Bus:
    """Fan-out to the subscribers of this process; with Redis, published to every replica."""

    def __init__(self, redis_url: str | None = None) -> None:
        self._subscribers: set[asyncio.Queue[dict[str, Any]]] = set()
        self._redis_url = redis_url
        self._redis: Any = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Connect to Redis and relay what other replicas publish."""
        if not self._redis_url:
            return
        from redis import asyncio as aioredis

        self._redis = aioredis.from_url(self._redis_url, decode_responses=True)
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(CHANNEL)
        self._listener = asyncio.create_task(self._relay(pubsub))

    async def _relay(self, pubsub: Any) -> None:
        while True:
            try:
                message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=5.0)
                if message is not None:
                    self._deliver(json.loads(message["data"]))
            except asyncio.CancelledError:
                await pubsub.aclose()
                raise
            except Exception as err:  # keep relaying; Redis may come back
                logger.warning("desk live updates from Redis interrupted: %s", err)
                await asyncio.sleep(1.0)

    async def stop(self) -> None:
        """Stop relaying and close the connection."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._redis is not None:
            await self._redis.aclose()

    async def publish(self, nudge: dict[str, Any]) -> None:
        """Tell every desk page (every replica, with Redis)."""
        if self._redis is not None:
            try:
                await self._redis.publish(CHANNEL, json.dumps(nudge))
                return
            except Exception as err:  # fall back to this replica's pages
                logger.warning("desk live update not published to Redis: %s", err)
        self._deliver(nudge)

    def local(self, nudge: dict[str, Any]) -> None:
        """Tell the pages of this replica only (each replica watches the tracker store itself)."""
        self._deliver(nudge)

    def _deliver(self, nudge: dict[str, Any]) -> None:
        for queue in list(self._subscribers):
            if queue.full():  # a stalled page: drop its oldest nudge rather than grow without bound
                queue.get_nowait()
            queue.put_nowait(nudge)

    @contextlib.asynccontextmanager
    async def subscribe(self) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
        """A queue of nudges for one open page."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(SUBSCRIBER_BACKLOG)
        self._subscribers.add(queue)
        try:
            yield queue
        finally:
            self._subscribers.discard(queue)


class TrackerWatcher:
    """Looks for new events in Rasa's tracker store and nudges the pages that show them."""

    def __init__(
        self,
        transcripts: Transcripts,
        bus: Bus,
        interval: float,
        on_event: Callable[[str, dict[str, Any]], Awaitable[None]],
    ) -> None:
        self._transcripts = transcripts
        self._bus = bus
        self._interval = interval
        self._on_event = on_event
        self._last = self._floor = 0
        self._seen: deque[int] = deque(maxlen=RESCAN * 4)
        self._task: asyncio.Task[None] | None = None

    async def prime(self) -> None:
        """Begin after the newest existing event (pages load history themselves)."""
        self._last = self._floor = await self._transcripts.latest_id()

    async def start(self) -> None:
        """Prime, then poll in the background."""
        await self.prime()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop watching."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except asyncio.CancelledError:
                raise
            except Exception as err:  # the database may be briefly away; try again
                logger.warning("desk could not read new conversation events: %s", err)
            await asyncio.sleep(self._interval)

    async def poll(self) -> int:
        """Handle events not seen yet; how many there were."""
        seen = set(self._seen)
        after = max(self._floor, self._last - RESCAN)
        rows = [r for r in await self._transcripts.since(after) if r[0] not in seen]
        touched: set[str] = set()
        for event_id, conversation_id, event in rows:
            self._seen.append(event_id)
            self._last = max(self._last, event_id)
            await self._on_event(conversation_id, event)
            touched.add(conversation_id)
        for conversation_id in touched:
            self._bus.local({"kind": "conversation", "conversation_id": conversation_id})
        if touched:
            self._bus.local({"kind": "queue"})
        return len(rows)
