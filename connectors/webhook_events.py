"""What the platforms' webhook parsers share: typed events that keep the raw item, and one dispatch.

Each platform module (`meta_events`, `x_events`) declares its events on `InboundEvent` and an
`EventTable`: a parse function per handled event type, the types deliberately ignored, and the
envelope keys that are no event. Any other type becomes the platform's `Unsupported` event, which
the channel logs and counts; nothing is dropped silently.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

P = TypeVar("P", bound=Callable[..., Any])
S = TypeVar("S")


class MalformedWebhook(ValueError):
    """The body is not the platform's webhook (wrong object, missing ids, wrong types)."""


@dataclass(frozen=True, kw_only=True)
class InboundEvent:
    """What every event keeps: the raw platform item it was parsed from."""

    raw: Mapping[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True, kw_only=True)
class SkippedEvent(InboundEvent):
    """An event left unanswered; `kind` is its platform event type (base of Ignored and Unsupported)."""

    kind: str = ""


@dataclass(frozen=True)
class EventTable(Generic[P]):
    """A platform's event types: handled (a parse function each), ignored on purpose, or unsupported."""

    parsers: Mapping[str, P]
    ignored: tuple[str, ...]
    envelope: frozenset[str]  # keys of a body or item that carry no event type

    def kinds(self, body: Mapping[str, Any]) -> list[str]:
        """The event types of a body, in its order."""
        return [key for key in body if key not in self.envelope]

    def kind(self, item: Mapping[str, Any]) -> str:
        """The one event type of an item (Meta's `messaging[]` items have one).

        A handled type first (in table order), then an ignored one, else the first other key.
        """
        for key in (*self.parsers, *self.ignored):
            if key in item:
                return key
        return next(iter(self.kinds(item)), "unknown")

    def skipped(self, kind: str, ignored: type[S], unsupported: type[S]) -> type[S]:
        """The event type an unhandled `kind` becomes."""
        return ignored if kind in self.ignored else unsupported
