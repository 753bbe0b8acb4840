"""What the Meta and X webhook parsers share: the refusal, events that keep the raw item, a dispatch.

An `EventTable` sends each event type to its parse function, turns those deliberately ignored into
the platform's `Ignored` event, and any other into its `Unsupported` event (the channel logs those).
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
    """Base of the Ignored and Unsupported events; `kind` is the platform's event type."""

    kind: str = ""


@dataclass(frozen=True)
class EventTable(Generic[P]):
    """A platform's event types: parsed (a function each), ignored on purpose, or unsupported."""

    parsers: Mapping[str, P]
    ignored: tuple[str, ...]
    envelope: frozenset[str]  # keys that are no event type

    def kinds(self, body: Mapping[str, Any]) -> list[str]:
        """The event types of a body, in its order."""
        return [key for key in body if key not in self.envelope]

    def kind(self, item: Mapping[str, Any]) -> str:
        """An item's one event type: the first parsed (table order), else ignored, else other key."""
        known = next((key for key in (*self.parsers, *self.ignored) if key in item), None)
        return known or next(iter(self.kinds(item)), "unknown")

    def skipped(self, kind: str, ignored: type[S], unsupported: type[S]) -> type[S]:
        """The event type an unparsed `kind` becomes."""
        return ignored if kind in self.ignored else unsupported
