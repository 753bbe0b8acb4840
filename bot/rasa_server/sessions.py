"""Conversation sessions with a bounded length, so a message costs the same at turn 200 as at turn 1.

Rasa loads, replays and featurizes the whole current session on every message: the tracker store
parses every stored event of it, RulePolicy and MemoizationPolicy compute a state for every past
turn, and each call to the action server carries the session as JSON. All of it grows with the
conversation (bench/PROFILE.md: at turn 200 the tracker read alone took longer than understanding
the message). Rasa's own answer to long conversations is the session: `action_session_start` begins
a new one, carrying the slots over (domain.yml `carry_over_slots_to_new_session`), and the SQL
tracker store then reads only events since the latest `session_started`. Here a session also ends
after `SESSION_MAX_MESSAGES` customer messages (default 20), beside Rasa's inactivity expiry.

Nothing a turn needs is lost: policies look back 5 turns, slots carry over, the events of earlier
sessions stay in the database for the desk and monitoring. Escalation counts from the session start
(as after an inactivity expiry), so a frustration trend or a run of fallbacks begins again; with
the trend's weight of 1/2 per message, what it forgets weighed less than a millionth.

Rasa's `action_session_start` carries the slots over by repeating every `SlotSet` event of the old
session, the carried ones included, so each new session would start longer than the last; here it
carries each slot once, with its last value (the slots that result are the same).

A session is never ended while a form is active (the active loop is not carried over) or while the
conversation is paused for a person: a new session would drop the pause and the bot would answer a
customer whom an agent is helping. That holds for Rasa's inactivity expiry too.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

logger = logging.getLogger(__name__)

DEFAULT_MAX_MESSAGES = 20


def max_messages(env: Mapping[str, str] = os.environ) -> int:
    """`SESSION_MAX_MESSAGES` (0: no limit but Rasa's inactivity expiry); a bad value stops start-up."""
    raw = env.get("SESSION_MAX_MESSAGES") or str(DEFAULT_MAX_MESSAGES)
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise SystemExit(
            f"SESSION_MAX_MESSAGES must be a whole number of messages (0: no limit), got {raw!r}"
        )
    return value


def messages_in_session(tracker: Any) -> int:
    """Customer messages since the latest `session_started` (or the start of the conversation)."""
    from rasa.shared.core.events import SessionStarted, UserUttered

    count = 0
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            break
        if isinstance(event, UserUttered):
            count += 1
    return count


def carried_slots(tracker: Any) -> list[Any]:
    """One `SlotSet` per slot set in the session (its last value and metadata), in first-set order."""
    from rasa.shared.core.events import SlotSet

    last: dict[str, Any] = {}
    for event in tracker.applied_events():
        if isinstance(event, SlotSet):
            last[event.key] = event
    return [SlotSet(key=e.key, value=e.value, metadata=e.metadata) for e in last.values()]


def install(limit: int | None = None) -> None:
    """Make Rasa's session check end long sessions and keep paused ones (idempotent)."""
    from rasa.core.actions.action import ActionSessionStart
    from rasa.core.processor import MessageProcessor

    ActionSessionStart._slot_set_events_from_tracker = staticmethod(carried_slots)

    expired_by_time = MessageProcessor._has_session_expired
    if getattr(expired_by_time, "bounds_sessions", False):
        return
    limit = max_messages() if limit is None else limit

    def has_session_expired(self: Any, tracker: Any) -> bool:
        if tracker.is_paused() or tracker.active_loop_name:
            return False
        if limit and messages_in_session(tracker) >= limit:
            logger.debug("conversation %s: session of %d messages ended", tracker.sender_id, limit)
            return True
        return expired_by_time(self, tracker)

    has_session_expired.bounds_sessions = True  # type: ignore[attr-defined]
    MessageProcessor._has_session_expired = has_session_expired
