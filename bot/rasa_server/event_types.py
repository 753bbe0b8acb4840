"""Rasa's event classes looked up by name once, not on every event read.

Rasa 3.6 turns each stored event back into an object through `Event.resolve_by_type`, which walks
every subclass of `Event` (recursively, with an `inspect.isabstract` check on each) to find the one
whose `type_name` matches. A tracker read does that for every event of the session: a tenth of the
event loop's time at 20 conversations (bench/PROFILE.md). The answer for a name does not change once
found, so it is kept; a name not found yet (a class imported later, "topic", an unknown name) still
takes Rasa's own way, with Rasa's answer or error. `install()` is called by `python -m bot.rasa_server`.
"""

from __future__ import annotations

from typing import Any

_found: dict[str, Any] = {}


def install() -> None:
    """Put the cached lookup in place of `Event.resolve_by_type` (idempotent)."""
    from rasa.shared.core.events import Event

    rasa_resolve = Event.resolve_by_type
    if getattr(rasa_resolve, "cached", False):
        return

    def resolve_by_type(type_name: str, default: Any = None) -> Any:
        cls = _found.get(type_name)
        if cls is not None:
            return cls
        cls = rasa_resolve(type_name, default)
        if cls is not None and cls is not default:
            _found[type_name] = cls
        return cls

    resolve_by_type.cached = True  # type: ignore[attr-defined]
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]
