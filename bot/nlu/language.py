"""Rasa NLU component: the language of every parsed message.

Adds `language = {"code", "confidence", "trained"}` to the parse data, so `POST /model/parse`, the
tracker's `latest_message` and every stored user event carry it, including messages that arrive while
a person has the conversation. Escalation (bot/handoff/escalation.py) hands a conversation in a
language the assistant is not trained for to a person who speaks it; the desk and analytics read it
from the stored events (bot/conversations/events.py).

Nothing is trained: lingua's models ship in its wheel. The detector is built once, when the model
loads; a message's cost is a fraction of a millisecond, and messages parsed together
(bot/rasa_server/batch_parse.py) are detected in one call. Should the detector be missing or fail,
messages count as the trained language (never a handoff by mistake) and the log says why.
"""

from __future__ import annotations

import logging
from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.language.detection import LANGUAGE, Detection, LanguageSettings, unsure

logger = logging.getLogger(__name__)
DISTRIBUTION = "lingua-language-detector"


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=False)
class LanguageDetector(GraphComponent):
    """Sets each message's language; unsure and short messages get the trained language."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Trained and candidate languages (ISO 639-1) and how sure a foreign language must be."""
        default = LanguageSettings()
        return {
            "trained": list(default.trained),
            "candidates": list(default.candidates),
            "min_letters": default.min_letters,
            "min_confidence": default.min_confidence,
        }

    def __init__(self, settings: LanguageSettings, detector: Any | None) -> None:
        self.settings = settings
        self._detector = detector

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        """The detector with every candidate's models loaded (a bad language list fails here, loudly)."""
        settings = LanguageSettings.from_config(config)
        try:
            from bot.language.lingua_detector import LinguaDetector

            detector: Any | None = LinguaDetector(settings)
        except ImportError:
            logger.error("%s is not installed; every message counts as %s", DISTRIBUTION, settings.primary)
            detector = None
        return cls(settings, detector)

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str | None:
        """The version of lingua: a model keeps what it was built with, and an upgrade rebuilds it.

        Not `required_packages`: Rasa would look "lingua" up as a distribution name, which it is not.
        """
        from importlib import metadata

        try:
            return metadata.version(DISTRIBUTION)
        except metadata.PackageNotFoundError:
            return None

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Training examples need no language."""
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        """Add the language to each message's output."""
        found_all = self._detect([message.get(TEXT) or "" for message in messages])
        for message, found in zip(messages, found_all, strict=True):
            message.set(LANGUAGE, found.to_dict(), add_to_output=True)
        return messages

    def _detect(self, texts: list[str]) -> list[Detection]:
        if self._detector is not None:
            try:
                return list(self._detector.detect_many(texts))
            except Exception:  # the outermost boundary of a side call: a message is never lost to it
                logger.exception(
                    "language detection failed; %d message(s) count as %s", len(texts), self.settings.primary
                )
        return [unsure(self.settings) for _ in texts]
