"""The sentiment NLU component: trained from the YAML lexicon, stored in the model (runtime A)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.sentiment import SentimentAnalyzer

LEXICON = Path(__file__).resolve().parents[3] / "data" / "sentiment" / "lexicon.yml"


def trained(tmp_path: Path, lexicon: Path) -> SentimentAnalyzer:
    (tmp_path / "model").mkdir()
    storage = LocalModelStorage(tmp_path / "model")
    resource = Resource("sentiment")
    config = {"lexicon": str(lexicon)}
    SentimentAnalyzer.create(config, storage, resource, execution_context=None).train(TrainingData())
    return SentimentAnalyzer.load(config, storage, resource, execution_context=None)


def test_every_message_gets_a_sentiment(tmp_path):
    component = trained(tmp_path, LEXICON)
    messages = [Message.build("it's been 3 weeks and still no refund"), Message.build("love it, thank you!!")]
    component.process(messages)
    first, second = (m.get("sentiment") for m in messages)
    assert first["label"] == "negative" and "waiting" in first["signals"]
    assert second["label"] == "positive"
    assert "sentiment" in messages[0].as_dict(only_output_properties=True)


def test_lexicon_edits_change_the_fingerprint_so_rasa_retrains(tmp_path):
    copy = tmp_path / "lexicon.yml"
    shutil.copy(LEXICON, copy)
    before = SentimentAnalyzer.fingerprint_addon({"lexicon": str(copy)})
    copy.write_text(copy.read_text() + "\n# edited\n")
    assert SentimentAnalyzer.fingerprint_addon({"lexicon": str(copy)}) != before


def test_the_lexicon_is_stored_in_the_model(tmp_path):
    copy = tmp_path / "lexicon.yml"
    copy.write_text("phrases:\n  zorp: -3.0\n")
    component = trained(tmp_path, copy)
    copy.unlink()  # serving must not need the YAML any more
    message = Message.build("zorp")
    component.process([message])
    assert message.get("sentiment")["label"] == "negative"


def test_a_broken_lexicon_fails_training(tmp_path):
    copy = tmp_path / "lexicon.yml"
    copy.write_text("patterns:\n  - {name: broken, regex: '(', valence: -1}\n")
    with pytest.raises(ValueError, match="broken"):
        trained(tmp_path, copy)
