"""Works a platform's inbox: takes shard leases, reads their entries in order, handles each, marks it done.

One worker per channel and process. Every `lease_seconds / 3` it says it is alive, renews its leases,
and takes or gives back shards so that live members hold about the same number
(`ceil(shards / members)`); a member that dies stops renewing, and its shards go to the others once
their leases expire (the recovery time is about `INBOX_LEASE_SECONDS`). Between those rounds it reads
entries of the shards it holds, and runs them through a `ConversationQueue`: one conversation's entries
one after another, in the order they were stored, conversations in parallel (at most
`settings.concurrency` entries at once).

Handling is at least once: an entry is marked done only after its handler returned, so a crash, a lost
lease or a failed `done` means it is handled again, by this or another member. Handlers make that
harmless (`connectors.turns`, `connectors.outbox`). A handler that keeps failing is retried
`ATTEMPTS` times, then logged, counted (`inbox_failed`) and marked done, so one poisonous event cannot
hold its conversation for ever. A reply the platform could not take (`ReplyDeferred`: rate limit,
outage) is not a failure of ours: the entry is handled again with a growing pause (up to a minute),
for as long as `DEFER_SECONDS`, its conversation waiting behind it.

`stop()` (SIGTERM, through Sanic's `before_server_stop`): no new entries, in-flight ones get up to
`drain_seconds` to finish, leases are released so another member takes the shards at once; whatever
did not finish stays in the inbox for that member.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
import zlib
from collections.abc import Awaitable, Callable

from bot import timeline
from connectors.conversation_queue import ConversationQueue
from connectors.inbox import Entry, Inbox, InboxSettings, InboxUnavailable
from connectors.metrics import count
from connectors.retry import ReplyDeferred

logger = logging.getLogger(__name__)

ATTEMPTS = 4  # a failing handler runs this many times, 1, 2 and 4 s apart
RETRY_BASE_SECONDS = 1.0
DEFER_SECONDS = 6 * 3600.0  # a platform outage shorter than this loses no reply
MAX_DEFER_PAUSE = 60.0
DONE_ATTEMPTS = 8  # marking done is retried for about half a minute before giving up (handled again)

Handler = Callable[[Entry], Awaitable[None]]


def member_name() -> str:
    """Unique per process and start: host, pid and a random suffix (a restarted pid is a new member)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class InboxWorker:
    """The consumer of one platform's inbox in this process."""

    def __init__(
        self,
        inbox: Inbox,
        platform: str,
        handler: Handler,
        settings: InboxSettings | None = None,
        member: str | None = None,
        can_work: Callable[[], bool] = lambda: True,
    ) -> None:
        self.inbox = inbox
        self.platform = platform
        self.handler = handler
        self.settings = settings or InboxSettings()
        self.member = member or member_name()
        self.can_work = can_work
        self.held: set[int] = set()
        self.in_flight: dict[str, Entry] = {}
        self.queue = ConversationQueue(platform)
        self.draining = False
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._progress = asyncio.Event()
        self._fetched: dict[str, float] = {}  # when each entry was read (only with a turn timeline)

    @property
    def running(self) -> bool:
        """Started and not stopped."""
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        """Start the loop (idempotent; called at server start and on the first webhook)."""
        if self.running or self.draining:
            return
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=f"inbox-{self.platform}")

    async def _loop(self) -> None:
        interval = self.settings.lease_seconds / 3
        next_round = 0.0
        while not self.draining:
            try:
                if time.monotonic() >= next_round:
                    await self._lease_round()
                    next_round = time.monotonic() + interval
                await self._read(wait=max(0.05, next_round - time.monotonic()))
                self.last_error = None
            except InboxUnavailable as err:
                self._unavailable(str(err))
                await asyncio.sleep(min(1.0, interval))
            except asyncio.CancelledError:
                raise
            except Exception:  # the loop must survive anything one round does wrong
                logger.exception("%s inbox worker round failed", self.platform)
                await asyncio.sleep(min(1.0, interval))

    def _unavailable(self, error: str) -> None:
        if error != self.last_error:
            logger.warning("%s inbox unavailable: %s", self.platform, error)
        self.last_error = error

    async def _lease_round(self) -> None:
        """Heartbeat, renew, then give back or take shards towards an even share."""
        ttl = self.settings.lease_seconds
        if not self.can_work():  # e.g. no model loaded: hold nothing, so the others take every shard
            for shard in sorted(self.held - {e.shard for e in self.in_flight.values()}):
                self.held.discard(shard)
                await self.inbox.release(self.platform, shard, self.member)
            return
        members = await self.inbox.heartbeat(self.platform, self.member, ttl)
        target = math.ceil(self.inbox.shards / max(members, 1))
        for shard in sorted(self.held):
            if not await self.inbox.lease(self.platform, shard, self.member, ttl):
                self.held.discard(shard)
                logger.warning("%s inbox: lease of shard %d lost to another member", self.platform, shard)
        busy = {entry.shard for entry in self.in_flight.values()}
        for shard in sorted(self.held - busy, reverse=True)[: max(0, len(self.held) - target)]:
            self.held.discard(shard)
            await self.inbox.release(self.platform, shard, self.member)
            logger.info("%s inbox: shard %d handed over (%d members)", self.platform, shard, members)
        for shard in self._shard_order():
            if len(self.held) >= target:
                break
            if shard in self.held or not await self.inbox.lease(self.platform, shard, self.member, ttl):
                continue
            self.held.add(shard)
            adopted = await self.inbox.adopt(self.platform, shard, self.member)
            logger.info(
                "%s inbox: shard %d taken by %s (%d unfinished entries adopted)",
                self.platform,
                shard,
                self.member,
                len(adopted),
            )
            for entry in adopted:
                self._submit(entry)

    def _shard_order(self) -> list[int]:
        """Every shard, starting at one that depends on the member: members do not all race for shard 0."""
        shards = self.inbox.shards
        start = zlib.crc32(self.member.encode()) % shards
        return [(start + i) % shards for i in range(shards)]

    async def _read(self, wait: float) -> None:
        """Read and submit the held shards' next entries, waiting up to `wait` s for some."""
        room = self.settings.concurrency - len(self.in_flight)
        if room <= 0 or not self.held:
            self._progress.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._progress.wait(), timeout=wait)
            return
        entries = await self.inbox.fetch(
            self.platform, sorted(self.held), self.member, set(self.in_flight), room, wait
        )
        if entries and timeline.enabled():
            self._fetched.update(dict.fromkeys((entry.key for entry in entries), time.perf_counter()))
        for entry in entries:
            self._submit(entry)

    def _submit(self, entry: Entry) -> None:
        if entry.key in self.in_flight:
            return
        self.in_flight[entry.key] = entry
        self.queue.submit(entry.conversation, lambda: self._work(entry))

    async def _work(self, entry: Entry) -> None:
        """Handle (with retries), then mark done; always leave `in_flight`."""
        fetched = self._fetched.pop(entry.key, None)
        earlier = {"fetched": fetched} if fetched else {}
        turn = timeline.begin(f"{entry.platform}:{entry.event_id}", entry.received_at, **earlier)
        timeline.mark("taken")
        try:
            attempt, deferred, since = 1, 0, time.monotonic()
            while True:
                try:
                    await self.handler(entry)
                    break
                except asyncio.CancelledError:
                    raise
                except ReplyDeferred as err:
                    if time.monotonic() - since > DEFER_SECONDS:
                        count("inbox_failed", self.platform)
                        logger.error(
                            "%s event %s: platform unavailable for too long: %s",
                            self.platform,
                            entry.event_id,
                            err,
                        )
                        break
                    deferred += 1
                    pause = min(MAX_DEFER_PAUSE, RETRY_BASE_SECONDS * 2 ** (deferred - 1))
                    count("inbox_retries", self.platform)
                    logger.warning(
                        "%s event %s: %s; handled again in %.0f s", self.platform, entry.event_id, err, pause
                    )
                    await asyncio.sleep(pause)
                except Exception:
                    if attempt == ATTEMPTS:
                        count("inbox_failed", self.platform)
                        logger.exception(
                            "%s event %s failed %d times; given up", self.platform, entry.event_id, ATTEMPTS
                        )
                        break
                    count("inbox_retries", self.platform)
                    logger.warning(
                        "%s event %s failed (attempt %d), retrying",
                        self.platform,
                        entry.event_id,
                        attempt,
                        exc_info=True,
                    )
                    await asyncio.sleep(RETRY_BASE_SECONDS * 2 ** (attempt - 1))
                    attempt += 1
            timeline.mark("handled")
            await self._done(entry)
        finally:
            self.in_flight.pop(entry.key, None)
            self._progress.set()
            timeline.end(turn)

    async def _done(self, entry: Entry) -> None:
        for attempt in range(DONE_ATTEMPTS):
            try:
                await self.inbox.done(entry)
                return
            except InboxUnavailable as err:
                self._unavailable(str(err))
                await asyncio.sleep(min(8.0, 0.25 * 2**attempt))
        logger.error(
            "%s event %s handled but not marked done: it will be handled again", self.platform, entry.event_id
        )

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until nothing is in flight and the inbox holds nothing unfinished (tests, benchmarks)."""
        deadline = time.monotonic() + timeout
        while self.in_flight or await self.inbox.count_pending(self.platform):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.platform} inbox not settled after {timeout} s")
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        """Stop reading, let in-flight work finish (bounded), give the leases back, leave (once)."""
        if self.draining:
            return
        self.draining = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self.in_flight:
            logger.info("%s inbox: draining %d entries in progress", self.platform, len(self.in_flight))
            try:
                await asyncio.wait_for(self.queue.drain(), timeout=self.settings.drain_seconds)
            except asyncio.TimeoutError:
                logger.warning(
                    "%s inbox: %d entries unfinished after %.0f s; left for another member",
                    self.platform,
                    len(self.in_flight),
                    self.settings.drain_seconds,
                )
                await self.queue.cancel()
        try:
            for shard in sorted(self.held):
                await self.inbox.release(self.platform, shard, self.member)
            await self.inbox.leave(self.platform, self.member)
        except InboxUnavailable as err:
            logger.warning(
                "%s inbox: leases not released (%s); they expire by themselves", self.platform, err
            )
        self.held.clear()
