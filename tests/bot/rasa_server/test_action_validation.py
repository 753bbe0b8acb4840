"""Answers of the action server are accepted and refused exactly as Rasa's own check does."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction

from bot.rasa_server import action_validation

RASA_CHECK = RemoteAction._validate_action_result
ANSWERS = {
    "events and a reply": {
        "events": [{"event": "slot", "name": "order_id", "value": "104523", "timestamp": None}],
        "responses": [{"text": "Your order shipped.", "buttons": [], "elements": [], "custom": {}}],
    },
    "nothing": {"events": [], "responses": []},
    "a card": {"responses": [{"elements": [{"title": "Linen shirt", "buttons": []}]}]},
    "an unknown event": {"events": [{"event": "no_such_event"}]},
    "events not a list": {"events": {"event": "slot"}},
    "a slot without its name": {"events": [{"event": "slot", "value": 1}]},
    "responses not objects": {"responses": ["hello"]},
}


def outcome(check, answer: dict) -> str:
    try:
        check(RemoteAction("action_x", None), answer)
    except ValidationError as error:
        return f"refused: {error.message}"
    return "accepted"


@pytest.fixture
def installed(monkeypatch):
    monkeypatch.setattr(RemoteAction, "_validate_action_result", RASA_CHECK)
    action_validation.install()
    action_validation.install()  # idempotent
    return RemoteAction._validate_action_result


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_the_same_answers_pass_and_fail_with_the_same_message(installed, name):
    assert installed is not RASA_CHECK
    assert outcome(installed, ANSWERS[name]) == outcome(RASA_CHECK, ANSWERS[name])


def test_bad_answers_are_refused(installed):
    refused = [name for name in ANSWERS if outcome(installed, ANSWERS[name]).startswith("refused")]
    assert sorted(refused) == [
        "a slot without its name",
        "an unknown event",
        "events not a list",
        "responses not objects",
    ]
