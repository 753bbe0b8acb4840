"""Work the fake platforms do after answering a call: the webhooks they send about our own actions.

X echoes the DMs we send; Meta and X post webhooks for our own public comments and tweets. Each runs
as a task kept in the app (so it is not garbage-collected mid-flight) and cancelled at shutdown,
before the HTTP session closes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from aiohttp import web

from bot.simulator.keys import TASKS_KEY


async def background_tasks(app: web.Application) -> AsyncIterator[None]:
    """Keep deliveries referenced while they run; cancel the stragglers at shutdown."""
    tasks: set[asyncio.Task[None]] = set()
    app[TASKS_KEY] = tasks
    yield
    for task in list(tasks):
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def spawn(app: web.Application, work: Coroutine[Any, Any, None]) -> None:
    """Run `work` after the current answer, kept until it finishes."""
    task = asyncio.create_task(work)
    tasks = app[TASKS_KEY]
    tasks.add(task)
    task.add_done_callback(tasks.discard)
