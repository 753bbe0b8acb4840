"""The outbox: a bot reply re-generated when an inbound event is processed again is not sent again.

The inbox processes each inbound event at least once; after a crash mid-turn, Rasa re-runs the turn
and regenerates the same bot messages in the same order. Around the processing of one event the
consumer opens `turn(platform, inbound_id)`; inside it, every platform message a client sends takes
the next position, and `Outbox.send_once` keeps `outbox:{platform}:{inbound_id}:{position}` in the
connectors' store:

- absent: recorded "sending" (atomic add), sent, then recorded "sent" with the platform's message id;
- "sent": not sent again, the stored id is returned (`outbox_skipped`);
- "sending": an earlier attempt died (or was cancelled) between our record and the platform's answer,
  or before the send: sent again (`outbox_uncertain`). That is the one window where a reply may go
  twice; we would rather duplicate than lose it, and platforms offer no way to ask whether it arrived;
- the send fails for good: the record is deleted, so a later re-run may try again.

Outside a turn (agent replies from the desk, tests, the simulator) `send_once` just sends.
Positions count platform messages actually attempted, in order; sender actions and media uploads
take none, so they may repeat freely.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from connectors.metrics import count
from connectors.state import KeyValueStore

logger = logging.getLogger(__name__)

# Longer than the inbox redelivers an event (a consumer's lease or XAUTOCLAIM idle time, plus retries):
# a record that expired before the re-run would let a sent reply go again.
OUTBOX_TTL = 24 * 3600
SENDING = "sending"
SENT = "sent"


@dataclass
class Turn:
    """The processing of one inbound event: where its replies are recorded, and the next position."""

    platform: str
    inbound_id: str
    next_position: int = 0

    def take_position(self) -> int:
        """The position of the next platform message of this turn."""
        position = self.next_position
        self.next_position += 1
        return position

    def key(self, position: int) -> str:
        """The store key of the reply at `position`."""
        return f"outbox:{self.platform}:{self.inbound_id}:{position}"


_current: ContextVar[Turn | None] = ContextVar("connectors_outbox_turn", default=None)


@contextmanager
def turn(platform: str, inbound_id: str) -> Iterator[Turn]:
    """Record the replies sent inside this block under the inbound event `inbound_id`.

    Synchronous and task-local (a context variable): the sends must happen in this asyncio task, or
    in tasks it starts, while the block is open. Positions start at 0 each time, so a re-run of the
    same event meets the records of the earlier run.
    """
    if not platform or not inbound_id:
        raise ValueError("a turn needs the platform and the inbound event's id")
    current = Turn(platform, inbound_id)
    token = _current.set(current)
    try:
        yield current
    finally:
        _current.reset(token)


def current_turn() -> Turn | None:
    """The open turn of this task, if any."""
    return _current.get()


class Outbox:
    """Sends a turn's bot messages at most once per position (in the connectors' key-value store)."""

    def __init__(self, store: KeyValueStore, ttl: int = OUTBOX_TTL) -> None:
        self.store = store
        self.ttl = ttl

    async def send_once(self, platform: str, send: Callable[[], Awaitable[str]]) -> str:
        """Run `send` (one platform message; returns its id) unless this turn's position already went.

        Returns the platform's message id: the new one, or the stored one when the send is skipped.
        A store error before the send propagates (the turn fails and the inbox processes it again:
        nothing sent, nothing lost); one after the send is logged, the message having gone.
        """
        current = _current.get()
        if current is None:
            return await send()
        position = current.take_position()
        key = current.key(position)
        if not await self.store.add(key, json.dumps({"state": SENDING}), self.ttl):
            record = _parse(await self.store.get(key))
            if record.get("state") == SENT:
                count("outbox_skipped", platform)
                logger.info("reply %s already sent as %s: not sent again", key, record.get("id"))
                return str(record.get("id") or "")
            if record:  # "sending" (or unreadable): an earlier attempt's outcome is unknown
                count("outbox_uncertain", platform)
                logger.warning("reply %s was being sent when its attempt ended: sending it again", key)
            await self.store.set(key, json.dumps({"state": SENDING}), self.ttl)
        try:
            message_id = await send()
        except Exception:
            await self._release(key)
            raise
        try:
            await self.store.set(key, json.dumps({"state": SENT, "id": message_id}), self.ttl)
        except Exception:  # the message went; a re-run would resend it, counted as uncertain
            logger.exception("reply %s sent as %s but not recorded", key, message_id)
        return message_id

    async def _release(self, key: str) -> None:
        """A send that failed for good frees its position for a later re-run."""
        try:
            await self.store.delete(key)
        except Exception:  # the record stays "sending": a re-run resends, counted as uncertain
            logger.exception("failed reply %s could not be released", key)


def _parse(stored: str | None) -> dict[str, object]:
    """A stored record; {} if it vanished (expired or released meanwhile); "sending" if unreadable."""
    if stored is None:
        return {}
    try:
        record = json.loads(stored)
    except ValueError:
        record = None
    return record if isinstance(record, dict) else {"state": SENDING}
