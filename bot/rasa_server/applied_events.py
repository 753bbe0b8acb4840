"""A tracker's applied events carried forward as the turn adds events, instead of recomputed each time.

Rasa 3.6's `DialogueStateTracker.applied_events` walks the whole session every time it is asked, and
a turn asks often: each policy's states, each prediction, forms, slot checks. In a py-spy profile of
the Rasa server at 20 conversations that walk was 4.5% of what the process did (bench/PROFILE.md,
fourth round), on sessions already kept short.

The walk is a fold over the events in order (a restart or new session empties the list, a revert
undoes the last turn or action, a loop's repeated execution undoes back to its previous one), whose
only look ahead is the set of loop names activated anywhere in the session. So a tracker keeps what
the walk gave and how far it got; the next call folds only the events added since, with Rasa's own
helpers, as long as the events seen are still there unchanged (the same deque with the same event
object where the last walk ended: a bounded deque that dropped its first events fails that) and no
new loop name appeared (which would change earlier decisions: then the walk starts again, as
Rasa's). Each call gets its own list, as from Rasa.
`install()` is called by `python -m bot.rasa_server`; tests/bot/rasa_server/test_applied_events.py
compares every call with Rasa's on every story and rule, grown event by event, reverted, restarted.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from itertools import islice
from typing import Any


@dataclass
class Fold:
    """How far a tracker's applied events were computed."""

    events: deque[Any]  # the tracker's deque they were computed from (held: its id is not reused)
    count: int  # how many of its events
    last: Any  # the last of those, the object itself
    loop_names: set[str]
    applied: list[Any]


def _loop_names(events: Any) -> set[str]:
    from rasa.shared.core.events import ActiveLoop

    return {event.name for event in events if isinstance(event, ActiveLoop) and event.name}


def _fold(tracker: Any, applied: list[Any], events: Any, loop_names: set[str]) -> None:
    """Rasa's walk of `applied_events` over `events`, continuing from `applied` (changed in place)."""
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionReverted,
        Restarted,
        SessionStarted,
        UserUtteranceReverted,
        UserUttered,
    )

    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            applied.clear()
        elif isinstance(event, ActionReverted):
            tracker._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in loop_names
            and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)


def applied_events(tracker: Any) -> list[Any]:
    """`DialogueStateTracker.applied_events`, folding only the events added since the last call."""
    events = tracker.events
    count = len(events)
    fold: Fold | None = tracker.__dict__.get("loom_applied")
    if (
        fold is None
        or fold.events is not events
        or fold.count > count
        or (fold.count and events[fold.count - 1] is not fold.last)
    ):
        fold = Fold(events, 0, None, set(), [])
    if fold.count < count:
        added = list(islice(events, fold.count, count))
        new_names = _loop_names(added)
        if not new_names <= fold.loop_names:
            fold = Fold(events, 0, None, fold.loop_names | new_names, [])  # earlier loops may change
            added = list(events)
        _fold(tracker, fold.applied, added, fold.loop_names)
        fold.count, fold.last = count, events[count - 1]
        tracker.__dict__["loom_applied"] = fold
    return list(fold.applied)


def install() -> None:
    """Put `applied_events` in place of the tracker's method (idempotent)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    if getattr(DialogueStateTracker.applied_events, "carried", False):
        return
    applied_events.carried = True  # type: ignore[attr-defined]
    applied_events.rasa = DialogueStateTracker.applied_events  # type: ignore[attr-defined]
    DialogueStateTracker.applied_events = applied_events  # type: ignore[method-assign]
