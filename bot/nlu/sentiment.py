"""Rasa NLU component: a sentiment result on every parsed message.

Adds `sentiment = {"label", "score", "confidence", "signals"}` to the parse data (so it is in
`POST /model/parse`, the tracker's `latest_message` and every stored user event, including messages
that arrive while a person has taken over). The scoring is `bot.sentiment.scorer`; the domain lexicon
is read from YAML at training time and stored inside the model, so `rasa train` picks up edits.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import dump_obj_as_json_to_file, read_json_file

from bot.sentiment.scorer import Lexicon, SentimentScorer

logger = logging.getLogger(__name__)

SENTIMENT = "sentiment"
LEXICON_FILE = "sentiment_lexicon.json"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentimentAnalyzer(GraphComponent):
    """Scores each message's sentiment with VADER plus the customer-support lexicon."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Where the content team's lexicon lives."""
        return {"lexicon": "data/sentiment/lexicon.yml"}

    def __init__(
        self, config: dict[str, Any], model_storage: ModelStorage, resource: Resource, lexicon: Lexicon | None
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._scorer = SentimentScorer(lexicon) if lexicon is not None else None

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentimentAnalyzer:
        """An untrained component (no lexicon yet)."""
        return cls(config, model_storage, resource, None)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SentimentAnalyzer:
        """The lexicon stored at training time."""
        try:
            with model_storage.read_from(resource) as path:
                lexicon = Lexicon.from_dict(read_json_file(path / LEXICON_FILE))
        except (ValueError, OSError):
            logger.warning("no sentiment lexicon in the model; messages get VADER sentiment only")
            lexicon = Lexicon(phrases={})
        return cls(config, model_storage, resource, lexicon)

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The lexicon file's content: Rasa retrains this component (not a cached copy) when it changes."""
        try:
            return hashlib.sha256(Path(config["lexicon"]).read_bytes()).hexdigest()
        except OSError:
            return None

    @staticmethod
    def required_packages() -> list[str]:
        """VADER scores general social-media sentiment."""
        return ["vaderSentiment"]

    def train(self, training_data: TrainingData) -> Resource:
        """Read and check the lexicon YAML, and store it in the model."""
        lexicon = Lexicon.load(self._config["lexicon"])
        SentimentScorer(lexicon)  # compiles every pattern: a broken regex fails training, not serving
        with self._model_storage.write_to(self._resource) as path:
            dump_obj_as_json_to_file(path / LEXICON_FILE, lexicon.to_dict())
        self._scorer = SentimentScorer(lexicon)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training examples need no sentiment."""
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Add the sentiment to each message's output."""
        if self._scorer is None:
            self._scorer = SentimentScorer(Lexicon(phrases={}))
        for message in messages:
            result = self._scorer.score(message.get(TEXT) or "")
            message.set(SENTIMENT, result.to_dict(), add_to_output=True)
        return messages
