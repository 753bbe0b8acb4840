"""Skipping TED when it cannot win picks what Rasa picks, on every turn of the stories (the real model)."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.agent import load_agent
from rasa.core.policies.policy import PolicyPrediction
from rasa.core.policies.ted_policy import TEDPolicy
from rasa.core.processor import MessageProcessor
from rasa.core.training import load_data
from rasa.engine.graph import GraphNode
from rasa.shared.core.events import ActionExecuted, ActionExecutionRejected, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.rasa_server import prediction
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.model

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
STORIES = [PROJECT_ROOT / "data" / "stories.yml", PROJECT_ROOT / "tests" / "test_stories.yml"]
RASA_PREDICT = MessageProcessor._predict_next_with_tracker


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
