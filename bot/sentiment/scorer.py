"""Scoring one message: VADER's social-media sentiment plus what customer support needs on top.

General sentiment (VADER: emoji, ALL CAPS, "!!!", slang, negation, boosters) misses frustration that has
no angry word in it: "it's been 3 weeks and still no refund". The domain lexicon (YAML, owned by the
content team) adds phrases, patterns (waiting, repeated contact, broken promises, nobody helping) and
sarcasm markers; they are added to VADER's raw valence before normalising, as if VADER knew them.
No framework imports: used by the Rasa NLU component, the escalation logic and the benchmark.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

ALPHA = 15.0  # VADER's normalisation constant: compound = sum / sqrt(sum^2 + alpha)
THRESHOLD = 0.05  # VADER's (and the benchmark protocol's) neutral band
NEGATORS = {
    "not",
    "no",
    "never",
    "isnt",
    "isn't",
    "wasnt",
    "wasn't",
    "dont",
    "don't",
    "didnt",
    "didn't",
    "cant",
    "can't",
    "aint",
    "ain't",
    "nothing",
    "hardly",
}
NEGATION_SCALAR = -0.74  # VADER's factor for a negated sentiment word
# Polite words in plain questions and requests ("can I pay with Klarna please?") are not feelings.
REQUEST = re.compile(
    r"^\s*(can|could|do|does|did|is|are|will|would|what|whats|what's|when|where|which|how|who|may|should|"
    r"any|i'd like|id like|i would like|please|pls|just to confirm|fyi|hi|hello|hey)\b",
    re.IGNORECASE,
)
REQUEST_DAMPING = 0.1
MILD = 0.6  # compound below which a plain question's tone is damped


@dataclass(frozen=True)
class Sentiment:
    """A message's sentiment, as put into parse data (`to_dict`)."""

    label: str
    score: float
    confidence: float
    signals: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The JSON form: label, score in [-1, 1], confidence in [0, 1], signals."""
        return {
            "label": self.label,
            "score": round(self.score, 4),
            "confidence": round(self.confidence, 4),
            "signals": list(self.signals),
        }


@dataclass(frozen=True)
class Pattern:
    """A regular expression for a kind of frustration; `requires` are words that must also occur."""

    name: str
    regex: re.Pattern[str]
    valence: float
    requires: tuple[str, ...] = ()
    requires_negative: bool = False


@dataclass(frozen=True)
class Lexicon:
    """The content team's domain knowledge, as loaded from data/sentiment/lexicon.yml."""

    phrases: Mapping[str, float]
    signals: Mapping[str, tuple[float, tuple[str, ...]]] = field(
        default_factory=dict
    )  # name -> (valence, words)
    patterns: tuple[Pattern, ...] = ()
    sarcasm: tuple[str, ...] = ()
    sarcasm_with_complaint: tuple[str, ...] = ()
    shopping_terms: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Lexicon:
        """Build from the YAML structure; errors name the offending entry."""
        phrases = {str(k).lower(): float(v) for k, v in (data.get("phrases") or {}).items()}
        patterns = []
        for item in data.get("patterns") or []:
            try:
                patterns.append(
                    Pattern(
                        name=str(item["name"]),
                        regex=re.compile(item["regex"], re.IGNORECASE),
                        valence=float(item["valence"]),
                        requires=tuple(str(w).lower() for w in item.get("requires", [])),
                        requires_negative=bool(item.get("requires_negative", False)),
                    )
                )
            except (KeyError, re.error, TypeError, ValueError) as err:
                raise ValueError(f"sentiment pattern {item!r} is invalid: {err}") from err
        return cls(
            phrases=phrases,
            signals={
                str(name): (
                    float(spec.get("valence", 0)),
                    tuple(str(w).lower() for w in spec.get("words", [])),
                )
                for name, spec in (data.get("signals") or {}).items()
            },
            patterns=tuple(patterns),
            sarcasm=tuple(str(m).lower() for m in data.get("sarcasm") or []),
            sarcasm_with_complaint=tuple(str(m).lower() for m in data.get("sarcasm_with_complaint") or []),
            shopping_terms=tuple(str(m).lower() for m in data.get("shopping_terms") or []),
        )

    @classmethod
    def load(cls, path: str | Path) -> Lexicon:
        """Read the YAML file."""
        with Path(path).open(encoding="utf-8") as handle:
            return cls.from_dict(yaml.safe_load(handle) or {})

    def to_dict(self) -> dict[str, Any]:
        """The YAML structure again (the NLU component persists it inside the trained model)."""
        return {
            "phrases": dict(self.phrases),
            "signals": {k: {"valence": v, "words": list(w)} for k, (v, w) in self.signals.items()},
            "patterns": [
                {
                    "name": p.name,
                    "regex": p.regex.pattern,
                    "valence": p.valence,
                    "requires": list(p.requires),
                    "requires_negative": p.requires_negative,
                }
                for p in self.patterns
            ],
            "sarcasm": list(self.sarcasm),
            "sarcasm_with_complaint": list(self.sarcasm_with_complaint),
            "shopping_terms": list(self.shopping_terms),
        }


def _alternation(words: list[str]) -> re.Pattern[str] | None:
    """One regex matching any of `words` as whole words/phrases, longest first."""
    if not words:
        return None
    body = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![\w']){body}(?![\w'])", re.IGNORECASE)


def to_raw(compound: float) -> float:
    """VADER's raw valence sum behind a compound score (the inverse of its normalisation)."""
    compound = max(-0.9999, min(0.9999, compound))
    return compound * math.sqrt(ALPHA) / math.sqrt(1 - compound * compound)


def normalise(raw: float) -> float:
    """VADER's normalisation of a raw valence sum into [-1, 1]."""
    return raw / math.sqrt(raw * raw + ALPHA)


def label_for(score: float) -> str:
    """Negative / neutral / positive with VADER's ±0.05 band."""
    if score >= THRESHOLD:
        return "positive"
    if score <= -THRESHOLD:
        return "negative"
    return "neutral"


class SentimentScorer:
    """Scores messages; build once (compiles the lexicon), call `score` for each message."""

    def __init__(self, lexicon: Lexicon) -> None:
        self.lexicon = lexicon
        self._vader = SentimentIntensityAnalyzer()
        self._phrases = _alternation(list(lexicon.phrases))
        self._signals = {
            name: (valence, _alternation(list(words))) for name, (valence, words) in lexicon.signals.items()
        }
        self._sarcasm = _alternation(list(lexicon.sarcasm))
        self._sarcasm_if_complaint = _alternation(list(lexicon.sarcasm_with_complaint))
        self._shopping = _alternation(list(lexicon.shopping_terms))

    def score(self, text: str) -> Sentiment:
        """The sentiment of one message."""
        return self.analyse(text)[0]

    def analyse(self, text: str) -> tuple[Sentiment, dict[str, float]]:
        """The sentiment of one message and VADER's scores behind it (the learned model's features)."""
        text = text or ""
        lowered = text.lower()
        vader = self._vader.polarity_scores(text)
        raw = to_raw(vader["compound"])
        domain, signals = self._domain(lowered)
        for name, (valence, regex) in self._signals.items():
            if regex is not None and regex.search(lowered):
                signals.add(name)
                domain += valence
        negative_cue = domain < 0 or vader["neg"] > 0
        for pattern in self.lexicon.patterns:
            if not pattern.regex.search(text):
                continue
            if pattern.requires and not any(word in lowered for word in pattern.requires):
                continue
            if pattern.requires_negative and not negative_cue:
                continue
            domain += pattern.valence
            signals.add(pattern.name)
        complaint = domain < 0
        if self._sarcastic(lowered, complaint):
            signals.add("sarcasm")
            raw = -abs(raw) * 0.5 - 1.5  # praise under sarcasm counts against, and sarcasm itself is negative
        elif domain == 0 and abs(vader["compound"]) < MILD and self._shopping_request(text, lowered):
            raw *= REQUEST_DAMPING
        score = normalise(raw + domain)
        label = label_for(score)
        return Sentiment(label, score, self._confidence(score, label), tuple(sorted(signals))), vader

    def _domain(self, lowered: str) -> tuple[float, set[str]]:
        """Sum of domain phrase valences (negated positive phrases flip, as in VADER)."""
        total = 0.0
        found: set[str] = set()
        if self._phrases is None:
            return total, found
        for match in self._phrases.finditer(lowered):
            valence = self.lexicon.phrases[match.group(0).lower()]
            if valence > 0 and _negated(lowered, match.start()):
                valence *= NEGATION_SCALAR
            total += valence
            found.add("complaint" if valence < 0 else "praise")
        return total, found

    def _shopping_request(self, text: str, lowered: str) -> bool:
        """A plain question or request about shopping (order, delivery, sizes, payment, ...)."""
        about_shopping = self._shopping is not None and bool(self._shopping.search(lowered))
        return about_shopping and _plain_request(text)

    def _sarcastic(self, lowered: str, complaint: bool) -> bool:
        if self._sarcasm is not None and self._sarcasm.search(lowered):
            return True
        return (
            complaint
            and self._sarcasm_if_complaint is not None
            and bool(self._sarcasm_if_complaint.search(lowered))
        )

    @staticmethod
    def _confidence(score: float, label: str) -> float:
        """How far the score is from the nearest class border, scaled to [0.5, 1]."""
        if label == "neutral":
            return 0.5 + 0.5 * (1 - abs(score) / THRESHOLD)
        return min(1.0, 0.5 + (abs(score) - THRESHOLD) / (1 - THRESHOLD) * 0.5 + 0.25)


def _plain_request(text: str) -> bool:
    """A question or polite request (not an exclamation)."""
    stripped = text.strip()
    return "!" not in stripped and (stripped.endswith("?") or bool(REQUEST.match(stripped)))


def _negated(lowered: str, start: int) -> bool:
    """Whether one of the three words before `start` negates it."""
    before = re.findall(r"[\w']+", lowered[:start])[-3:]
    return any(word in NEGATORS or word.endswith("n't") for word in before)
