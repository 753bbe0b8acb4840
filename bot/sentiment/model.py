"""The learned sentiment model: what the lexicon cannot see, read from the sentence embedding.

The lexicon knows words ("refund", "still waiting"); it cannot know that "the wedding is tomorrow" about
an undispatched dress is a complaint, that "great job, delivered to the wrong street" is sarcasm, or that
"can I talk to a person please" is a request and not praise. The sentence embedding (all-MiniLM-L6-v2,
the one the NLU featurizer already computes) carries that, and labelled support messages
(data/sentiment/examples.yml) teach a linear model which way it leans. Three small logistic regressions:

- `support`: negative / neutral / positive from the embedding, the lexicon's features (its score, VADER's
  neg/neu/pos/compound, one flag per lexicon signal), the embedding scaled by the lexicon score (so
  "great" can count for or against depending on what the sentence is about) and how the message is spelt
  (TF-IDF of character 1-4-grams within words: "sooo", "pls", "smh", typos the embedding reads as noise);
- `general`: the same three labels from the lexicon's features alone, trained on human-rated tweets: how
  everyday posts read, which VADER already gets right;
- `domain`: how much a message looks like a support message rather than an everyday post.

The answer is `domain * support + (1 - domain) * general`: where the embedding has no support-specific
evidence (a post about a football match), the lexicon's reading decides, smoothly. Only arrays are stored
(JSON), never a scikit-learn object: the NLU runtime and the service runtime have incompatible
scikit-learn versions, and serving is a few dot products in numpy. Fitting is `bot/sentiment/training.py`.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bot.sentiment.scorer import Lexicon, Sentiment, SentimentScorer

LABELS = ("negative", "neutral", "positive")
VADER = ("neg", "neu", "pos", "compound")
ALWAYS_FLAGS = ("complaint", "praise", "sarcasm")  # signals the scorer sets from phrases and sarcasm markers
NGRAMS = (1, 4)  # character n-gram lengths, within words


def flag_names(lexicon: Lexicon) -> tuple[str, ...]:
    """Every signal the scorer can report with this lexicon: one 0/1 feature each."""
    return tuple(sorted({*ALWAYS_FLAGS, *lexicon.signals, *(p.name for p in lexicon.patterns)}))


def lexicon_features(
    scorer: SentimentScorer, texts: Sequence[str], flags: Sequence[str]
) -> tuple[np.ndarray, list[Sentiment]]:
    """The lexicon's view of each text as a feature row, and its own result (signals are reused)."""
    rows, results = [], []
    for text in texts:
        result, vader = scorer.analyse(text)
        present = set(result.signals)
        rows.append([result.score, *(vader[k] for k in VADER), *(float(f in present) for f in flags)])
        results.append(result)
    width = 1 + len(VADER) + len(flags)
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), width), results


def char_ngrams(text: str, low: int = NGRAMS[0], high: int = NGRAMS[1]) -> list[str]:
    """Character n-grams of each lower-cased word padded with spaces: "pls" gives " p", "pl", ..., "ls "."""
    grams = []
    for word in text.lower().split():
        padded = f" {word} "
        for n in range(low, min(high, len(padded)) + 1):
            grams += [padded[i : i + n] for i in range(len(padded) - n + 1)]
    return grams


@dataclass(frozen=True, eq=False)
class Ngrams:
    """TF-IDF of character n-grams (sublinear counts, smooth IDF, unit length), scaled by `weight`."""

    vocabulary: dict[str, int]
    idf: np.ndarray
    weight: float

    def rows(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each text's known n-grams as (column indices, values)."""
        rows = []
        for text in texts:
            counts = Counter(g for g in char_ngrams(text) if g in self.vocabulary)
            indices = np.fromiter((self.vocabulary[g] for g in counts), dtype=np.int64, count=len(counts))
            values = np.fromiter(
                (1 + math.log(c) for c in counts.values()), dtype=np.float64, count=len(counts)
            )
            values *= self.idf[indices]
            norm = np.linalg.norm(values)
            rows.append((indices, values / norm * self.weight if norm else values))
        return rows

    def dense(self, texts: Sequence[str]) -> np.ndarray:
        """(n, vocabulary size) matrix: serving scores a few messages at a time."""
        matrix = np.zeros((len(texts), len(self.idf)))
        for row, (indices, values) in zip(matrix, self.rows(texts), strict=True):
            row[indices] = values
        return matrix

    def to_dict(self) -> dict[str, Any]:
        """The vocabulary in column order, the IDF weights, the scale."""
        ordered = sorted(self.vocabulary, key=self.vocabulary.__getitem__)
        return {"ngrams": ordered, "idf": self.idf.tolist(), "weight": self.weight}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Ngrams:
        """Back from `to_dict`."""
        grams = [str(g) for g in data["ngrams"]]
        idf = np.asarray(data["idf"], dtype=np.float64)
        if idf.shape != (len(grams),):
            raise ValueError(f"{len(grams)} n-grams but {idf.shape} IDF weights")
        return cls({g: i for i, g in enumerate(grams)}, idf, float(data["weight"]))


@dataclass(frozen=True, eq=False)
class Linear:
    """One logistic regression's weights: `weights @ x + bias` gives a logit per output."""

    weights: np.ndarray  # (outputs, inputs)
    bias: np.ndarray  # (outputs,)

    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits for each row of `x`."""
        return x @ self.weights.T + self.bias

    def to_dict(self) -> dict[str, Any]:
        """Plain lists (JSON)."""
        return {"weights": self.weights.tolist(), "bias": self.bias.tolist()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Linear:
        """Back from `to_dict`."""
        weights = np.asarray(data["weights"], dtype=np.float64)
        bias = np.asarray(data["bias"], dtype=np.float64)
        if weights.ndim != 2 or bias.shape != (weights.shape[0],):
            raise ValueError(f"weights {weights.shape} do not match bias {bias.shape}")
        return cls(weights, bias)


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise probabilities from logits."""
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Probabilities from binary logits."""
    return 1.0 / (1.0 + np.exp(-logits))


@dataclass(frozen=True)
class Scaling:
    """How lexicon features enter the support model: standardised, then weighted against the embedding."""

    center: np.ndarray
    scale: np.ndarray
    lexicon_weight: float
    interaction_weight: float

    def standardised(self, features: np.ndarray) -> np.ndarray:
        """Lexicon features with the training set's mean 0 and standard deviation 1."""
        return (features - self.center) / self.scale

    def support_inputs(self, embeddings: np.ndarray, features: np.ndarray) -> np.ndarray:
        """[embedding, weighted lexicon features, embedding x lexicon score]."""
        lexicon_score = features[:, :1]
        return np.hstack(
            [
                embeddings,
                self.standardised(features) * self.lexicon_weight,
                embeddings * lexicon_score * self.interaction_weight,
            ]
        )


@dataclass(frozen=True, eq=False)
class SentimentModel:
    """The three regressions and how their inputs are built; `probabilities` is all serving needs."""

    flags: tuple[str, ...]
    scaling: Scaling
    ngrams: Ngrams
    support: Linear
    general: Linear
    domain: Linear

    def probabilities(self, embeddings: np.ndarray, features: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """(n, 3) probabilities in LABELS order, for n texts, their embeddings and lexicon feature rows."""
        embeddings = np.asarray(embeddings, dtype=np.float64).reshape(len(features), -1)
        inputs = np.hstack([self.scaling.support_inputs(embeddings, features), self.ngrams.dense(texts)])
        support = softmax(self.support.logits(inputs))
        general = softmax(self.general.logits(self.scaling.standardised(features)))
        domain = sigmoid(self.domain.logits(embeddings))  # (n, 1)
        return domain * support + (1 - domain) * general

    def support_share(self, embeddings: np.ndarray) -> np.ndarray:
        """How much each message looks like a support message (the weight of the support model)."""
        return sigmoid(self.domain.logits(np.asarray(embeddings, dtype=np.float64)))[:, 0]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: stored in the trained Rasa model next to the lexicon."""
        return {
            "labels": list(LABELS),
            "flags": list(self.flags),
            "center": self.scaling.center.tolist(),
            "scale": self.scaling.scale.tolist(),
            "lexicon_weight": self.scaling.lexicon_weight,
            "interaction_weight": self.scaling.interaction_weight,
            "ngrams": self.ngrams.to_dict(),
            "support": self.support.to_dict(),
            "general": self.general.to_dict(),
            "domain": self.domain.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SentimentModel:
        """Back from `to_dict`; ValueError when the shapes do not fit together."""
        if tuple(data.get("labels", ())) != LABELS:
            raise ValueError(f"sentiment model labels {data.get('labels')!r}, expected {list(LABELS)}")
        flags = tuple(str(f) for f in data["flags"])
        model = cls(
            flags=flags,
            scaling=Scaling(
                center=np.asarray(data["center"], dtype=np.float64),
                scale=np.asarray(data["scale"], dtype=np.float64),
                lexicon_weight=float(data["lexicon_weight"]),
                interaction_weight=float(data["interaction_weight"]),
            ),
            ngrams=Ngrams.from_dict(data["ngrams"]),
            support=Linear.from_dict(data["support"]),
            general=Linear.from_dict(data["general"]),
            domain=Linear.from_dict(data["domain"]),
        )
        model._check()
        return model

    def _check(self) -> None:
        width = 1 + len(VADER) + len(self.flags)
        dimensions = self.domain.weights.shape[1]
        expected = {
            "center": (self.scaling.center.shape, (width,)),
            "scale": (self.scaling.scale.shape, (width,)),
            "support": (
                self.support.weights.shape,
                (len(LABELS), 2 * dimensions + width + len(self.ngrams.idf)),
            ),
            "general": (self.general.weights.shape, (len(LABELS), width)),
            "domain": (self.domain.weights.shape, (1, dimensions)),
        }
        for name, (shape, wanted) in expected.items():
            if shape != wanted:
                raise ValueError(f"sentiment model {name} has shape {shape}, expected {wanted}")


class LearnedScorer:
    """The lexicon scorer plus the learned model: a `Sentiment` from a text and its sentence embedding."""

    def __init__(self, scorer: SentimentScorer, model: SentimentModel) -> None:
        self.scorer = scorer
        self.model = model

    def score(self, text: str, embedding: np.ndarray) -> Sentiment:
        """One message."""
        return self.score_many([text], np.asarray(embedding).reshape(1, -1))[0]

    def score_many(self, texts: Sequence[str], embeddings: np.ndarray) -> list[Sentiment]:
        """Messages parsed together, in one matrix product."""
        if not texts:
            return []
        features, lexicon = lexicon_features(self.scorer, texts, self.model.flags)
        probabilities = self.model.probabilities(embeddings, features, texts)
        return [from_probabilities(p, own.signals) for p, own in zip(probabilities, lexicon, strict=True)]


def from_probabilities(probabilities: np.ndarray, signals: tuple[str, ...]) -> Sentiment:
    """Label: the most probable; score: p(positive) - p(negative), in [-1, 1]; confidence: the top one."""
    best = int(np.argmax(probabilities))
    score = float(probabilities[LABELS.index("positive")] - probabilities[LABELS.index("negative")])
    return Sentiment(LABELS[best], score, float(probabilities[best]), signals)
