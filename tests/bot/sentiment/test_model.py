"""The learned sentiment model: fitting, predicting, and the round trip through the trained Rasa model."""

from __future__ import annotations

import json

import numpy as np
import pytest

from bot.sentiment.model import (
    LABELS,
    LearnedScorer,
    SentimentModel,
    char_ngrams,
    flag_names,
    from_probabilities,
)
from bot.sentiment.scorer import SentimentScorer
from bot.sentiment.training import Corpus, Settings, fit, load_examples, training_tweet

pytestmark = pytest.mark.model

SMALL = {
    "negative": [
        "still no refund after three weeks",
        "the parcel never came and nobody answers",
        "great, delivered to the wrong house again 🙄",
        "the zip broke the first time I wore it",
        "you charged me twice and ignore my emails",
        "not impressed, the colour is nothing like the photo",
        "third time asking where my order is",
        "the mug arrived smashed",
    ],
    "neutral": [
        "where is my order",
        "can I talk to a person please",
        "do you ship to france",
        "what sizes does the coat come in",
        "my order number is 104523",
        "can I pay with paypal please?",
        "how do returns work",
        "is the shop open on sunday",
    ],
    "positive": [
        "love it, thank you so much!",
        "arrived early and it's perfect",
        "brilliant service, thanks for sorting it",
        "the dress is gorgeous 😍",
        "so happy with my new boots",
        "thanks, that's really helpful, great job",
        "fast delivery and lovely packaging",
        "you're all stars",
    ],
}
EVERYDAY = {
    "negative": ["my train is late again, so annoying", "worst match I've ever watched", "I hate mondays"],
    "neutral": ["going to the shops later", "it might rain tomorrow", "watching the news"],
    "positive": ["what a beautiful sunny day", "loved that film, so funny", "best holiday ever"],
}


def corpus(data: dict[str, list[str]], lexicon, encoder) -> Corpus:
    texts = [text for label in LABELS for text in data[label]]
    labels = [label for label in LABELS for _ in data[label]]
    return Corpus.build(texts, labels, SentimentScorer(lexicon), encoder)


@pytest.fixture(scope="module")
def small_model(lexicon, encoder) -> SentimentModel:
    return fit(corpus(SMALL, lexicon, encoder), corpus(EVERYDAY, lexicon, encoder), flag_names(lexicon))


@pytest.fixture(scope="module")
def learned(lexicon, small_model) -> LearnedScorer:
    return LearnedScorer(SentimentScorer(lexicon), small_model)


def test_probabilities_are_a_distribution_and_the_result_follows_them(learned, encoder):
    texts = ["the parcel never arrived and nobody replies", "can I speak to someone please", "love it!!"]
    features_model = learned.model
    results = learned.score_many(texts, encoder.encode(texts))
    assert [r.label for r in results] == ["negative", "neutral", "positive"]
    for result in results:
        assert -1 <= result.score <= 1 and 1 / 3 <= result.confidence <= 1
    assert results[0].score < -0.3 < 0.3 < results[2].score
    assert features_model.flags == tuple(sorted(features_model.flags))


def test_score_is_positive_minus_negative_and_confidence_the_top_probability():
    result = from_probabilities(np.array([0.6, 0.3, 0.1]), ("money",))
    assert result.label == "negative" and result.score == pytest.approx(-0.5)
    assert result.confidence == pytest.approx(0.6) and result.signals == ("money",)


def test_signals_are_the_lexicons(learned, encoder):
    text = "still no refund after 3 weeks"
    result = learned.score(text, encoder.encode([text])[0])
    assert {"money", "waiting"} <= set(result.signals)
    assert set(result.to_dict()) == {"label", "score", "confidence", "signals"}


def test_the_weights_survive_json(small_model, encoder, lexicon):
    again = SentimentModel.from_dict(json.loads(json.dumps(small_model.to_dict())))
    texts = corpus(
        {"negative": ["wrong size again"], "neutral": ["order 55012"], "positive": ["thx!"]}, lexicon, encoder
    )
    assert np.allclose(
        again.probabilities(texts.embeddings, texts.features, list(texts.texts)),
        small_model.probabilities(texts.embeddings, texts.features, list(texts.texts)),
    )
    assert again.ngrams.vocabulary == small_model.ngrams.vocabulary


def test_mismatched_weights_are_refused(small_model):
    data = small_model.to_dict()
    data["flags"] = [*data["flags"], "a_new_signal"]  # the lexicon grew but the weights did not
    with pytest.raises(ValueError, match="center"):
        SentimentModel.from_dict(data)
    with pytest.raises(ValueError, match="labels"):
        SentimentModel.from_dict({**small_model.to_dict(), "labels": ["bad", "good"]})


def test_spelling_is_character_ngrams_within_words():
    assert char_ngrams("Pls ok", 2, 3) == [
        " p",
        "pl",
        "ls",
        "s ",
        " pl",
        "pls",
        "ls ",
        " o",
        "ok",
        "k ",
        " ok",
        "ok ",
    ]
    assert char_ngrams("") == []


def test_ngram_rows_are_unit_length_and_ignore_unknown_ngrams(small_model):
    ngrams = small_model.ngrams
    [(indices, values)] = ngrams.rows(["sooo annoying жж"])
    known = {ngrams.vocabulary[g] for g in char_ngrams("sooo annoying жж") if g in ngrams.vocabulary}
    assert set(indices.tolist()) == known and "жж" not in ngrams.vocabulary
    assert np.linalg.norm(values) == pytest.approx(ngrams.weight)


def test_every_label_is_needed_to_learn(lexicon, encoder):
    no_positive = corpus({**SMALL, "positive": []}, lexicon, encoder)
    with pytest.raises(ValueError, match="positive"):
        fit(no_positive, corpus(EVERYDAY, lexicon, encoder), flag_names(lexicon))


def test_support_messages_lean_on_the_support_model_and_everyday_posts_on_the_lexicon(small_model, encoder):
    support, everyday = small_model.support_share(
        encoder.encode(["my refund still hasn't come", "lovely weather"])
    )
    assert support > everyday


def test_settings_come_from_the_component_config():
    settings = Settings.from_config({"c": 2, "negative_weight": "1.5", "lexicon": "data/x.yml"})
    assert (
        settings.c == 2.0
        and settings.negative_weight == 1.5
        and settings.lexicon_weight == Settings().lexicon_weight
    )


def test_a_bad_example_is_named(tmp_path):
    path = tmp_path / "examples.yml"
    path.write_text("examples:\n  - text: fine\n    label: happy\n")
    with pytest.raises(ValueError, match="happy"):
        load_examples(path)


def test_the_tweet_halves_do_not_overlap():
    assert [i for i in range(1, 9) if training_tweet(i)] == [1, 3, 5, 7]
