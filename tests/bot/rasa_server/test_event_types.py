"""Event classes looked up by name from a cache give Rasa's answers, errors included."""

from __future__ import annotations

import pytest
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.utils.common import all_subclasses

from bot.rasa_server import event_types

RASA_RESOLVE = Event.resolve_by_type


@pytest.fixture
def cached(monkeypatch):
    monkeypatch.setattr(Event, "resolve_by_type", RASA_RESOLVE)
    monkeypatch.setattr(event_types, "_found", {})
    event_types.install()
    event_types.install()  # idempotent
    return Event.resolve_by_type


def test_every_event_name_resolves_to_rasas_class(cached):
    names = {cls.type_name for cls in all_subclasses(Event)}
    assert {"user", "action", "slot", "session_started"} <= names
    for _ in range(2):  # the second round comes from the cache
        assert {name: cached(name) for name in names} == {name: RASA_RESOLVE(name) for name in names}
    assert event_types._found["user"] is UserUttered


def test_unknown_names_keep_rasas_answers(cached):
    with pytest.raises(ValueError, match="Unknown event name"):
        cached("no_such_event")
    assert cached("no_such_event", default=SlotSet) is SlotSet
    assert cached("topic") is None
    assert "no_such_event" not in event_types._found and "topic" not in event_types._found


def test_events_read_back_through_the_cache(cached):
    events = [SessionStarted(), ActionExecuted("action_listen"), UserUttered("hi"), SlotSet("order_id", "1")]
    assert [Event.from_parameters(e.as_dict()) for e in events] == events
