"""Rasa NLU component: a dense sentence feature (all-MiniLM-L6-v2) for DIET, beside the sparse ones.

Bag-of-n-grams features know that "discount" and "discounts" share letters, not that "coupon" means
the same thing; a sentence-embedding model trained on a billion sentence pairs does. This featurizer adds
one 384-dimensional sentence feature per message (`bot/nlu/encoder.py`). The exported encoder is copied
into the trained model, so a model file carries everything it needs to serve. Messages parsed together
(bot/rasa_server/batch_parse.py) are embedded in one call.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.featurizers.dense_featurizer.dense_featurizer import DenseFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.encoder import FILES, SentenceEncoder, encoder_digest

ENCODER = "encoder"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class SentenceEmbeddingFeaturizer(DenseFeaturizer, GraphComponent):
    """Adds the message's sentence embedding as a dense sentence feature of its text."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Where `make train` exports the encoder; ONNX Runtime threads per call."""
        return {**DenseFeaturizer.get_default_config(), ENCODER: "models/encoder", "threads": 1}

    @classmethod
    def validate_config(cls, config: dict[str, Any]) -> None:
        """Nothing to check before training: a missing encoder fails `train` with its fix."""

    def __init__(
        self,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        encoder: SentenceEncoder | None,
    ) -> None:
        super().__init__(self.__class__.__name__, config)
        self._model_storage = model_storage
        self._resource = resource
        self._encoder = encoder

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> SentenceEmbeddingFeaturizer:
        """An untrained component: the encoder is read from the export at training time."""
        return cls(config, model_storage, resource, None)

    @classmethod
    def load(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> SentenceEmbeddingFeaturizer:
        """The encoder stored inside the model at training time."""
        with model_storage.read_from(resource) as path:
            encoder = SentenceEncoder(path, threads=config["threads"])
        return cls(config, model_storage, resource, encoder)

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The encoder's files: a new export retrains what depends on these features.

        Rasa also asks with the config of a node it restored from its cache ({"output": ...}), which
        names no encoder: then there is nothing to add.
        """
        return encoder_digest(config[ENCODER]) if ENCODER in config else None

    @staticmethod
    def required_packages() -> list[str]:
        """ONNX Runtime runs the graph, Hugging Face tokenizers splits the words."""
        return ["onnxruntime", "tokenizers"]

    def train(self, training_data: TrainingData) -> Resource:
        """Copy the exported encoder into the model."""
        source = Path(self._config[ENCODER])
        encoder_digest(source)  # a clear error, with the fix, when the export is missing
        with self._model_storage.write_to(self._resource) as path:
            for name in FILES:
                shutil.copy2(source / name, path / name)
        return self._resource

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Featurize every training example that has a text."""
        self._add_features(training_data.training_examples)
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Featurize the messages being parsed, all in one call."""
        self._add_features(messages)
        return messages

    def _add_features(self, messages: list[Message]) -> None:
        if self._encoder is None:
            raise RuntimeError("SentenceEmbeddingFeaturizer used before training or loading")
        present = [message for message in messages if message.get(TEXT)]
        vectors = self._encoder.encode([message.get(TEXT) for message in present])
        for message, vector in zip(present, vectors, strict=True):
            self.add_features_to_message(None, np.expand_dims(vector, 0), TEXT, message)
