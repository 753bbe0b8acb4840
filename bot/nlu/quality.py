"""Data-quality checks of the NLU examples, for the content editors' report (`make nlu-report`).

Pure functions over the YAML files and a sentence encoder passed in (numpy and yaml only, no Rasa), so
the checks are testable on small fixtures. What they look for:

- near-duplicates: two examples of one intent that say the same thing; the second teaches nothing;
- contradictions: the same or nearly the same text under two intents; the model cannot learn both;
- too few examples, or too uniform ones (most examples open with the same words, or any two of them
  mean almost the same): the model learns the template, not the intent;
- leakage: a held-out example that is a near-copy of a training example, so the held-out score
  measures memory rather than understanding.

Texts are compared in two ways: identical after normalising (lower case, punctuation dropped), or a
cosine similarity of their sentence embeddings at or above a threshold. The encoder
(all-MiniLM-L6-v2) reads every emoji as the same unknown token, so "👍" and "👎" embed alike: texts
without a letter or digit, and pairs whose emoji differ, are compared by their normalised text only.

The cross-validation part reads what `rasa test nlu --cross-validation` writes: `intent_report.json`
(per-intent scores and `confused_with`) and `intent_errors.json` (every misclassified example).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

# `[value](entity)`, `[value]{"entity": ...}`: the annotation goes, the words stay.
ANNOTATION = re.compile(r"\[([^\]]+)\](?:\([^)]+\)|\{[^}]+\})")
# Rasa's convention for intents the API triggers (never typed by a customer): not checked.
EXTERNAL_PREFIX = "EXTERNAL_"
OPENING_WORDS = 2  # "the same opening" is the same first two words
SUMMARY_ROWS = ("accuracy", "macro avg", "weighted avg", "micro avg")

Encode = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Thresholds:
    """When a finding is reported; the defaults are what the README explains to content editors."""

    duplicate: float = 0.95  # same intent, cosine at least this: a near-duplicate
    contradiction: float = 0.92  # different intents, cosine at least this: a contradiction
    leakage: float = 0.95  # held-out vs training, cosine at least this: a leak
    min_examples: int = 20  # fewer training examples than this: too few
    # Real intents here average 0.1-0.55 between any two of their examples; "track order 1",
    # "track order 2", ... averages above 0.8.
    uniform_similarity: float = 0.6
    # Share of examples opening with the same two words; the most repetitive real intent is at 0.23.
    uniform_opening: float = 0.5


@dataclass(frozen=True)
class Example:
    """One example as a content editor wrote it (annotations removed), and where."""

    intent: str
    text: str
    source: str  # file name and line, "orders.yml:12", so the editor knows where to look


@dataclass(frozen=True)
class Pair:
    """Two examples too alike: a near-duplicate, a contradiction or a leak."""

    first: Example
    second: Example
    similarity: float
    same_text: bool  # identical after normalising

    @property
    def severity(self) -> tuple[bool, float]:
        """Identical texts first, then the most similar."""
        return (self.same_text, self.similarity)


@dataclass(frozen=True)
class IntentShape:
    """How many examples an intent has and how varied they are."""

    intent: str
    count: int
    similarity: float  # mean cosine between two different examples (1.0: all the same)
    opening: str  # the most common first words
    opening_share: float  # the share of examples that open with them
    too_few: bool
    too_uniform: bool


@dataclass(frozen=True)
class Closeness:
    """How close examples are to their nearest training example, and how often it has their intent.

    Cross-validation predicts a training example from the others; the held-out gate predicts a held-out
    example from all of them. When held-out examples sit much closer to training than training examples
    sit to each other, the gate scores higher than messages written afresh would.
    """

    training: float  # mean cosine of a training example to its nearest other training example
    held_out: float  # mean cosine of a held-out example to its nearest training example
    training_same_intent: float  # share whose nearest other training example has the same intent
    held_out_same_intent: float  # share whose nearest training example has the same intent


def closeness(
    training: Sequence[Example],
    train_vectors: np.ndarray,
    held_out: Sequence[Example],
    held_vectors: np.ndarray,
) -> Closeness:
    """Nearest-neighbour figures of both sets against the training set (see `Closeness`)."""
    if len(training) < 2 or not held_out:
        return Closeness(0.0, 0.0, 0.0, 0.0)
    intents = np.array([e.intent for e in training])
    within = train_vectors @ train_vectors.T
    np.fill_diagonal(within, -np.inf)  # leave the example itself out
    across = held_vectors @ train_vectors.T
    return Closeness(
        training=float(within.max(axis=1).mean()),
        held_out=float(across.max(axis=1).mean()),
        training_same_intent=float((intents[within.argmax(axis=1)] == intents).mean()),
        held_out_same_intent=float((intents[across.argmax(axis=1)] == [e.intent for e in held_out]).mean()),
    )


@dataclass(frozen=True)
class Findings:
    """Everything the static checks found, each list sorted worst first."""

    duplicates: list[Pair]
    contradictions: list[Pair]
    leaks: list[Pair]
    shapes: list[IntentShape]  # every intent, worst first; `too_few` / `too_uniform` mark the flagged
    closeness: Closeness

    @property
    def flagged_shapes(self) -> list[IntentShape]:
        """Intents with too few or too uniform examples."""
        return [s for s in self.shapes if s.too_few or s.too_uniform]


def load_examples(paths: Iterable[Path], skip_external: bool = True) -> list[Example]:
    """The intent examples of Rasa 3 YAML files; synonym, lookup and regex blocks are skipped."""
    found: list[Example] = []
    for path in map(Path, paths):
        raw = path.read_text(encoding="utf-8")
        lines, cursor = [line.strip() for line in raw.splitlines()], 0
        for block in (yaml.safe_load(raw) or {}).get("nlu") or []:
            intent = block.get("intent")
            if not intent or (skip_external and intent.startswith(EXTERNAL_PREFIX)):
                continue
            for line in str(block.get("examples", "")).splitlines():
                line = line.strip()
                if line.startswith("- ") and line[2:].strip():
                    # Examples come in file order: the next line that reads the same is this one.
                    at = next((i for i in range(cursor, len(lines)) if lines[i] == line), None)
                    cursor = cursor if at is None else at + 1
                    where = path.name if at is None else f"{path.name}:{at + 1}"
                    found.append(Example(intent, ANNOTATION.sub(r"\1", line[2:].strip()), where))
    return found


def normalise(text: str) -> str:
    """Lower case, apostrophes dropped ("what's" = "whats"), other punctuation a space; emoji kept."""
    text = unicodedata.normalize("NFKC", text).lower().replace("\ufe0f", "")
    text = re.sub(r"['’`]", "", text)
    text = "".join(" " if unicodedata.category(c).startswith("P") else c for c in text)
    return " ".join(text.split())


def _symbols(text: str) -> frozenset[str]:
    return frozenset(c for c in text if unicodedata.category(c) in ("So", "Sk"))


def _embeddable(text: str) -> bool:
    return any(c.isalnum() for c in text)


def _comparable(a: str, b: str) -> bool:
    """Whether the embeddings of `a` and `b` say something (see the module docstring on emoji)."""
    return _embeddable(a) and _embeddable(b) and _symbols(a) == _symbols(b)


def embed(encode: Encode, texts: Sequence[str]) -> np.ndarray:
    """Unit vectors of `texts`, one text per call to `encode`.

    One text per call, so a vector never depends on the others (an int8 encoder once made it depend
    on its batch-mates; the float one does not, but the checks need not care which is exported).
    """
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate([encode([text]) for text in texts]).astype(np.float32, copy=False)


def _pairs(
    left: Sequence[Example],
    left_vectors: np.ndarray,
    right: Sequence[Example],
    right_vectors: np.ndarray,
    threshold: float,
    keep: Callable[[Example, Example], bool],
    same_set: bool,
) -> list[Pair]:
    """Pairs (one from each side) that `keep` accepts and that are identical or similar enough."""
    if not left or not right:
        return []
    similarity = left_vectors @ right_vectors.T
    candidates = {(int(i), int(j)) for i, j in np.argwhere(similarity >= threshold)}
    by_text: dict[str, list[int]] = defaultdict(list)
    for j, example in enumerate(right):
        by_text[normalise(example.text)].append(j)
    for i, example in enumerate(left):
        text = normalise(example.text)
        candidates.update((i, j) for j in by_text.get(text, []) if text)
    found: list[Pair] = []
    for i, j in candidates:
        a, b = left[i], right[j]
        if (same_set and j <= i) or not keep(a, b):
            continue
        same = normalise(a.text) == normalise(b.text)
        if same or _comparable(a.text, b.text):
            found.append(Pair(a, b, 1.0 if same else min(float(similarity[i, j]), 1.0), same))
    return sorted(found, key=lambda p: (*p.severity, p.first.text), reverse=True)


def _opening(text: str) -> str:
    return " ".join(normalise(text).split()[:OPENING_WORDS])


def intent_shapes(examples: Sequence[Example], vectors: np.ndarray, limits: Thresholds) -> list[IntentShape]:
    """Count and variety of each intent's examples; flagged ones first, then the least varied."""
    rows: dict[str, list[int]] = defaultdict(list)
    for index, example in enumerate(examples):
        rows[example.intent].append(index)
    shapes = []
    for intent, indices in rows.items():
        n = len(indices)
        block = vectors[indices] @ vectors[indices].T
        mean = float((block.sum() - np.trace(block)) / (n * (n - 1))) if n > 1 else 1.0
        opening, times = Counter(_opening(examples[i].text) for i in indices).most_common(1)[0]
        share = times / n
        uniform = n > 1 and (mean >= limits.uniform_similarity or share >= limits.uniform_opening)
        shapes.append(IntentShape(intent, n, mean, opening, share, n < limits.min_examples, uniform))
    return sorted(
        shapes, key=lambda s: (s.too_few or s.too_uniform, max(s.similarity, s.opening_share)), reverse=True
    )


def check(
    training: Sequence[Example],
    held_out: Sequence[Example],
    encode: Encode,
    limits: Thresholds | None = None,
) -> Findings:
    """Run every static check on the training examples and the held-out set."""
    limits = limits or Thresholds()
    train_vectors = embed(encode, [e.text for e in training])
    held_vectors = embed(encode, [e.text for e in held_out])
    within = (training, train_vectors, training, train_vectors)
    duplicates = _pairs(*within, limits.duplicate, keep=lambda a, b: a.intent == b.intent, same_set=True)
    contradictions = _pairs(
        *within, limits.contradiction, keep=lambda a, b: a.intent != b.intent, same_set=True
    )
    across = (held_out, held_vectors, training, train_vectors)
    leaks = _pairs(*across, limits.leakage, keep=lambda a, b: True, same_set=False)
    # A held-out example copied into another intent is worse than one copied into its own.
    leaks.sort(key=lambda p: (p.first.intent != p.second.intent, *p.severity), reverse=True)
    shapes = intent_shapes(training, train_vectors, limits)
    near = closeness(training, train_vectors, held_out, held_vectors)
    return Findings(duplicates, contradictions, leaks, shapes, near)


# ---- what `rasa test nlu --cross-validation` wrote ---------------------------------------------------


@dataclass(frozen=True)
class Misread:
    """A cross-validation example the model gave the wrong intent."""

    text: str
    intent: str
    predicted: str
    confidence: float


@dataclass(frozen=True)
class IntentScore:
    """One row of the confusion table."""

    intent: str
    f1: float
    precision: float
    recall: float
    support: int
    confused_with: list[tuple[str, int]]  # most often first
    worst: list[Misread]  # the most confident mistakes first


@dataclass(frozen=True)
class CrossValidation:
    """The cross-validated scores, worst intent first."""

    intents: list[IntentScore]
    accuracy: float
    macro_f1: float
    weighted_f1: float
    errors: list[Misread]

    def top_confusions(self, n: int = 3) -> list[tuple[str, str, int]]:
        """(intent, read as, times), the most frequent first."""
        counts = self._directed()
        return [(a, b, k) for (a, b), k in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]

    def confused_pairs(self, n: int = 3) -> list[tuple[str, str, int, int]]:
        """(a, b, a read as b, b read as a) for the pairs mixed up most often, either way."""
        counts = self._directed()
        pairs = {tuple(sorted(key)) for key in counts}
        rows = []
        for a, b in pairs:
            forth, back = counts.get((a, b), 0), counts.get((b, a), 0)
            rows.append((a, b, forth, back) if forth >= back else (b, a, back, forth))
        return sorted(rows, key=lambda r: (-(r[2] + r[3]), r[0], r[1]))[:n]

    def _directed(self) -> dict[tuple[str, str], int]:
        counts = Counter((e.intent, e.predicted) for e in self.errors)
        if not counts:  # no errors file: Rasa's own top confusions per intent
            counts = Counter({(s.intent, other): k for s in self.intents for other, k in s.confused_with})
        return counts


def read_cross_validation(folder: Path, worst_per_intent: int = 3) -> CrossValidation:
    """Parse `intent_report.json` and, when there, `intent_errors.json` from Rasa's output folder."""
    report = json.loads((folder / "intent_report.json").read_text(encoding="utf-8"))
    errors_file = folder / "intent_errors.json"
    errors = [
        Misread(
            text=item["text"],
            intent=item["intent"],
            predicted=str(item["intent_prediction"].get("name") or "(none)"),
            confidence=float(item["intent_prediction"].get("confidence") or 0.0),
        )
        for item in (json.loads(errors_file.read_text(encoding="utf-8")) if errors_file.exists() else [])
    ]
    errors.sort(key=lambda e: e.confidence, reverse=True)
    by_intent: dict[str, list[Misread]] = defaultdict(list)
    for error in errors:
        by_intent[error.intent].append(error)

    rows = []
    for intent, row in report.items():
        if intent in SUMMARY_ROWS or not isinstance(row, dict):
            continue
        mine = by_intent.get(intent, [])
        # The errors file counts every confusion; Rasa's `confused_with` keeps only the top two or three.
        counted = Counter(e.predicted for e in mine) if mine else Counter(row.get("confused_with") or {})
        rows.append(
            IntentScore(
                intent=intent,
                f1=float(row["f1-score"]),
                precision=float(row["precision"]),
                recall=float(row["recall"]),
                support=int(row["support"]),
                confused_with=sorted(counted.items(), key=lambda kv: (-kv[1], kv[0])),
                worst=mine[:worst_per_intent],
            )
        )
    rows.sort(key=lambda s: (s.f1, s.intent))
    accuracy = report.get("accuracy", 0.0)
    return CrossValidation(
        intents=rows,
        accuracy=float(accuracy["f1-score"] if isinstance(accuracy, dict) else accuracy),
        macro_f1=float(report["macro avg"]["f1-score"]),
        weighted_f1=float(report["weighted avg"]["f1-score"]),
        errors=errors,
    )
