"""Quality gates for the learned sentiment model (like the NLU gate: figures, not timings).

The model is trained exactly as `rasa train` trains it (data/sentiment/examples.yml, the training half
of VADER's tweets, the exported encoder, the default settings) and measured on the held-out support
messages in tests/sentiment/support_messages.yml, which nothing is trained or tuned on.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml

from bot.sentiment.model import SentimentModel, flag_names
from bot.sentiment.scorer import SentimentScorer, label_for
from bot.sentiment.training import (
    Corpus,
    Settings,
    cross_validate,
    fit,
    load_examples,
    negative_recall,
    predict,
)

pytestmark = [pytest.mark.model, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[3]
HELD_OUT = ROOT / "tests" / "sentiment" / "support_messages.yml"


def held_out_messages() -> tuple[list[str], list[str]]:
    messages = yaml.safe_load(HELD_OUT.read_text(encoding="utf-8"))["messages"]
    return [m["text"] for m in messages], [m["label"] for m in messages]


def normalised(text: str) -> str:
    return " ".join(text.lower().split())


@pytest.fixture(scope="module")
def model(examples, tweets, lexicon) -> SentimentModel:
    return fit(examples, tweets, flag_names(lexicon))


@pytest.fixture(scope="module")
def held_out(lexicon, encoder) -> Corpus:
    return Corpus.build(*held_out_messages(), SentimentScorer(lexicon), encoder)


def test_no_held_out_message_is_a_training_example():
    """The gate measures unseen messages: none of them may be copied into the examples."""
    training = {normalised(text) for text in load_examples()[0]}
    copied = [text for text in held_out_messages()[0] if normalised(text) in training]
    assert not copied, copied


def test_held_out_support_messages(model, held_out):
    predicted = predict(model, held_out)
    accuracy = float(np.mean(predicted == held_out.labels))
    recall = negative_recall(held_out.labels, predicted)
    assert accuracy >= 0.88, f"accuracy {accuracy:.3f} on {len(held_out)} held-out support messages"
    assert recall >= 0.88, f"negative recall {recall:.3f}"


def test_better_than_the_lexicon_alone_on_the_held_out_messages(model, held_out):
    lexicon_labels = np.asarray([label_for(score) for score in held_out.features[:, 0]])
    learned = float(np.mean(predict(model, held_out) == held_out.labels))
    assert learned > float(np.mean(lexicon_labels == held_out.labels)) + 0.05


def test_content_team_examples_stay_right(examples, tweets, lexicon):
    """Regression gate for edits to data/sentiment/examples.yml (and the lexicon behind its features).

    The examples are now the model's training data, so each is checked by a model that did not see it
    (5-fold cross-validation, the two seeds the settings were chosen with): a mislabelled or
    contradicting example shows here. The lexicon scorer alone no longer reaches 0.85 on them (0.77 on
    the 500 of d9a2e8a, 0.66 on today's 1,041), so this gate moved from it to the learned model.
    """
    scores = cross_validate(examples, tweets, flag_names(lexicon), Settings())
    assert scores.accuracy >= 0.85, scores
    assert scores.tweets_accuracy >= scores.lexicon_tweets_accuracy, scores  # VADER's tweets: no worse
