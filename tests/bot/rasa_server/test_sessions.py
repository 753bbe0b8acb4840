"""Sessions end after SESSION_MAX_MESSAGES customer messages, never while paused or inside a form."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest
from rasa.core.processor import MessageProcessor
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActiveLoop,
    ConversationPaused,
    Event,
    SessionStarted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_server import sessions
from bot.settings import PROJECT_ROOT

DOMAIN = Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture
def expired(monkeypatch):
    """Rasa's session check with the limit installed (restored afterwards)."""
    monkeypatch.setattr(MessageProcessor, "_has_session_expired", MessageProcessor._has_session_expired)

    def check(events: list[Event], limit: int = 3) -> bool:
        sessions.install(limit)
        tracker = DialogueStateTracker.from_events("s-user", events, DOMAIN.slots)
        return MessageProcessor._has_session_expired(SimpleNamespace(domain=DOMAIN), tracker)

    return check


def turns(count: int, at: float | None = None) -> list[Event]:
    at = time.time() if at is None else at
    events: list[Event] = []
    for _ in range(count):
        events += [
            UserUttered("hi", {"name": "greet"}, timestamp=at),
            ActionExecuted("utter_greet", timestamp=at),
        ]
        events.append(ActionExecuted("action_listen", timestamp=at))
    return events


def test_a_session_ends_when_it_holds_the_limit(expired):
    assert not expired([SessionStarted(), *turns(2)])
    assert expired([SessionStarted(), *turns(3)])


def test_only_messages_since_the_latest_session_start_count(expired):
    assert not expired([SessionStarted(), *turns(5), SessionStarted(), *turns(2)])


def test_a_paused_conversation_keeps_its_session(expired):
    assert not expired([SessionStarted(), *turns(1), ConversationPaused(), *turns(5)])


def test_a_paused_conversation_keeps_its_session_after_inactivity_too(expired):
    long_ago = time.time() - 10 * 3600  # the domain's sessions expire after 60 minutes
    assert expired([SessionStarted(timestamp=long_ago), *turns(1, at=long_ago)], limit=0)
    assert not expired(
        [SessionStarted(timestamp=long_ago), *turns(1, at=long_ago), ConversationPaused()], limit=0
    )


def test_a_form_in_progress_keeps_its_session(expired):
    assert not expired([SessionStarted(), *turns(4), ActiveLoop("order_form"), *turns(1)])


def test_limit_zero_leaves_only_rasas_inactivity_expiry(expired):
    assert not expired([SessionStarted(), *turns(50)], limit=0)


def test_a_new_session_carries_each_slot_once_with_its_last_value(expired):
    from rasa.core.actions.action import ActionSessionStart
    from rasa.shared.core.events import SlotSet

    expired([])  # installs
    events = [SessionStarted()]
    for trend in (-0.1, -0.2, -0.3):
        events += [*turns(1), SlotSet("sentiment_trend", trend), SlotSet("escalate", False)]
    events.append(SlotSet("email", "amy@example.com"))
    tracker = DialogueStateTracker.from_events("s-user", events, DOMAIN.slots)
    carried = ActionSessionStart._slot_set_events_from_tracker(tracker)
    assert [(e.key, e.value) for e in carried] == [
        ("sentiment_trend", -0.3),
        ("escalate", False),
        ("email", "amy@example.com"),
    ]


def test_the_setting_is_checked(monkeypatch):
    assert sessions.max_messages({}) == sessions.DEFAULT_MAX_MESSAGES
    assert sessions.max_messages({"SESSION_MAX_MESSAGES": "0"}) == 0
    for bad in ("-1", "ten", "2.5"):
        with pytest.raises(SystemExit, match="SESSION_MAX_MESSAGES"):
            sessions.max_messages({"SESSION_MAX_MESSAGES": bad})
