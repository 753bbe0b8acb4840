"""The desk's watch on Rasa's tracker store: new events nudge the pages that show them (bot/live_bus.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from bot.conversations.transcript import Transcripts
from bot.live_bus import Bus

logger = logging.getLogger(__name__)
RESCAN = 200  # re-read this many recent ids: PostgreSQL may commit ids out of order


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
