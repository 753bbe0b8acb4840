"""Skipping TED when it cannot win, and memoization without its debug copy, pick what Rasa picks.

On every turn of the stories, with the real model.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from rasa.core.agent import load_agent
from rasa.core.policies import memoization
from rasa.core.policies.memoization import MemoizationPolicy
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.core.processor import MessageProcessor
from rasa.core.training import load_data
from rasa.engine.graph import GraphNode
from rasa.graph_components.providers.rule_only_provider import RuleOnlyDataProvider
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_server import debug_copies, prediction
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.model

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
STORIES = [PROJECT_ROOT / "data" / "stories.yml", PROJECT_ROOT / "tests" / "test_stories.yml"]
RASA_PREDICT = MessageProcessor._predict_next_with_tracker
RASA_MEMOIZATION = MemoizationPolicy.predict_action_probabilities


@pytest.fixture(scope="module")
def processor() -> MessageProcessor:
    agent = asyncio.run(load_agent(model_path=str(MODEL)))
    return agent.processor


def turns(processor: MessageProcessor):
    """Every point of every story where the next action is predicted."""
    for path in STORIES:
        for story in load_data(str(path), processor.domain, augmentation_factor=0):
            for prior, _ in story.generate_all_prior_trackers():
                if prior.events:  # a plain tracker: the cached-states kind is tied to its domain object
                    yield DialogueStateTracker.from_events(
                        prior.sender_id, list(prior.events), processor.domain.slots
                    )


def summary(p) -> tuple:
    return (
        p.max_confidence_index,
        p.policy_name,
        round(p.max_confidence, 6),
        [{k: v for k, v in e.as_dict().items() if k != "timestamp"} for e in p.events],
        p.is_no_user_prediction,
        p.hide_rule_turn,
    )


@pytest.fixture
def ted_calls(monkeypatch) -> list[int]:
    """Runs of the TED node (graph nodes call the method they looked up when built: count the node)."""
    calls: list[int] = []
    run_node = GraphNode.__call__

    def counted(self, *args, **kwargs):
        if issubclass(self._component_class, TEDPolicy):
            calls.append(1)
        return run_node(self, *args, **kwargs)

    monkeypatch.setattr(GraphNode, "__call__", counted)
    monkeypatch.setattr(MessageProcessor, "_predict_next_with_tracker", RASA_PREDICT)
    return calls


def test_the_plan_finds_this_models_policies(processor):
    plan = prediction.plan_for(processor.graph_runner, processor.model_metadata.core_target)
    assert plan is not None and len(plan.cheap) == 2 and "TEDPolicy" in plan.ted


def test_every_story_turn_gets_rasas_prediction_and_ted_mostly_stays_idle(processor, ted_calls):
    trackers = list(turns(processor))
    assert len(trackers) > 100
    expected = [summary(RASA_PREDICT(processor, t)) for t in trackers]
    assert len(ted_calls) == len(trackers)  # Rasa asks TED every time
    ted_calls.clear()
    prediction.install()
    prediction.install()  # idempotent
    got = [summary(processor._predict_next_with_tracker(t)) for t in trackers]
    assert got == expected
    assert len(ted_calls) < len(trackers) / 2  # the stories are what rules and memoization know


def cheap(confidence: float, priority: int = 6, **kinds: bool) -> PolicyPrediction:
    return PolicyPrediction([confidence, 1.0 - confidence], "RulePolicy", priority, **kinds)


@pytest.mark.parametrize(
    "predictions, matters",
    [
        (
            [cheap(0.3), cheap(0.3, priority=3)],
            True,
        ),  # the rules' fallback at the core threshold: TED decides
        ([cheap(1.0), cheap(0.3, priority=3)], False),  # a rule: certain, and outranks TED
        ([cheap(0.3), cheap(1.0, priority=3)], False),  # a memorized story
        ([cheap(1.0, priority=0)], True),  # certain but ranked below TED: a tie would go to TED
        ([cheap(0.5, is_no_user_prediction=True)], False),  # a loop's happy path outranks everything
        ([cheap(0.5, is_end_to_end_prediction=True)], False),  # TED (not end to end here) is not compared
    ],
)
def test_when_ted_can_matter(predictions, matters):
    tracker = DialogueStateTracker.from_events("p-user", [ActionExecuted("action_listen")], [])
    assert prediction.ted_can_matter(predictions, 1, tracker) is matters


def test_ted_always_runs_after_a_rejected_action(processor, ted_calls):
    tracker = next(iter(turns(processor))).copy()
    tracker.update(UserUttered("hi", {"name": "greet", "confidence": 1.0}))
    tracker.update(ActionExecuted("action_listen"))
    tracker.update(ActionExecutionRejected("utter_greet"))
    expected = summary(RASA_PREDICT(processor, tracker))
    ted_calls.clear()
    prediction.install()
    assert summary(processor._predict_next_with_tracker(tracker)) == expected
    assert ted_calls == [1]


class DebugLines:
    """Stands in for memoization's structlog logger: the debug events it was given."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def debug(self, event: str, **values) -> None:
        self.events.append(event)


def component(processor: MessageProcessor, kind: type):
    [found] = [
        node._component
        for node in processor.graph_runner._instantiated_nodes.values()
        if type(node._component) is kind
    ]
    return found


@pytest.fixture
def debug_lines(monkeypatch) -> DebugLines:
    lines = DebugLines()
    monkeypatch.setattr(memoization, "structlogger", lines)
    monkeypatch.setattr(MemoizationPolicy, "predict_action_probabilities", RASA_MEMOIZATION)
    return lines


def test_memoization_without_its_debug_copy_predicts_what_rasa_does_on_every_story_turn(
    processor, debug_lines
):
    policy = component(processor, MemoizationPolicy)
    rule_only = component(processor, RuleOnlyDataProvider).provide()  # as the graph passes it
    trackers = list(turns(processor))

    def predictions() -> list[tuple]:
        found = [policy.predict_action_probabilities(t, processor.domain, rule_only) for t in trackers]
        return [(*summary(p), tuple(p.probabilities)) for p in found]

    expected = predictions()
    assert debug_lines.events.count("memoization.predict.actions") == len(trackers)  # Rasa's copies
    assert any(p[2] == 1.0 for p in expected)  # the stories are memorised: real predictions compared
    debug_lines.events.clear()
    debug_copies.install()
    debug_copies.install()  # idempotent
    assert predictions() == expected
    assert "memoization.predict.actions" not in debug_lines.events  # no copy made for a line not logged


def test_with_debug_logging_memoization_logs_its_states_as_rasa_does(processor, debug_lines, monkeypatch):
    monkeypatch.setattr(memoization.logger, "level", logging.DEBUG)
    debug_copies.install()
    tracker = next(iter(turns(processor)))
    component(processor, MemoizationPolicy).predict_action_probabilities(tracker, processor.domain)
    assert "memoization.predict.actions" in debug_lines.events
