"""Each message's language (runtime A): the real lingua detector, and the component in a real Rasa parse.

The project's own English examples (data/nlu, tests/nlu) must all stay English: a false "other
language" would hand an English customer to a person.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.message import Message

from bot.language.detection import Detection, LanguageSettings, from_parse, judge
from bot.language.lingua_detector import LinguaDetector
from bot.nlu.language import LanguageDetector
from bot.settings import PROJECT_ROOT

SETTINGS = LanguageSettings()  # the same values as config.yml's LanguageDetector
FOREIGN = {
    "es": ["hola, ¿dónde está mi pedido?", "mi pedido no ha llegado todavía", "quiero devolver mis zapatos"],
    "fr": ["bonjour, où est ma commande ?", "je veux parler à quelqu'un s'il vous plaît"],
    "de": ["Wo ist meine Bestellung?", "Ich möchte meine Bestellung stornieren"],
    "pt": ["onde está a minha encomenda?"],
}
SHORT = ["ok", "thanks", "hola", "gracias", "merci", "danke", "104523", "#104523", "👍👍", "ok 👍", "sí", ""]


@pytest.fixture(scope="module")
def detector() -> LinguaDetector:
    return LinguaDetector(SETTINGS)


def english_examples() -> list[str]:
    texts: list[str] = []
    for folder in ("data/nlu", "tests/nlu"):
        for path in sorted((PROJECT_ROOT / folder).glob("*.yml")):
            texts += [m.get("text") for m in load_data(str(path)).training_examples if m.get("text")]
    return texts


@pytest.mark.parametrize("code", sorted(FOREIGN))
def test_sentences_in_other_languages_are_detected(detector, code):
    found = detector.detect_many(FOREIGN[code])
    assert [(d.code, d.trained) for d in found] == [(code, False)] * len(FOREIGN[code])
    assert all(d.confidence >= SETTINGS.min_confidence for d in found)


def test_every_english_example_of_the_project_stays_english(detector):
    texts = english_examples()
    assert len(texts) > 1000  # the whole NLU data, not an empty glob
    found = detector.detect_many(texts)
    foreign = [(text, d.code) for text, d in zip(texts, found, strict=True) if not d.trained]
    assert foreign == []


def test_short_and_unsure_messages_are_the_trained_language(detector):
    assert [detector.detect(text) for text in SHORT] == [Detection("en", 0.0, trained=True)] * len(SHORT)


def test_the_decision_needs_both_letters_and_confidence():
    long_enough = "quiero devolver mis zapatos"
    assert judge(long_enough, {"es": 0.75, "pt": 0.2, "en": 0.05}, SETTINGS) == Detection("es", 0.75, False)
    assert judge(long_enough, {"es": 0.6, "pt": 0.3, "en": 0.1}, SETTINGS) == Detection("en", 0.1, True)
    assert judge("hola amigos", {"es": 0.99, "en": 0.01}, SETTINGS).trained  # 10 letters: too short
    assert judge(long_enough, {"en": 0.4, "es": 0.3}, SETTINGS) == Detection("en", 0.4, True)
    assert judge(long_enough, None, SETTINGS) == Detection("en", 0.0, True)


def test_a_second_trained_language_is_no_longer_foreign(detector):
    both = LanguageSettings(trained=("en", "es"))
    text = FOREIGN["es"][1]
    found = judge(text, detector.confidences([text])[0], both)
    assert found == Detection("es", pytest.approx(0.95, abs=0.05), True)


@pytest.mark.parametrize(
    "config",
    [{"trained": ["xx"]}, {"trained": []}, {"trained": ["en"], "candidates": ["es"]}, {"min_confidence": 0}],
)
def test_settings_that_cannot_work_are_refused(config):
    with pytest.raises(ValueError):
        LanguageSettings.from_config(config)


def test_an_unknown_candidate_language_fails_loudly():
    with pytest.raises(ValueError, match="zz"):
        LinguaDetector(LanguageSettings(candidates=("en", "zz")))


def test_every_model_of_a_process_shares_one_detector_per_candidate_list(detector):
    """A model swap builds no second detector (the build holds the GIL for seconds, see the module)."""
    again = LinguaDetector(SETTINGS)
    assert again._detector is detector._detector
    fewer = LinguaDetector(LanguageSettings(candidates=("en", "es")))
    assert fewer._detector is not detector._detector
    assert fewer.detect("mi pedido no ha llegado todavía").code == "es"


def test_stored_parse_data_reads_back_and_rubbish_is_ignored():
    assert from_parse({"language": {"code": "ES", "confidence": 0.9, "trained": False}}) == Detection(
        "es", 0.9, False
    )
    rubbish_values = ({"code": 7}, {"code": "x" * 40}, "es")
    for rubbish in (None, {}, *({"language": value} for value in rubbish_values)):
        assert from_parse(rubbish) is None


def test_the_component_marks_each_message_of_a_batch():
    component = LanguageDetector.create(LanguageDetector.get_default_config(), None, None, None)
    messages = [Message.build(text) for text in ("where is my order", FOREIGN["fr"][1], "ok")]
    component.process(messages)
    assert [m.get("language") for m in messages] == [
        {"code": "en", "confidence": pytest.approx(0.46, abs=0.3), "trained": True},
        {"code": "fr", "confidence": pytest.approx(0.97, abs=0.03), "trained": False},
        {"code": "en", "confidence": 0.0, "trained": True},
    ]


def test_a_failing_detector_leaves_messages_in_the_trained_language(caplog):
    class Broken:
        def detect_many(self, texts):
            raise RuntimeError("detector crashed")

    component = LanguageDetector(SETTINGS, Broken())
    messages = [Message.build(FOREIGN["es"][0])]
    with caplog.at_level(logging.ERROR):
        component.process(messages)
    assert messages[0].get("language") == {"code": "en", "confidence": 0.0, "trained": True}
    assert "language detection failed" in caplog.text


CONFIG = """\
recipe: default.v1
language: en
assistant_id: language-test
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: LogisticRegressionClassifier
  - name: bot.nlu.language.LanguageDetector
    trained: [en]
    candidates: [en, es, fr, de]
policies: []
"""
NLU = """\
version: "3.1"
nlu:
- intent: order_status
  examples: |
    - where is my order
    - has my parcel shipped yet
    - when will my order arrive
- intent: greet
  examples: |
    - hello there
    - hi
    - good morning
"""


@pytest.mark.slow
def test_the_language_is_in_a_real_rasa_parse(tmp_path: Path, monkeypatch):
    """A model trained with the component in its pipeline, loaded by Rasa and asked to parse."""
    from rasa.core.agent import load_agent
    from rasa.model_training import train_nlu

    (tmp_path / "config.yml").write_text(CONFIG, encoding="utf-8")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text(NLU, encoding="utf-8")
    monkeypatch.setenv("RASA_CACHE_DIRECTORY", str(tmp_path / "rasa-cache"))
    model = train_nlu(str(tmp_path / "config.yml"), str(tmp_path / "data"), str(tmp_path / "models"))
    agent = asyncio.run(load_agent(model_path=model))
    spanish = asyncio.run(agent.parse_message("¿dónde está mi pedido? Llevo tres semanas esperando"))
    english = asyncio.run(agent.parse_message("where is my order"))
    short = asyncio.run(agent.parse_message("gracias"))
    assert spanish["language"] == {"code": "es", "confidence": pytest.approx(0.9, abs=0.1), "trained": False}
    assert english["language"]["code"] == "en" and english["language"]["trained"] is True
    assert short["language"] == {"code": "en", "confidence": 0.0, "trained": True}
    assert english["intent"]["name"] == "order_status"  # the rest of the parse is untouched
