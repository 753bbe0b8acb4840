"""The support-aware sentiment scorer: what it must understand, and the content team's examples."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.sentiment.scorer import Lexicon, SentimentScorer, label_for, normalise, to_raw

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def scorer() -> SentimentScorer:
    return SentimentScorer(Lexicon.load(ROOT / "data" / "sentiment" / "lexicon.yml"))


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("it's been 3 weeks and still no refund", "negative"),
        ("3rd time messaging you about this", "negative"),
        ("you said it would be here friday", "negative"),
        ("thanks for nothing", "negative"),
        ("great, another delay 🙃", "negative"),
        ("😡😡", "negative"),
        ("WHERE IS MY PARCEL???", "negative"),
        ("i'm contacting trading standards", "negative"),
        ("where is my order 104523", "neutral"),
        ("can i pay with klarna please?", "neutral"),
        ("do you have the linen shirt in M", "neutral"),
        ("omg it arrived, LOVE it 😍😍!!!", "positive"),
        ("not bad at all!", "positive"),
        ("cheers, all sorted now", "positive"),
        ("no complaints, fits perfectly", "positive"),
    ],
)
def test_understands_support_messages(scorer, text, label):
    assert scorer.score(text).label == label


def test_signals_name_what_raises_the_stakes(scorer):
    assert {"money", "waiting"} <= set(scorer.score("still no refund after 3 weeks").signals)
    assert "safety" in scorer.score("my daughter got a rash from the leggings").signals
    assert "legal" in scorer.score("my solicitor will be in touch").signals
    assert "sarcasm" in scorer.score("oh great, delayed again 🙄").signals


def test_result_shape(scorer):
    result = scorer.score("still waiting!!").to_dict()
    assert set(result) == {"label", "score", "confidence", "signals"}
    assert -1 <= result["score"] <= 1 and 0.5 <= result["confidence"] <= 1


def test_vader_normalisation_round_trip():
    for compound in (-0.9, -0.3, 0.0, 0.42, 0.99):
        assert normalise(to_raw(compound)) == pytest.approx(compound, abs=1e-3)
    assert [label_for(s) for s in (-0.05, 0.0, 0.05)] == ["negative", "neutral", "positive"]


def test_a_bad_pattern_in_the_lexicon_is_reported():
    with pytest.raises(ValueError, match="broken"):
        Lexicon.from_dict({"patterns": [{"name": "broken", "regex": "(", "valence": -1}]})


def test_lexicon_survives_the_round_trip_through_the_model(scorer):
    again = Lexicon.from_dict(scorer.lexicon.to_dict())
    assert SentimentScorer(again).score("still no refund after 3 weeks") == scorer.score(
        "still no refund after 3 weeks"
    )
