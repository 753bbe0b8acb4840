"""Applied events carried forward are Rasa's: every story and rule grown event by event, reverted."""

from __future__ import annotations

import pytest
from rasa.core.training import load_data
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_server import applied_events
from bot.settings import PROJECT_ROOT

RASA_APPLIED = getattr(DialogueStateTracker.applied_events, "rasa", DialogueStateTracker.applied_events)
STORIES = [
    PROJECT_ROOT / "data" / "stories.yml",
    PROJECT_ROOT / "tests" / "test_stories.yml",
    PROJECT_ROOT / "data" / "rules.yml",
    PROJECT_ROOT / "data" / "rules_interruptions.yml",
]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture(scope="module")
def stories(domain) -> list[list]:
    found = [
        list(story.events)
        for path in STORIES
        for story in load_data(str(path), domain, augmentation_factor=0)
    ]
    assert len(found) > 40
    return found


@pytest.fixture
def folded(monkeypatch) -> list[int]:
    """How many events each fold walked (Rasa's walk would take the whole session every time)."""
    counts: list[int] = []
    fold = applied_events._fold

    def counting(tracker, applied, events, loop_names):
        counts.append(len(events))
        fold(tracker, applied, events, loop_names)

    monkeypatch.setattr(applied_events, "_fold", counting)
    return counts


def check(tracker: DialogueStateTracker) -> None:
    got = applied_events.applied_events(tracker)
    expected = RASA_APPLIED(tracker)
    assert [id(event) for event in got] == [id(event) for event in expected]


def grow(domain: Domain, events: list, **kwargs) -> DialogueStateTracker:
    tracker = DialogueStateTracker("grower", domain.slots, **kwargs)
    for event in events:
        tracker.update(event)
        check(tracker)
    return tracker


def test_every_story_and_rule_grown_event_by_event(domain, stories, folded):
    expected = 0
    for events in stories:
        grow(domain, events)
        expected += len(events)
        names: set[str] = set()
        for index, event in enumerate(events):
            if isinstance(event, ActiveLoop) and event.name and event.name not in names:
                names.add(event.name)
                expected += index  # a new loop's name: the events before it are walked again
    # Each event walked once, except where a loop's name first appears: carried, not recomputed.
    assert sum(folded) == expected


def turn(intent: str, *actions: str) -> list:
    return [
        ActionExecuted("action_listen"),
        UserUttered(intent, {"name": intent}),
        *(ActionExecuted(action) for action in actions),
    ]


def test_reverts_restarts_and_sessions(domain):
    events = [
        *turn("greet", "utter_greet"),
        *turn("order_status", "order_form"),
        ActiveLoop("order_form"),
        *turn("inform", "order_form"),
        UserUtteranceReverted(),
        *turn("inform", "order_form"),
        ActionReverted(),
        SlotSet("order_number", "104523"),
        ActionExecuted("order_form"),
        ActiveLoop(None),
        Restarted(),
        *turn("greet", "utter_greet"),
        ActionExecuted("action_session_start"),
        SessionStarted(),
        *turn("goodbye", "utter_goodbye"),
    ]
    grow(domain, events)


def test_a_loop_named_late_changes_earlier_decisions_as_in_rasa(domain, folded):
    """The loop's executions before its ActiveLoop event are judged again once the name is known."""
    events = [*turn("order_status", "order_form"), *turn("inform", "order_form"), ActiveLoop("order_form")]
    grow(domain, [*events, *turn("inform", "order_form")])
    assert sum(folded) > len(events) + 3  # the walk started again when the loop's name appeared


def test_a_bounded_tracker_and_a_replaced_list(domain, stories):
    longest = max(stories, key=len)
    grow(domain, longest, max_event_history=5)
    tracker = grow(domain, longest)
    tracker.events = tracker._create_events(list(tracker.events)[:-3])
    check(tracker)


def test_each_call_gets_its_own_list(domain, stories):
    tracker = grow(domain, stories[0])
    first = applied_events.applied_events(tracker)
    first.clear()
    assert applied_events.applied_events(tracker) == RASA_APPLIED(tracker) != []
