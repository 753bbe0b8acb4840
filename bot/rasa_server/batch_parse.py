"""Understanding in micro-batches: the messages that arrive together are parsed in one pass.

Rasa 3.6 parses one message per call of its NLU graph, and for a short message most of a call is
fixed cost: TensorFlow's per-call overhead in DIET, spaCy's per-call set-up (bench/PROFILE.md). Rasa's
graph already takes a list of messages, so the messages of different conversations that wait for
understanding at the same moment can go through it together, at little more than the cost of one.

`BatchParser` (one per loaded model) collects what `MessageProcessor.parse_message` is asked for and
parses it in one worker thread, one batch at a time. No message waits for a batch to fill: a batch
starts as soon as the previous one ends, with whatever arrived meanwhile, so at low traffic a message
is parsed alone, as before, and under load batches grow by themselves. The thread keeps the event loop
free for webhooks, sends and other turns while TensorFlow and spaCy work (both release the GIL in
their heavy parts), and it is the only place the NLU components run in the server, so they are never
used by two threads at once. A batch that fails is parsed again message by message, so one bad message
fails only itself.

`install()` (called by `python -m bot.rasa_server`) routes `parse_message` through the parser and
lets DIETClassifier predict a batch in one TensorFlow call; the parse data are the same as Rasa's
(tests/bot/rasa_server/test_batch_parse.py compares them on every NLU example).
"""

from __future__ import annotations

import asyncio
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from bot import timeline

logger = logging.getLogger(__name__)

MAX_BATCH = 32  # messages per graph call: beyond this a batch's own cost dominates its fixed cost


class BatchParser:
    """Parses the messages asked for while the previous batch ran, together, in one worker thread."""

    def __init__(self, processor: Any, max_batch: int = MAX_BATCH) -> None:
        self.processor = processor
        self.max_batch = max_batch
        self._pending: list[tuple[Any, asyncio.Future[dict[str, Any]], list[float]]] = []
        self._task: asyncio.Task[None] | None = None  # the drain running now, if any
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlu-batch")
        self.batches = 0
        self.messages = 0

    async def parse(self, message: Any) -> dict[str, Any]:
        """The parse data of `message` (a UserMessage), as `_parse_message_with_graph` gives them."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[dict[str, Any]] = loop.create_future()
        times = [time.perf_counter()]  # asked, then the batch's start and end (`_drain`): the timeline's
        self._pending.append((message, future, times))
        if self._task is None:
            self._task = loop.create_task(self._drain())
        result = await future
        if len(times) == 3:
            timeline.add("nlu_wait", times[1] - times[0])
            timeline.add("nlu_batch", times[2] - times[1])
        return result

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await asyncio.sleep(0)  # the handlers already runnable in this loop pass join the first batch
            while self._pending:
                batch = self._pending[: self.max_batch]
                del self._pending[: len(batch)]
                messages = [message for message, _, _ in batch]
                started = time.perf_counter()
                results = await loop.run_in_executor(self._thread, self._parse_all, messages)
                ended = time.perf_counter()
                for (_, future, times), result in zip(batch, results, strict=True):
                    times += (started, ended)
                    if future.done():  # the turn waiting for it was cancelled
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            # A failure above may have left messages behind: never strand them.
            self._task = loop.create_task(self._drain()) if self._pending else None

    def _parse_all(self, messages: list[Any]) -> list[dict[str, Any] | BaseException]:
        """All messages in one graph call; message by message if that fails (in the worker thread)."""
        self.batches += 1
        self.messages += len(messages)
        if len(messages) > 1:
            try:
                return list(parse_with_graph(self.processor, messages))
            except Exception:
                logger.exception(
                    "parsing %d messages together failed; parsing them one by one", len(messages)
                )
        results: list[dict[str, Any] | BaseException] = []
        for message in messages:
            try:
                results.extend(parse_with_graph(self.processor, [message]))
            except Exception as err:  # the turn that asked for it gets the error, as with Rasa's own parse
                results.append(err)
        return results

    def close(self) -> None:
        """Stop the worker thread once the batch it runs (if any) is over."""
        self._thread.shutdown(wait=False)


def parse_with_graph(processor: Any, messages: list[Any]) -> list[dict[str, Any]]:
    """Rasa 3.6's `MessageProcessor._parse_message_with_graph`, for several messages in one graph run.

    The NLU part of the graph does not read the tracker (no NLU component takes one), so an empty
    tracker stands in for the conversations of the batch.
    """
    from rasa.engine.constants import PLACEHOLDER_MESSAGE, PLACEHOLDER_TRACKER
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT

    target = processor.model_metadata.nlu_target
    results = processor.graph_runner.run(
        inputs={
            PLACEHOLDER_MESSAGE: list(messages),
            PLACEHOLDER_TRACKER: DialogueStateTracker.from_events("nlu-batch", []),
        },
        targets=[target],
    )
    parsed = results[target]
    if len(parsed) != len(messages):
        raise RuntimeError(f"the NLU graph gave {len(parsed)} results for {len(messages)} messages")
    out = []
    for message in parsed:
        parse_data: dict[str, Any] = {
            TEXT: "",
            INTENT: {INTENT_NAME_KEY: None, PREDICTED_CONFIDENCE_KEY: 0.0},
            ENTITIES: [],
        }
        parse_data.update(message.as_dict(only_output_properties=True))
        out.append(parse_data)
    return out


def batch_parser(processor: Any) -> BatchParser:
    """The processor's parser (one per loaded model: a new model brings a new processor)."""
    parser = getattr(processor, "batch_parser", None)
    if parser is None:
        parser = BatchParser(processor)
        processor.batch_parser = parser
    return parser


def slice_outputs(outputs: dict[str, Any], index: int) -> dict[str, Any]:
    """Row `index` of a batch's model outputs, shaped as a batch of one (what DIET's helpers expect)."""
    return {
        key: slice_outputs(value, index) if isinstance(value, dict) else value[index : index + 1]
        for key, value in outputs.items()
        if isinstance(value, (dict, np.ndarray))
    }


def install() -> None:
    """Route parsing through the batch parser and let DIET predict batches (idempotent)."""
    from rasa.core.processor import MessageProcessor
    from rasa.nlu.classifiers.diet_classifier import DIETClassifier

    rasa_parse = MessageProcessor.parse_message
    if getattr(rasa_parse, "batched", False):
        return

    async def parse_message(
        self: Any, message: Any, tracker: Any = None, only_output_properties: bool = True
    ) -> dict[str, Any]:
        if self.http_interpreter or not only_output_properties:
            return await rasa_parse(self, message, tracker, only_output_properties)
        parse_data = await batch_parser(self).parse(message)
        self._update_full_retrieval_intent(parse_data)
        self._check_for_unseen_features(parse_data)
        return parse_data

    parse_message.batched = True  # type: ignore[attr-defined]
    MessageProcessor.parse_message = parse_message

    rasa_process = DIETClassifier.process

    def process(self: Any, messages: list[Any]) -> list[Any]:
        if len(messages) < 2 or self.model is None or self._execution_context.should_add_diagnostic_data:
            return rasa_process(self, messages)
        return diet_process_batch(self, messages, rasa_process)

    DIETClassifier.process = process


def diet_process_batch(diet: Any, messages: list[Any], one_by_one: Any) -> list[Any]:
    """DIETClassifier.process for a batch: one `run_inference` for all, then Rasa's own per-message steps."""
    from rasa.nlu.classifiers.diet_classifier import ENTITY_RECOGNITION, INTENT_CLASSIFICATION
    from rasa.shared.nlu.constants import ENTITIES, INTENT

    model_data = diet._create_model_data(messages, training=False)
    if model_data.is_empty() or model_data.number_of_examples() != len(messages):
        return one_by_one(diet, messages)
    outputs = diet.model.run_inference(model_data, batch_size=len(messages))
    for index, message in enumerate(messages):
        out = slice_outputs(outputs, index)
        if diet.component_config[INTENT_CLASSIFICATION]:
            label, label_ranking = diet._predict_label(out)
            message.set(INTENT, label, add_to_output=True)
            message.set("intent_ranking", label_ranking, add_to_output=True)
        if diet.component_config[ENTITY_RECOGNITION]:
            message.set(ENTITIES, diet._predict_entities(out, message), add_to_output=True)
    return messages
