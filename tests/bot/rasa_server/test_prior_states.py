"""States carried forward turn by turn are Rasa's states: every story turn, growing, reverted, restarted."""

from __future__ import annotations

import pytest
from rasa.core.training import load_data
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from bot.rasa_server import prior_states
from bot.settings import PROJECT_ROOT

RASA_STATES = Domain.states_for_tracker_history
STORIES = [
    PROJECT_ROOT / "data" / "stories.yml",
    PROJECT_ROOT / "tests" / "test_stories.yml",
    PROJECT_ROOT / "data" / "rules.yml",
    PROJECT_ROOT / "data" / "rules_interruptions.yml",
]
# As the policies ask: RulePolicy (rule turns kept), MemoizationPolicy (rule-only turns and data left out).
RULE_ONLY = {"rule_only_slots": ["order_check"], "rule_only_loops": ["order_form"]}
KINDS = [
    {},
    {"ignore_rule_only_turns": True, "rule_only_data": RULE_ONLY},
    {"omit_unset_slots": True},
]


@pytest.fixture(scope="module")
def domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain.yml"))


@pytest.fixture(autouse=True)
def empty_cache(monkeypatch):
    monkeypatch.setattr(prior_states, "_replays", type(prior_states._replays)())


@pytest.fixture(scope="module")
def stories(domain) -> list[list]:
    """Every story's and rule's events, as a conversation would add them."""
    found = []
    for path in STORIES:
        for story in load_data(str(path), domain, augmentation_factor=0):
            found.append(list(story.events))
    assert len(found) > 40
    return found


def sharing(states: list[dict]) -> list[list[tuple[int, str]]]:
    """Which sub-states of the list are one and the same dict (callers that edit one edit all)."""
    groups: dict[int, list[tuple[int, str]]] = {}
    for index, state in enumerate(states):
        for kind, sub in state.items():
            groups.setdefault(id(sub), []).append((index, kind))
    return sorted(group for group in groups.values() if len(group) > 1)


def check(domain: Domain, tracker: DialogueStateTracker, **kind) -> None:
    expected = RASA_STATES(domain, tracker, **kind)
    got = prior_states.states_for_tracker_history(domain, tracker, **kind)
    assert got == expected
    assert sharing(got) == sharing(expected)


def grow(domain: Domain, events: list, sender: str = "grower", **kind) -> DialogueStateTracker:
    """Add `events` one by one to one tracker, checking the states after each."""
    tracker = DialogueStateTracker(sender, domain.slots)
    for event in events:
        tracker.update(event)
        check(domain, tracker, **kind)
    return tracker


@pytest.mark.parametrize("kind", KINDS, ids=["rules", "memoization", "omit-unset"])
def test_a_conversation_growing_event_by_event_gets_rasas_states_at_every_step(domain, stories, kind):
    for number, events in enumerate(stories):
        grow(domain, events, sender=f"story-{number}", **kind)
    assert prior_states._replays  # carried forward, not rebuilt


def test_every_story_turn_read_anew_gets_rasas_states(domain, stories):
    for number, events in enumerate(stories):
        for end in range(1, len(events) + 1):
            tracker = DialogueStateTracker.from_events(f"s{number}", events[:end], domain.slots)
            for kind in KINDS:
                check(domain, tracker, **kind)


def listen_and_say(text: str, intent: str) -> list:
    return [ActionExecuted("action_listen"), UserUttered(text, {"name": intent, "confidence": 1.0})]


@pytest.mark.parametrize(
    "undo",
    [
        [UserUtteranceReverted()],
        [ActionReverted()],
        [Restarted()],
        [ActionExecuted("action_session_start"), SessionStarted()],
    ],
    ids=["user-reverted", "action-reverted", "restarted", "new-session"],
)
def test_undone_and_restarted_conversations_start_again_where_rasa_does(domain, undo):
    events = [
        *listen_and_say("hi", "greet"),
        ActionExecuted("utter_greet"),
        SlotSet("order_id", "104523"),
        *listen_and_say("where is my order", "order_status"),
        ActionExecuted("order_form"),
        *undo,
        *listen_and_say("thanks", "thank"),
        ActionExecuted("utter_welcome"),
    ]
    for kind in KINDS:
        grow(domain, events, sender=f"undo-{len(undo)}", **kind)
        # and with the undo and what follows it added between two calls, as one action's events are
        before = events.index(undo[0])
        tracker = DialogueStateTracker.from_events(f"between-{len(undo)}", events[:before], domain.slots)
        check(domain, tracker, **kind)
        for event in events[before:]:
            tracker.update(event)
        check(domain, tracker, **kind)


def test_another_history_of_the_same_length_is_not_taken_for_the_one_replayed(domain):
    first = DialogueStateTracker.from_events("same", listen_and_say("hi", "greet"), domain.slots)
    check(domain, first)
    second = DialogueStateTracker.from_events("same", listen_and_say("bye", "goodbye"), domain.slots)
    check(domain, second)


def test_what_a_caller_edits_does_not_reach_the_next_call(domain, stories):
    tracker = grow(domain, stories[0][:-1])
    for state in prior_states.states_for_tracker_history(domain, tracker):
        state.clear()
    tracker.update(stories[0][-1])
    check(domain, tracker)


def test_a_copy_of_the_tracker_and_a_tracker_read_again_get_the_same_states(domain, stories):
    tracker = grow(domain, stories[1])
    check(domain, tracker.copy())  # the same event objects
    events = tracker.current_state(EventVerbosity.ALL)["events"]
    check(domain, DialogueStateTracker.from_dict(tracker.sender_id, events, domain.slots))


def test_the_cache_keeps_a_bounded_number_of_conversations(domain, monkeypatch):
    monkeypatch.setattr(prior_states, "CACHED", 5)
    for number in range(12):
        tracker = DialogueStateTracker.from_events(f"c{number}", listen_and_say("hi", "greet"), domain.slots)
        prior_states.states_for_tracker_history(domain, tracker)
    assert len(prior_states._replays) == 5


def test_install_replaces_the_domain_method_once(domain, monkeypatch):
    monkeypatch.setattr(Domain, "states_for_tracker_history", RASA_STATES)
    prior_states.install()
    prior_states.install()  # idempotent
    tracker = DialogueStateTracker.from_events("installed", listen_and_say("hi", "greet"), domain.slots)
    assert tracker.past_states(domain) == RASA_STATES(domain, tracker)
    assert prior_states._replays
