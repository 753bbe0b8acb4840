"""`make nlu-report` cross-validates the part of the pipeline that chooses the intent.

(scripts/nlu_quality.py)
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def report_script(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))
    return importlib.import_module("nlu_quality")


def names(config: Path) -> list[str]:
    return [c["name"] for c in yaml.safe_load(config.read_text(encoding="utf-8"))["pipeline"]]


def test_the_real_pipeline_is_cross_validated_without_entity_only_diet_and_sentiment(report_script, tmp_path):
    target = tmp_path / "config_intents.yml"
    left_out = report_script.intent_config(ROOT / "config.yml", target)
    assert left_out == ["DIETClassifier", "SentimentAnalyzer"]
    everything = names(ROOT / "config.yml")
    not_intent = ("DIETClassifier", "bot.nlu.sentiment.SentimentAnalyzer")
    assert names(target) == [n for n in everything if n not in not_intent]
    assert "bot.nlu.intent_classifier.SentenceIntentClassifier" in names(target)
    kept = yaml.safe_load(target.read_text(encoding="utf-8"))
    assert kept["policies"] == yaml.safe_load((ROOT / "config.yml").read_text(encoding="utf-8"))["policies"]


def test_diet_stays_where_it_chooses_the_intent(report_script, tmp_path):
    config = tmp_path / "config.yml"
    config.write_text(
        "language: en\npipeline:\n  - name: WhitespaceTokenizer\n  - name: CountVectorsFeaturizer\n"
        "  - name: DIETClassifier\n    epochs: 100\n",
        encoding="utf-8",
    )
    target = tmp_path / "config_intents.yml"
    assert report_script.intent_config(config, target) == []
    assert names(target) == ["WhitespaceTokenizer", "CountVectorsFeaturizer", "DIETClassifier"]
