"""What the fake remembers between requests: recorded sends, injected failures, inbound times, media.

The fake X's own memory (nonces, media ids, customers) is `SimState.x` (see x_state.py); posts,
comments, mentions and the record of public API calls are `SimState.public` (see public_state.py).

All in memory and owned by one app (one event loop), so no locks: every mutation is synchronous.
"""

from __future__ import annotations

import itertools
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.simulator.const import MEDIA_STORE_MAX_BYTES, SENDS_KEPT, X_DEFAULT_RESET_IN
from bot.simulator.profile_book import ProfileBook
from bot.simulator.public_state import PublicState
from bot.simulator.x_state import XState

Clock = Callable[[], float]


@dataclass
class SendRecord:
    """One Send API (or X API) call as it arrived, and what the fake answered."""

    id: int
    platform: str | None
    recipient_id: str | None
    body: Any
    received_at: float
    endpoint: str | None = None
    accepted: bool = False
    status: int = 0
    response: dict[str, Any] = field(default_factory=dict)
    pending: bool = True

    def to_json(self) -> dict[str, Any]:
        """The record as `GET /_sim/sends` lists it."""
        return {
            "id": self.id,
            "platform": self.platform,
            "recipient_id": self.recipient_id,
            "body": self.body,
            "accepted": self.accepted,
            "status": self.status,
            "response": self.response,
            "received_at": self.received_at,
            "endpoint": self.endpoint,
        }


@dataclass
class FailureRule:
    """The next `remaining` matching calls fail with `status` (None: only delayed) after `delay` seconds.

    `recipient`, `platform` and `kind` ("message" or "sender_action"; on X also "media_upload" and
    "media_download"; "public_reply" and "hide" for the public APIs, whose recipient is the target
    comment or tweet; "mention_lookup" for reading an Instagram mention, recipient its id) narrow what
    matches; None matches all. `reset_in` sets X's x-rate-limit-reset.
    """

    remaining: int
    status: int | None = None
    recipient: str | None = None
    platform: str | None = None
    kind: str | None = None
    delay: float = 0.0
    code: int | None = None
    subcode: int | None = None
    message: str | None = None
    reset_in: float = X_DEFAULT_RESET_IN

    def matches(self, platform: str | None, recipient_id: str | None, kind: str | None) -> bool:
        """Whether this rule applies to a call of `kind` for `platform` and `recipient_id`."""
        if self.remaining <= 0:
            return False
        if self.recipient is not None and self.recipient != recipient_id:
            return False
        if self.kind is not None and self.kind != kind:
            return False
        return self.platform is None or self.platform == platform


@dataclass(frozen=True)
class Media:
    """An uploaded image served under /_sim/media/<id>."""

    content_type: str
    data: bytes


class SimState:
    """The fake's memory; `clock` is injectable so the time rules can be tested without waiting."""

    def __init__(self, clock: Clock = time.time) -> None:
        self.clock = clock
        self._sends: deque[SendRecord] = deque(maxlen=SENDS_KEPT)
        self._ids = itertools.count(1)
        self._failures: list[FailureRule] = []
        self._inbound: dict[tuple[str, str], float] = {}
        self._media: OrderedDict[str, Media] = OrderedDict()
        self._media_bytes = 0
        self.x = XState(lambda: self.clock())
        self.public = PublicState(lambda: self.clock())
        self.profiles = ProfileBook()

    # Recorded sends
    def start_record(
        self, platform: str | None, recipient_id: str | None, body: Any, endpoint: str | None = None
    ) -> SendRecord:
        """Record a call at arrival, so the list keeps arrival order even when answers are delayed."""
        record = SendRecord(next(self._ids), platform, recipient_id, body, self.clock(), endpoint)
        self._sends.append(record)
        return record

    def sends(self, platform: str | None = None, recipient: str | None = None) -> list[SendRecord]:
        """Answered calls in arrival order, optionally for one platform and/or recipient."""
        return [
            r
            for r in self._sends
            if not r.pending
            and (platform is None or r.platform == platform)
            and (recipient is None or r.recipient_id == recipient)
        ]

    def clear_sends(self) -> None:
        """Forget every recorded call."""
        self._sends.clear()

    # Failure injection
    def add_failure(self, rule: FailureRule) -> None:
        """Queue a failure rule; rules apply in the order they were added."""
        self._failures.append(rule)

    def take_failure(
        self, platform: str | None, recipient_id: str | None, kind: str | None
    ) -> FailureRule | None:
        """The first rule matching this call, with one use consumed (before any delay, for concurrency)."""
        for rule in self._failures:
            if rule.matches(platform, recipient_id, kind):
                rule.remaining -= 1
                self._failures = [r for r in self._failures if r.remaining > 0]
                return rule
        return None

    def clear_failures(self) -> None:
        """Drop every pending failure rule."""
        self._failures.clear()

    def pending_failures(self) -> list[FailureRule]:
        """Rules that still have uses left."""
        return list(self._failures)

    # Messaging window
    def note_inbound(self, platform: str, user_id: str, when: float | None = None) -> None:
        """Remember that `user_id` wrote to us on `platform` (now, or at `when`)."""
        self._inbound[(platform, user_id)] = self.clock() if when is None else when

    def last_inbound(self, platform: str, user_id: str) -> float | None:
        """When `user_id` last wrote to us on `platform`, if ever."""
        return self._inbound.get((platform, user_id))

    # Media
    def put_media(self, content_type: str, data: bytes) -> str:
        """Store an image and return its id; the oldest images go when the store is full."""
        media_id = secrets.token_urlsafe(12)
        self._media[media_id] = Media(content_type, data)
        self._media_bytes += len(data)
        while self._media_bytes > MEDIA_STORE_MAX_BYTES and len(self._media) > 1:
            _, dropped = self._media.popitem(last=False)
            self._media_bytes -= len(dropped.data)
        return media_id

    def get_media(self, media_id: str) -> Media | None:
        """A stored image, if it is still there."""
        return self._media.get(media_id)
