"""The lexicon, the exported sentence encoder and the training data, loaded once (runtime B)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.encoder import SentenceEncoder
from bot.sentiment.scorer import Lexicon, SentimentScorer
from bot.sentiment.training import Corpus, load_examples, load_tweets

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="session")
def lexicon() -> Lexicon:
    return Lexicon.load(ROOT / "data" / "sentiment" / "lexicon.yml")


@pytest.fixture(scope="session")
def encoder() -> SentenceEncoder:
    """The encoder `make train` exports to models/encoder (all-MiniLM-L6-v2)."""
    return SentenceEncoder(ROOT / "models" / "encoder", threads=2)


@pytest.fixture(scope="session")
def examples(lexicon, encoder) -> Corpus:
    """data/sentiment/examples.yml, embedded."""
    return Corpus.build(*load_examples(), SentimentScorer(lexicon), encoder)


@pytest.fixture(scope="session")
def tweets(lexicon, encoder) -> Corpus:
    """The training half of VADER's tweets, embedded."""
    return Corpus.build(*load_tweets(), SentimentScorer(lexicon), encoder)
