"""Blocking calls run one at a time in a thread of their own, those that queue together in one hand-over.

The SQLite stores (the inbox, the connectors' key-value store) take one writer at a time, and their
calls are short: a statement and a commit, well under a millisecond. What costs is the hand-over to a
thread and back: the thread must win the GIL from the event loop and the NLU worker, and under load
that took 10-50 ms a call, with the next call queued behind it (bench/PROFILE.md, fifth round). So
the calls that arrive while the thread is busy are run together in its next hand-over, one after
another and each on its own (a failing call fails only its caller), as `bot/rasa_server/batch_parse.py`
does for understanding: at low traffic a call goes alone, as before; under load one hand-over serves
many. Better still, a caller may give the same work in a form that never waits (`run(call, inline)`):
it then runs in the event loop's own thread while that stays quick, and only goes to the thread when
it would have to wait (a database another process holds) or when such calls turn slow (a slow disk).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
# Inline calls that take longer than this on average (a slow disk) go to the thread for INLINE_PAUSE s.
# An average, not each call, and well above a commit's fsync: under load the event loop's thread waits
# for the GIL after any call that released it (5-7 ms on average at 40 messages/s, fifth round), time
# the NLU thread uses meanwhile.
INLINE_BUDGET = 0.02
INLINE_WEIGHT = 0.1  # of the last call in the running average
INLINE_PAUSE = 30.0
Outcome = tuple[bool, Any]  # (succeeded, the result or the exception)
Queued = tuple[Callable[[], Any], "asyncio.Future[Any]"]


class Busy(Exception):
    """An inline call could not run without waiting (a database locked by another process)."""


@contextlib.contextmanager
def sqlite_without_waiting(lock: threading.Lock) -> Iterator[None]:
    """Around an inline call on a SQLite connection guarded by `lock`: `Busy` instead of any wait.

    Busy when another thread holds `lock` now, or when SQLite refuses the file as locked by another
    process (the connection's `busy_timeout` is 0; one statement or transaction refused changed nothing).
    """
    if not lock.acquire(blocking=False):
        raise Busy
    try:
        yield
    except Exception as err:
        cause = getattr(err, "orig", err)  # SQLAlchemy wraps the driver's error
        if isinstance(cause, sqlite3.OperationalError) and ("locked" in str(cause) or "busy" in str(cause)):
            raise Busy from err
        raise
    finally:
        lock.release()


class SerialThread:
    """One worker thread; `run` queues a call and returns its result (or raises its exception)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._inline_paused_until = 0.0
        self._inline_mean = 0.0
        self.hand_overs = 0  # batches handed to the thread so far (diagnostics, tests)
        # Per event loop (tests and Sanic may use several): the calls waiting, and the task handing them over.
        self._queues: dict[asyncio.AbstractEventLoop, list[Queued]] = {}
        self._drains: dict[asyncio.AbstractEventLoop, asyncio.Task[None]] = {}

    async def run(self, call: Callable[[], T], inline: Callable[[], T] | None = None) -> T:
        """Run `call` in the thread, after the calls queued before it.

        `inline`: the same work done right here, in the event loop's thread, which saves the hand-over
        to the thread and back (tens of milliseconds under load). Tried first when the thread has
        nothing queued (so calls keep their order) and while inline calls stay quick: when they take
        longer than `INLINE_BUDGET` on average (a slow disk), calls go to the thread for
        `INLINE_PAUSE`. It raises `Busy` rather than wait (a database another process holds, or a
        connection not opened yet): then `call` goes to the thread.
        """
        if inline is not None and not self._drains and time.monotonic() >= self._inline_paused_until:
            started = time.perf_counter()
            try:
                return inline()
            except Busy:
                pass
            finally:
                self._inline_took(time.perf_counter() - started)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queues.setdefault(loop, []).append((call, future))
        if loop not in self._drains:
            self._drains[loop] = loop.create_task(self._drain(loop))
        return await future

    async def _drain(self, loop: asyncio.AbstractEventLoop) -> None:
        queue = self._queues[loop]
        try:
            await asyncio.sleep(0)  # callers already runnable in this pass of the loop join the first batch
            while queue:
                batch = queue[:]
                del queue[: len(batch)]
                self.hand_overs += 1
                try:
                    outcomes = await loop.run_in_executor(self._executor, _run_all, [c for c, _ in batch])
                except BaseException:  # cancelled with the loop: its callers must not wait for ever
                    for _, future in batch:
                        future.cancel()
                    raise
                for (_, future), (succeeded, value) in zip(batch, outcomes, strict=True):
                    if future.done():  # its caller was cancelled; the call ran anyway
                        continue
                    if succeeded:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
        finally:
            del self._drains[loop]
            if queue:  # a failure above (a cancelled loop) left calls behind: never strand them
                self._drains[loop] = loop.create_task(self._drain(loop))
            else:
                self._queues.pop(loop, None)

    def _inline_took(self, seconds: float) -> None:
        self._inline_mean += INLINE_WEIGHT * (seconds - self._inline_mean)
        if self._inline_mean > INLINE_BUDGET:
            logger.info(
                "%s: calls took %.1f ms on average in the event loop; for %.0f s they go to its thread",
                self.name,
                self._inline_mean * 1000,
                INLINE_PAUSE,
            )
            self._inline_paused_until = time.monotonic() + INLINE_PAUSE
            self._inline_mean = 0.0

    def shutdown(self) -> None:
        """Stop the thread once what it runs now is done (calls queued later are refused)."""
        self._executor.shutdown(wait=False)


def _run_all(calls: list[Callable[[], Any]]) -> list[Outcome]:
    """In the worker thread: each call in turn, its exception kept for its own caller."""
    outcomes: list[Outcome] = []
    for call in calls:
        try:
            outcomes.append((True, call()))
        except Exception as err:  # handed to the caller that asked for this call
            outcomes.append((False, err))
    return outcomes
