"""Fitting the learned sentiment model (scikit-learn), and choosing its settings by cross-validation.

Training data: the labelled support messages in data/sentiment/examples.yml (the content team's, and
the only data the settings are chosen on), and one fixed half of the 4,200 human-rated tweets that
ship with VADER's source (data/sentiment/vader_tweets_train.tsv: the odd tweet ids; the benchmark
reports on the even ones). The tweets teach the `general` and `domain` parts of the model what everyday
posts are and how they read. scikit-learn is imported only here, at training time; the fitted weights
become plain arrays (`SentimentModel`), so runtime A's scikit-learn 1.1 and runtime B's 1.3+ train the
same model and neither has to unpickle the other's objects.

`python -m bench.sentiment --tune` prints the cross-validation table the defaults were chosen from.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import yaml

from bot.sentiment.model import (
    LABELS,
    Linear,
    Ngrams,
    Scaling,
    SentimentModel,
    char_ngrams,
    flag_names,
    lexicon_features,
)
from bot.sentiment.scorer import Lexicon, SentimentScorer, label_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "data" / "sentiment" / "examples.yml"
TWEETS = ROOT / "data" / "sentiment" / "vader_tweets_train.tsv"
MAX_ITER = 5000


class Encoder(Protocol):
    """What training needs from `bot.nlu.encoder.SentenceEncoder` (no ONNX import here)."""

    def encode(self, texts: list[str]) -> np.ndarray:
        """Unit-length sentence embeddings, one row per text."""


def training_tweet(tweet_id: int) -> bool:
    """The fixed half of VADER's tweets used for training (odd ids); the even ids are only measured."""
    return tweet_id % 2 == 1


def load_examples(path: str | Path = EXAMPLES) -> tuple[list[str], list[str]]:
    """Texts and labels from the examples YAML; ValueError naming a bad entry."""
    with Path(path).open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle) or {}
    texts, labels = [], []
    for entry in data.get("examples") or []:
        well_formed = isinstance(entry, dict) and str(entry.get("text", "")).strip()
        if not well_formed or entry.get("label") not in LABELS:
            raise ValueError(f"sentiment example {entry!r} needs a text and a label in {list(LABELS)}")
        texts.append(str(entry["text"]))
        labels.append(str(entry["label"]))
    return texts, labels


def load_tweets(path: str | Path = TWEETS) -> tuple[list[str], list[str]]:
    """Texts and labels of the training tweets (VADER's protocol: mean rating / 4, neutral within ±0.05)."""
    texts, labels = [], []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        _, rating, text = line.split("\t", 2)
        texts.append(text)
        labels.append(label_for(float(rating) / 4))
    return texts, labels


@dataclass(frozen=True, eq=False)
class Corpus:
    """Labelled messages as the model sees them: texts, embeddings, lexicon features, labels."""

    texts: np.ndarray
    embeddings: np.ndarray
    features: np.ndarray
    labels: np.ndarray

    @classmethod
    def build(
        cls, texts: list[str], labels: Sequence[str], scorer: SentimentScorer, encoder: Encoder
    ) -> Corpus:
        """Embed and featurize `texts`."""
        features, _ = lexicon_features(scorer, texts, flag_names(scorer.lexicon))
        embeddings = np.asarray(encoder.encode(texts), dtype=np.float64)
        return cls(np.asarray(texts, dtype=object), embeddings, features, np.asarray(labels))

    def __getitem__(self, rows: np.ndarray) -> Corpus:
        return Corpus(self.texts[rows], self.embeddings[rows], self.features[rows], self.labels[rows])

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def join(cls, first: Corpus, second: Corpus) -> Corpus:
        """Both corpora, first then second."""
        return cls(
            np.concatenate([first.texts, second.texts]),
            np.vstack([first.embeddings, second.embeddings]),
            np.vstack([first.features, second.features]),
            np.concatenate([first.labels, second.labels]),
        )


@dataclass(frozen=True)
class Settings:
    """The model's hyperparameters.

    The defaults are the best of `GRID` by `tune` (5-fold, 2 seeds, on the examples and the training
    tweets only): 0.853 accuracy, 0.846 negative recall, 0.904 on the tweets (the lexicon: 0.903).
    """

    c: float = 3.0  # inverse L2 strength of the support model
    negative_weight: float = 1.6  # a missed complaint costs more than a false alarm
    lexicon_weight: float = 0.3  # scale of the standardised lexicon features against the embedding
    interaction_weight: float = 1.0  # scale of embedding x lexicon score
    ngram_weight: float = 1.0  # scale of the character n-gram TF-IDF (unit length per message)
    ngram_min_count: float = 2  # n-grams in fewer examples than this are left out
    tweet_weight: float = 0.02  # weight of a training tweet (against 1 for an example) in the support model
    general_c: float = 1.0
    domain_c: float = 10.0

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Settings:
        """The settings named in a component config (missing ones keep their defaults)."""
        return cls(**{k: float(v) for k, v in config.items() if k in cls.__dataclass_fields__})


def _regression(
    inputs: np.ndarray,
    labels: np.ndarray,
    c: float,
    class_weight: Any,
    sample_weight: np.ndarray | None = None,
) -> Any:
    from sklearn.linear_model import LogisticRegression

    regression = LogisticRegression(C=c, class_weight=class_weight, max_iter=MAX_ITER)
    return regression.fit(inputs, labels, sample_weight=sample_weight)


def _three_way(fitted: Any) -> Linear:
    """Rows in LABELS order (scikit-learn sorts its classes; make that explicit)."""
    order = [list(fitted.classes_).index(label) for label in LABELS]
    return Linear(np.asarray(fitted.coef_)[order], np.asarray(fitted.intercept_)[order])


def spelling(texts: Sequence[str], settings: Settings) -> Ngrams:
    """The n-gram vocabulary of the examples, with smooth IDF weights (as scikit-learn computes them)."""
    document_counts = Counter(g for text in texts for g in set(char_ngrams(text)))
    kept = sorted(g for g, count in document_counts.items() if count >= settings.ngram_min_count)
    idf = np.array([math.log((1 + len(texts)) / (1 + document_counts[g])) + 1 for g in kept])
    return Ngrams({g: i for i, g in enumerate(kept)}, idf, settings.ngram_weight)


def _support_inputs(scaling: Scaling, ngrams: Ngrams, corpus: Corpus) -> Any:
    """The support model's inputs as one sparse matrix: dense features, then the n-grams."""
    from scipy.sparse import csr_matrix, hstack

    rows = ngrams.rows(corpus.texts)
    values = np.concatenate([v for _, v in rows]) if rows else np.zeros(0)
    columns = np.concatenate([i for i, _ in rows]) if rows else np.zeros(0, dtype=np.int64)
    starts = np.cumsum([0, *(len(i) for i, _ in rows)])
    spelt = csr_matrix((values, columns, starts), shape=(len(corpus), len(ngrams.idf)))
    dense = csr_matrix(scaling.support_inputs(corpus.embeddings, corpus.features))
    return hstack([dense, spelt]).tocsr()


def fit(
    support: Corpus, general: Corpus, flags: tuple[str, ...], settings: Settings = Settings()
) -> SentimentModel:
    """Fit the three regressions; ValueError when a corpus lacks one of the labels."""
    for name, corpus in (("support examples", support), ("tweets", general)):
        missing = set(LABELS) - set(corpus.labels.tolist())
        if missing:
            raise ValueError(f"the {name} have no {', '.join(sorted(missing))} messages to learn from")
    spread = support.features.std(axis=0)
    scaling = Scaling(
        center=support.features.mean(axis=0),
        scale=np.where(spread > 1e-6, spread, 1.0),  # a flag never seen in the examples stays 0
        lexicon_weight=settings.lexicon_weight,
        interaction_weight=settings.interaction_weight,
    )
    ngrams = spelling(support.texts, settings)
    weights = {"negative": settings.negative_weight, "neutral": 1.0, "positive": 1.0}
    both = support if not settings.tweet_weight else Corpus.join(support, general)
    support_fit = _regression(
        _support_inputs(scaling, ngrams, both),
        both.labels,
        settings.c,
        weights,
        np.r_[np.ones(len(support)), np.full(len(both) - len(support), settings.tweet_weight)],
    )
    general_fit = _regression(
        scaling.standardised(general.features), general.labels, settings.general_c, None
    )
    is_support = np.r_[np.ones(len(support)), np.zeros(len(general))]
    domain_fit = _regression(
        np.vstack([support.embeddings, general.embeddings]), is_support, settings.domain_c, "balanced"
    )
    return SentimentModel(
        flags=flags,
        scaling=scaling,
        ngrams=ngrams,
        support=_three_way(support_fit),
        general=_three_way(general_fit),
        domain=Linear(np.asarray(domain_fit.coef_), np.asarray(domain_fit.intercept_)),
    )


def train(
    lexicon: Lexicon,
    encoder: Encoder,
    examples: str | Path = EXAMPLES,
    tweets: str | Path = TWEETS,
    settings: Settings = Settings(),
) -> SentimentModel:
    """The model from the files: what the Rasa component runs at `rasa train`."""
    scorer = SentimentScorer(lexicon)
    support = Corpus.build(*load_examples(examples), scorer, encoder)
    general = Corpus.build(*load_tweets(tweets), scorer, encoder)
    return fit(support, general, flag_names(lexicon), settings)


@dataclass(frozen=True)
class Scores:
    """Cross-validated figures: on the support examples, and on the training tweets."""

    accuracy: float
    negative_recall: float
    macro_f1: float
    tweets_accuracy: float
    lexicon_tweets_accuracy: float = field(default=0.0)

    @property
    def objective(self) -> tuple[float, float]:
        """What `tune` maximises: the worse of accuracy and negative recall, then accuracy."""
        return (round(min(self.accuracy, self.negative_recall), 3), self.accuracy)


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Unweighted mean of the three labels' F1."""
    gold_a, predicted_a = np.asarray(gold), np.asarray(predicted)
    scores = []
    for label in LABELS:
        tp = np.sum((gold_a == label) & (predicted_a == label))
        precision = tp / max(1, np.sum(predicted_a == label))
        recall = tp / max(1, np.sum(gold_a == label))
        scores.append(0.0 if tp == 0 else 2 * precision * recall / (precision + recall))
    return float(np.mean(scores))


def negative_recall(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Share of the negative messages labelled negative."""
    negative = np.asarray(gold) == "negative"
    return float(np.mean(np.asarray(predicted)[negative] == "negative"))


def predict(model: SentimentModel, corpus: Corpus) -> np.ndarray:
    """Labels for a corpus."""
    probabilities = model.probabilities(corpus.embeddings, corpus.features, list(corpus.texts))
    return np.asarray(LABELS)[probabilities.argmax(axis=1)]


def cross_validate(
    support: Corpus,
    general: Corpus,
    flags: tuple[str, ...],
    settings: Settings,
    seeds: Sequence[int] = (0, 1),
) -> Scores:
    """5-fold cross-validation (per seed) over the examples and the training tweets at once."""
    from sklearn.model_selection import KFold, StratifiedKFold

    runs = []
    for seed in seeds:
        support_out = np.empty(len(support), dtype=object)
        general_out = np.empty(len(general), dtype=object)
        stratified = StratifiedKFold(5, shuffle=True, random_state=seed)
        support_folds = stratified.split(support.labels, support.labels)
        general_folds = KFold(5, shuffle=True, random_state=seed).split(general.labels)
        for (s_train, s_test), (g_train, g_test) in zip(support_folds, general_folds, strict=True):
            model = fit(support[s_train], general[g_train], flags, settings)
            support_out[s_test] = predict(model, support[s_test])
            general_out[g_test] = predict(model, general[g_test])
        runs.append(
            (
                float(np.mean(support_out == support.labels)),
                negative_recall(support.labels, support_out),
                macro_f1(support.labels, support_out),
                float(np.mean(general_out == general.labels)),
            )
        )
    lexicon = np.asarray([label_for(s) for s in general.features[:, 0]])
    return Scores(*np.mean(runs, axis=0).tolist(), float(np.mean(lexicon == general.labels)))


GRID = {  # lexicon_weight 0.3 and interaction_weight 1 won an earlier round (with 0.1 and 3) before n-grams
    "c": (1.0, 3.0, 10.0),
    "negative_weight": (1.3, 1.6),
    "ngram_weight": (1.0, 2.0),
    "tweet_weight": (0.0, 0.02),
    "domain_c": (10.0, 30.0),
}


def tune(
    support: Corpus, general: Corpus, flags: tuple[str, ...], grid: dict[str, Sequence[float]] = GRID
) -> list[tuple[Settings, Scores]]:
    """Every setting of the grid with its cross-validated scores, best first.

    Best: tweets no worse than the lexicon scorer on them (VADER's strength must survive), then the
    higher of min(accuracy, negative recall) on the support examples, then accuracy.
    """
    results = []
    for values in itertools.product(*grid.values()):
        settings = Settings(**dict(zip(grid, values, strict=True)))
        results.append((settings, cross_validate(support, general, flags, settings)))

    def rank(item: tuple[Settings, Scores]) -> tuple[bool, tuple[float, float]]:
        scores = item[1]
        return (scores.tweets_accuracy >= scores.lexicon_tweets_accuracy, scores.objective)

    return sorted(results, key=rank, reverse=True)
