"""Process each conversation's events one after another, conversations in parallel.

The inbox worker (`connectors.inbox_worker`) submits the entries it reads here: background tasks
chained per conversation, so a customer's messages are handled in the order they were stored even when
they arrive in one batch.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from connectors.metrics import PROCESSING_SECONDS, QUEUE_CONVERSATIONS, QUEUE_JOBS, count

logger = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class ConversationQueue:
    """A chain of tasks per conversation key; `platform` labels its metrics."""

    def __init__(self, platform: str = "unknown") -> None:
        self._tails: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()  # every job not finished, for `cancel`
        self.platform = platform

    def submit(self, key: str, job: Job) -> None:
        """Run `job` after every job submitted before for the same key."""
        previous = self._tails.get(key)
        task = asyncio.get_running_loop().create_task(self._run(key, previous, job, time.perf_counter()))
        self._tails[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        QUEUE_JOBS.labels(self.platform).inc()
        if previous is None:
            QUEUE_CONVERSATIONS.labels(self.platform).inc()

    async def _run(self, key: str, previous: asyncio.Task[None] | None, job: Job, queued: float) -> None:
        try:
            if previous is not None:
                await asyncio.wait([previous])  # its failure is logged there; ours still runs
            await job()
        except Exception:  # the outermost boundary of a background job: log it with its stack
            count("processing_errors", self.platform)
            logger.exception("processing an event of conversation %s failed", key)
        finally:
            PROCESSING_SECONDS.labels(self.platform).observe(time.perf_counter() - queued)
            QUEUE_JOBS.labels(self.platform).dec()
            if self._tails.get(key) is asyncio.current_task():
                del self._tails[key]
                QUEUE_CONVERSATIONS.labels(self.platform).dec()

    @property
    def pending(self) -> int:
        """Conversations with work in progress."""
        return len(self._tails)

    async def drain(self) -> None:
        """Wait for everything submitted so far (used on shutdown)."""
        while self._tails:
            await asyncio.wait(list(self._tails.values()))

    async def cancel(self) -> None:
        """Cancel what is still running or waiting (shutdown after the drain time ran out)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
