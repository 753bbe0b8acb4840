"""The model graph run without dask gives dask's parses and predictions (the real model), and its errors."""

from __future__ import annotations

import asyncio

import pytest
from rasa.core.agent import load_agent
from rasa.core.channels import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.core.training import load_data
from rasa.engine import loader
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.loading import load_data as load_nlu

from bot.rasa_server import graph_runner
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.model

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
STORIES = [PROJECT_ROOT / "data" / "stories.yml", PROJECT_ROOT / "tests" / "test_stories.yml"]
RASA_LOAD = loader.load_predict_graph_runner
RASA_PREDICT = MessageProcessor._predict_next_with_tracker


@pytest.fixture(scope="module")
def processor() -> MessageProcessor:
    """The model loaded after `install()`, as the server loads it."""
    graph_runner.install()
    graph_runner.install()  # idempotent
    try:
        agent = asyncio.run(load_agent(model_path=str(MODEL)))
    finally:  # later tests of the session load their models with Rasa's loader again
        loader.load_predict_graph_runner = RASA_LOAD
    return agent.processor


@pytest.fixture
def node_calls(monkeypatch) -> list[str]:
    """The names of the graph nodes that ran."""
    calls: list[str] = []
    run_node = GraphNode.__call__

    def counted(self, *args, **kwargs):
        calls.append(self._node_name)
        return run_node(self, *args, **kwargs)

    monkeypatch.setattr(GraphNode, "__call__", counted)
    return calls


def with_dask(processor: MessageProcessor):
    """The same processor and runner, running its graph with dask again (for the expected results)."""

    class Dask:
        def __enter__(self):
            del processor.graph_runner.run  # the class's (dask's) method shows through again
            assert getattr(processor.graph_runner.run, "__func__", None) is DaskGraphRunner.run

        def __exit__(self, *exc):
            graph_runner.use_on(processor.graph_runner)

    return Dask()


def test_only_the_loaded_models_runner_changes(processor):
    assert processor.graph_runner.run.__func__ is graph_runner.run
    assert DaskGraphRunner.run.__module__ == "rasa.engine.runner.dask"  # training keeps dask
    assert loader.load_predict_graph_runner is RASA_LOAD


def test_every_nlu_example_parses_as_with_dask(processor, node_calls):
    examples = load_nlu(str(PROJECT_ROOT / "data" / "nlu")).intent_examples
    texts = [example.get("text") for example in examples][::3]
    assert len(texts) > 300

    def parses() -> list[dict]:
        return [
            processor._parse_message_with_graph(UserMessage(text, sender_id=f"u{i}"), None)
            for i, text in enumerate(texts)
        ]

    with with_dask(processor):
        expected = parses()
    dask_calls = len(node_calls)
    node_calls.clear()
    assert parses() == expected
    assert 0 < len(node_calls) <= dask_calls


def test_every_story_turn_predicts_as_with_dask(processor, node_calls):
    trackers = [
        DialogueStateTracker.from_events(prior.sender_id, list(prior.events), processor.domain.slots)
        for path in STORIES
        for story in load_data(str(path), processor.domain, augmentation_factor=0)
        for prior, _ in story.generate_all_prior_trackers()
        if prior.events
    ]
    assert len(trackers) > 100

    def predictions() -> list[tuple]:
        return [
            (p.max_confidence_index, p.policy_name, round(p.max_confidence, 6), p.is_no_user_prediction)
            for p in (RASA_PREDICT(processor, tracker) for tracker in trackers)
        ]

    with with_dask(processor):
        expected = predictions()
    node_calls.clear()
    assert predictions() == expected
    assert node_calls  # the graph's own nodes ran


def test_inputs_replace_nodes_and_what_only_they_needed_does_not_run(processor, node_calls):
    target = processor.model_metadata.core_target
    schema = processor.graph_runner._graph_schema
    policy = next(name for name in schema.nodes[target].needs.values() if "MemoizationPolicy" in name)
    tracker = DialogueStateTracker.from_events("g-user", [], processor.domain.slots)
    first = processor.graph_runner.run(inputs={"__tracker__": tracker}, targets=[policy])
    node_calls.clear()
    replaced = processor.graph_runner.run(
        inputs={"__tracker__": tracker, policy: first[policy]}, targets=[policy]
    )
    assert replaced == first
    assert node_calls == []


def test_errors_are_rasas(processor, monkeypatch):
    runner = processor.graph_runner
    target = processor.model_metadata.core_target
    with pytest.raises(GraphRunError, match="clashes with a node name"):
        runner.run(inputs={"__tracker__": target}, targets=[target])
    with pytest.raises(GraphRunError, match="not found"):
        runner.run(inputs={}, targets=[target])  # the tracker input is missing

    def broken(self, *args, **kwargs):
        raise RuntimeError("a node failed")

    monkeypatch.setattr(GraphNode, "__call__", broken)
    tracker = DialogueStateTracker.from_events("g-user", [], processor.domain.slots)
    with pytest.raises(GraphRunError, match="Error running runner"):
        runner.run(inputs={"__tracker__": tracker}, targets=[target])
