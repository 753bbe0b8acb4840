"""Indexed rule matching finds Rasa's rules: every story and rule turn, with the trained RulePolicy."""

from __future__ import annotations

import copy
import tempfile
from pathlib import Path

import pytest
from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy
from rasa.core.training import load_data
from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_server import rule_index
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.model
MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
STORIES = [
    PROJECT_ROOT / "data" / "stories.yml",
    PROJECT_ROOT / "tests" / "test_stories.yml",
    PROJECT_ROOT / "data" / "rules.yml",
    PROJECT_ROOT / "data" / "rules_interruptions.yml",
]
RASA_POSSIBLE_KEYS = RulePolicy._get_possible_keys


@pytest.fixture(scope="module")
def loaded():
    """The trained RulePolicy, loaded for serving with the index installed, and the model's domain."""
    rule_index.install()
    with tempfile.TemporaryDirectory() as directory:
        storage, metadata = LocalModelStorage.from_model_archive(Path(directory), MODEL)
        node = next(n for n in metadata.predict_schema.nodes.values() if n.uses is RulePolicy)
        context = ExecutionContext(metadata.predict_schema, metadata.model_id)
        config = {**RulePolicy.get_default_config(), **node.config}
        policy = RulePolicy.load(config, storage, node.resource, context)
        yield policy, metadata.domain


def story_trackers(domain):
    """A tracker at every point of every story and rule where the next action is predicted."""
    for path in STORIES:
        for story in load_data(str(path), domain, augmentation_factor=0):
            for prior, _ in story.generate_all_prior_trackers():
                yield DialogueStateTracker.from_events(prior.sender_id, list(prior.events), domain.slots)


def rasa_prediction(policy: RulePolicy, tracker, domain):
    """RulePolicy's prediction with Rasa's own rule matching (and Rasa's state text for its log)."""
    indexed = policy.loom_rule_indexes
    del policy.loom_rule_indexes  # an unindexed policy: Rasa's way
    try:
        return policy.predict_action_probabilities(tracker, domain)
    finally:
        policy.loom_rule_indexes = indexed


def test_the_loaded_policy_is_indexed_and_the_index_leaves_rules_out(loaded):
    policy, _ = loaded
    assert hasattr(policy, "loom_rule_indexes")
    index = rule_index.index_for(policy, policy.lookup[RULES])
    after_listen = {"prev_action": {"action_name": "action_listen"}, "user": {"intent": "greet"}}
    assert len(list(index.candidates(after_listen))) < len(policy.lookup[RULES]) / 4


def test_every_turn_finds_rasas_rules_and_prediction(loaded):
    policy, domain = loaded
    turns = 0
    for tracker in story_trackers(domain):
        for use_text in (False, True):
            states = policy._prediction_states(
                tracker, domain, use_text, rule_only_data=policy._get_rule_only_data()
            )
            for lookup in (policy.lookup[RULES], policy.lookup[RULES_FOR_LOOP_UNHAPPY_PATH]):
                expected = RASA_POSSIBLE_KEYS(policy, lookup, copy.deepcopy(states))
                assert policy._get_possible_keys(lookup, states) == expected
        ours = policy.predict_action_probabilities(tracker, domain)
        rasas = rasa_prediction(policy, tracker, domain)
        assert (ours.probabilities, ours.events, ours.is_no_user_prediction, ours.hide_rule_turn) == (
            rasas.probabilities,
            rasas.events,
            rasas.is_no_user_prediction,
            rasas.hide_rule_turn,
        )
        turns += 1
    assert turns > 300


def test_every_prefix_of_a_state_list_matches_as_rasa_does(loaded):
    """Shorter histories too (a conversation's first states, rules longer than the history)."""
    policy, domain = loaded
    tracker = next(t for t in story_trackers(domain) if len(t.events) > 12)
    states = policy._prediction_states(tracker, domain, False, rule_only_data=policy._get_rule_only_data())
    for end in range(len(states) + 1):
        part = states[:end]
        assert policy._get_possible_keys(policy.lookup[RULES], part) == RASA_POSSIBLE_KEYS(
            policy, policy.lookup[RULES], part
        )


def test_state_text_is_formatted_only_when_shown():
    formatted: list[int] = []

    def fmt(states):
        formatted.append(len(states))
        return "states"

    lazy = rule_index.LazyStates(fmt, [{"user": {"intent": "greet"}}])
    assert copy.deepcopy(lazy) is lazy
    assert formatted == []
    assert str(lazy) == "states" and formatted == [1]


def test_the_state_keys_written_out_are_rasas():
    from rasa.shared.core import constants as core
    from rasa.shared.nlu import constants as nlu

    assert rule_index.PREVIOUS_ACTION == core.PREVIOUS_ACTION
    assert rule_index.USER == core.USER
    assert rule_index.SHOULD_NOT_BE_SET == core.SHOULD_NOT_BE_SET
    assert rule_index.ACTION_NAME == nlu.ACTION_NAME
    assert rule_index.INTENT == nlu.INTENT
