"""Rasa NLU component: a sentiment result on every parsed message.

Adds `sentiment = {"label", "score", "confidence", "signals"}` to the parse data (so it is in
`POST /model/parse`, the tracker's `latest_message` and every stored user event, including messages
that arrive while a person has taken over). At training time it reads the content team's lexicon
(data/sentiment/lexicon.yml) and fits the learned model (`bot.sentiment.model`) on the labelled
examples (data/sentiment/examples.yml) and the training tweets, embedding them with the same exported
encoder the `SentenceEmbeddingFeaturizer` uses; both are stored inside the model, so `rasa train` picks
up edits and serving needs neither file. At serve time it reads the featurizer's sentence vector from
the message (the text is not embedded twice). In a pipeline without that featurizer it scores with the
lexicon alone, and says so once in the log.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import dump_obj_as_json_to_file, read_json_file

from bot.nlu.encoder import SentenceEncoder, encoder_digest
from bot.sentiment.model import LearnedScorer, SentimentModel
from bot.sentiment.scorer import Lexicon, Sentiment, SentimentScorer
from bot.sentiment.training import Settings, train

logger = logging.getLogger(__name__)

SENTIMENT = "sentiment"
LEXICON_FILE = "sentiment_lexicon.json"
MODEL_FILE = "sentiment_model.json"
DATA_FILES = ("lexicon", "examples", "tweets")  # config keys of the files training reads


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentimentAnalyzer(GraphComponent):
    """Scores each message's sentiment: the learned model over the lexicon and the sentence embedding."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Where the training files and the exported encoder live; the model's settings."""
        return {
            "lexicon": "data/sentiment/lexicon.yml",
            "examples": "data/sentiment/examples.yml",
            "tweets": "data/sentiment/vader_tweets_train.tsv",
            "encoder": "models/encoder",
            # The featurizer whose dense sentence feature is the embedding (its alias, if it has one).
            "featurizer": "SentenceEmbeddingFeaturizer",
            **asdict(Settings()),
        }

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        lexicon: Lexicon | None,
        model: SentimentModel | None = None,
    ) -> None:
        self._config = config
        self._model_storage = model_storage
        self._resource = resource
        self._scorer = SentimentScorer(lexicon) if lexicon is not None else None
        self._learned = LearnedScorer(self._scorer, model) if self._scorer and model else None
        self._warned = False

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentimentAnalyzer:
        """An untrained component (no lexicon, no model yet)."""
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
        """The lexicon and the learned model stored at training time."""
        lexicon, model = Lexicon(phrases={}), None
        try:
            with model_storage.read_from(resource) as path:
                lexicon = Lexicon.from_dict(read_json_file(path / LEXICON_FILE))
                if (path / MODEL_FILE).is_file():
                    model = SentimentModel.from_dict(read_json_file(path / MODEL_FILE))
        except (ValueError, OSError):
            logger.warning("no sentiment lexicon in the model; messages get VADER sentiment only")
        if model is None:
            logger.warning("no learned sentiment model in the model; messages get the lexicon's sentiment")
        return cls(config, model_storage, resource, lexicon, model)

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The training files and the encoder: Rasa retrains this component when any of them changes.

        Rasa also asks with the config of a node it restored from its cache ({"output": ...}), which
        names no files: then there is nothing to add.
        """
        if not all(key in config for key in (*DATA_FILES, "encoder")):
            return None
        digest = hashlib.sha256()
        try:
            for key in DATA_FILES:
                digest.update(Path(config[key]).read_bytes())
            digest.update(encoder_digest(config["encoder"]).encode())
        except OSError:
            return None
        return digest.hexdigest()

    @staticmethod
    def required_packages() -> list[str]:
        """VADER scores general tone; scikit-learn fits the model at training time."""
        return ["vaderSentiment", "sklearn"]

    def train(self, training_data: TrainingData) -> Resource:
        """Check the lexicon, fit the learned model, and store both in the model."""
        lexicon = Lexicon.load(self._config["lexicon"])
        scorer = SentimentScorer(
            lexicon
        )  # compiles every pattern: a broken regex fails training, not serving
        encoder = SentenceEncoder(self._config["encoder"])
        model = train(
            lexicon,
            encoder,
            examples=self._config["examples"],
            tweets=self._config["tweets"],
            settings=Settings.from_config(self._config),
        )
        with self._model_storage.write_to(self._resource) as path:
            dump_obj_as_json_to_file(path / LEXICON_FILE, lexicon.to_dict())
            dump_obj_as_json_to_file(path / MODEL_FILE, model.to_dict())
        self._scorer, self._learned = scorer, LearnedScorer(scorer, model)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training examples need no sentiment."""
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Add the sentiment to each message's output (messages parsed together are scored together)."""
        if self._scorer is None:
            self._scorer = SentimentScorer(Lexicon(phrases={}))
        texts = [message.get(TEXT) or "" for message in messages]
        vectors = [self._embedding(message) for message in messages]
        results: dict[int, Sentiment] = {}
        if self._learned is not None:
            with_vector = [i for i, v in enumerate(vectors) if v is not None and texts[i]]
            if with_vector:
                embeddings = np.vstack([vectors[i] for i in with_vector])
                scored = self._learned.score_many([texts[i] for i in with_vector], embeddings)
                results = dict(zip(with_vector, scored, strict=True))
            if any(text and vector is None for text, vector in zip(texts, vectors, strict=True)):
                self._warn_once()
        for i, message in enumerate(messages):
            result = results.get(i) or self._scorer.score(texts[i])
            message.set(SENTIMENT, result.to_dict(), add_to_output=True)
        return messages

    def _embedding(self, message: Message) -> np.ndarray | None:
        _, sentence = message.get_dense_features(TEXT, [self._config["featurizer"]])
        return None if sentence is None else np.asarray(sentence.features).reshape(-1)

    def _warn_once(self) -> None:
        if not self._warned:
            self._warned = True
            logger.warning(
                "no %s sentence feature on the messages (is it before SentimentAnalyzer in config.yml?); "
                "sentiment comes from the lexicon alone",
                self._config["featurizer"],
            )
