"""Understanding in micro-batches gives Rasa's own parse data, on every NLU example (the real model)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from rasa.core.agent import load_agent
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.training_data.loading import load_data
from rasa.utils.tensorflow.models import RasaModel

from bot.rasa_server import batch_parse
from bot.settings import PROJECT_ROOT

pytestmark = pytest.mark.model

MODEL = PROJECT_ROOT / "models" / "current.tar.gz"
RASA_PARSE = MessageProcessor.parse_message
RASA_DIET_PROCESS = DIETClassifier.process


@pytest.fixture(scope="module")
def processor() -> MessageProcessor:
    """The model loaded after `install()`, as the server does (graph nodes keep the method they found)."""
    batch_parse.install()
    batch_parse.install()  # idempotent
    try:
        agent = asyncio.run(load_agent(model_path=str(MODEL)))
    finally:  # the rest of the session keeps Rasa's own parse; this processor keeps the batched DIET
        MessageProcessor.parse_message = RASA_PARSE
    yield agent.processor
    DIETClassifier.process = RASA_DIET_PROCESS


@pytest.fixture(scope="module")
def texts() -> list[str]:
    examples = load_data(str(PROJECT_ROOT / "data" / "nlu")).intent_examples
    return [example.get("text") for example in examples]


def comparable(parse_data: dict) -> dict:
    """Everything the parse says; DIET's entity confidences within 0.02, every other number within 1e-5.

    TensorFlow's kernels for a padded batch round differently from those for one example, and DIET's
    CRF turns that into entity confidences that move by up to 0.011 (one of 348 entities in the NLU
    data, "4 out of 5" at 0.514 against 0.525; the others under 5e-3), never an entity's name, value
    or position. The intent (numpy, over the sentence embedding) and the sentiment move by under 1e-6.
    """

    def tolerant(value, key=""):
        if isinstance(value, float):
            return pytest.approx(value, abs=0.02 if key == "confidence_entity" else 1e-5)
        if isinstance(value, dict):
            return {name: tolerant(item, name) for name, item in value.items()}
        if isinstance(value, list):
            return [tolerant(item, key) for item in value]
        return value

    return tolerant(parse_data)


def one_by_one(processor: MessageProcessor, texts: list[str]) -> list[dict]:
    """Rasa's own parse, one message per graph call (DIET's batch path is not taken for one message)."""
    return [
        processor._parse_message_with_graph(UserMessage(text, sender_id=f"u{i}"), None)
        for i, text in enumerate(texts)
    ]


def test_batches_of_every_nlu_example_parse_as_rasa_parses_them_one_by_one(processor, texts, monkeypatch):
    assert len(texts) > 1000
    expected = one_by_one(processor, texts)
    inferences: list[int] = []
    run_inference = RasaModel.run_inference

    def counted(self, model_data, *args, **kwargs):
        inferences.append(model_data.number_of_examples())
        return run_inference(self, model_data, *args, **kwargs)

    monkeypatch.setattr(RasaModel, "run_inference", counted)
    got: list[dict] = []
    for start in range(0, len(texts), 16):
        chunk = texts[start : start + 16]
        got += batch_parse.parse_with_graph(processor, [UserMessage(t, sender_id=f"b{start}") for t in chunk])
    assert got == [comparable(p) for p in expected]
    assert sum(inferences) == len(texts) and max(inferences) == 16  # DIET ran once per batch
    assert len({p["intent"]["name"] for p in got}) > 20  # a real model, not one answer for all


def test_messages_asked_for_together_are_parsed_together_in_the_worker_thread(processor, texts, monkeypatch):
    monkeypatch.setattr(MessageProcessor, "parse_message", RASA_PARSE)
    batch_parse.install()
    sample = texts[:: len(texts) // 24][:24]
    expected = [comparable(p) for p in one_by_one(processor, sample)]
    threads: list[str] = []
    real = batch_parse.parse_with_graph

    def recorded(proc, messages):
        threads.append(threading.current_thread().name)
        return real(proc, messages)

    monkeypatch.setattr(batch_parse, "parse_with_graph", recorded)
    parser = batch_parse.BatchParser(processor)
    processor.batch_parser = parser

    async def many() -> list[dict]:
        messages = [UserMessage(text, sender_id=f"c{i}") for i, text in enumerate(sample)]
        return await asyncio.gather(*(processor.parse_message(message) for message in messages))

    try:
        got = asyncio.run(many())
    finally:
        del processor.batch_parser
        parser.close()
    assert got == expected
    assert parser.messages == len(sample)
    assert parser.batches < len(sample) / 2  # they waited together, not one graph call each
    assert threads and all(name.startswith("nlu-batch") for name in threads)


def test_a_message_that_fails_fails_alone(processor, monkeypatch):
    """A failing batch is parsed again message by message: the others get their parse, it its error."""
    real = batch_parse.parse_with_graph

    def fails_on_poison(proc, messages):
        if any(m.text == "poison" for m in messages):
            raise ValueError("cannot parse poison")
        return real(proc, messages)

    monkeypatch.setattr(batch_parse, "parse_with_graph", fails_on_poison)
    parser = batch_parse.BatchParser(processor)

    async def three() -> list:
        messages = [
            UserMessage(text, sender_id=f"p{i}") for i, text in enumerate(["hello", "poison", "thanks"])
        ]
        return await asyncio.gather(*(parser.parse(m) for m in messages), return_exceptions=True)

    try:
        hello, poison, thanks = asyncio.run(three())
    finally:
        parser.close()
    assert isinstance(poison, ValueError)
    assert hello["intent"]["name"] == "greet" and thanks["intent"]["name"] == "thank"
    assert parser.batches == 1 and parser.messages == 3


def test_slice_outputs_keeps_a_batch_of_one_per_message():
    import numpy as np

    outputs = {
        "i_scores": np.arange(6).reshape(3, 2),
        "nested": {"e_ids": np.arange(9).reshape(3, 3)},
        "x": None,
    }
    one = batch_parse.slice_outputs(outputs, 1)
    assert one["i_scores"].tolist() == [[2, 3]]
    assert one["nested"]["e_ids"].tolist() == [[3, 4, 5]]
    assert "x" not in one
