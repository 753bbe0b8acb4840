"""Live updates: a bus that reaches every open desk page, on this replica and (with Redis) on the others.

What travels is only a nudge ("queue changed", "conversation X has news", "new alert"); pages then
fetch what they are allowed to see. So nothing customer-written crosses the bus, and a lost nudge
delays a page by one event at worst, it never loses a message (the tracker store has it). The desk
subscribes; the desk and the monitoring service publish.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

logger = logging.getLogger(__name__)
CHANNEL = "loom:desk:live"
SUBSCRIBER_BACKLOG = 100


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
