"""The desk's watch on Rasa's tracker store: new events nudge the pages that show them (bot/live_bus.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from bot.conversations.tail import MemoryCursor, StoredEvent, Transcripts, event_tail
from bot.live_bus import Bus

logger = logging.getLogger(__name__)


class Poller:
    """A read in the background every `interval` seconds, after `prime()` at start.

    A failed read is logged and the next one tries again (the database may be briefly away).
    """

    def __init__(self, interval: float, reading: str) -> None:
        self._interval = interval
        self._reading = reading  # for the log line: what could not be read
        self._task: asyncio.Task[None] | None = None

    async def prime(self) -> None:
        """What to do once before the first poll."""

    async def poll(self) -> Any:
        """One read."""
        raise NotImplementedError

    async def start(self) -> None:
        """Prime, then poll in the background."""
        await self.prime()
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop polling."""
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
            except Exception as err:
                logger.warning("desk could not read %s: %s", self._reading, err)
            await asyncio.sleep(self._interval)


class TrackerWatcher(Poller):
    """Follows Rasa's events from the desk's start on (a tail kept in memory) and nudges the pages."""

    def __init__(
        self,
        transcripts: Transcripts,
        bus: Bus,
        interval: float,
        on_event: Callable[[str, dict[str, Any]], Awaitable[None]],
    ) -> None:
        super().__init__(interval, "new conversation events")
        self._bus = bus
        self._on_event = on_event
        self._cursor = MemoryCursor(transcripts.latest_id)
        self._tail = event_tail(transcripts, self._cursor)

    async def prime(self) -> None:
        """Begin after the newest existing event (pages load history themselves)."""
        await self._cursor.load()

    async def poll(self) -> int:
        """Handle events not seen yet; how many there were."""
        return await self._tail.catch_up(self._handle)

    async def _handle(self, rows: list[StoredEvent]) -> int:
        touched: set[str] = set()
        for row in rows:
            touched.add(row.conversation_id)
            if row.event is None:
                continue
            try:
                await self._on_event(row.conversation_id, row.event)
            except Exception:  # one event's handling must not hold up (or repeat) the others
                logger.exception("desk could not handle event %s of %s", row.id, row.conversation_id)
        for conversation_id in touched:
            self._bus.local({"kind": "conversation", "conversation_id": conversation_id})
        if touched:
            self._bus.local({"kind": "queue"})
        return len(rows)
