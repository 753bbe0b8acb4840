"""Which language a customer wrote in, and whether the assistant is trained for it.

The decision is pure (`judge`): a detector's confidence per candidate language in, a `Detection` out.
Short or unsure messages ("ok", "thanks", an order number, an emoji) count as the trained language, so
an English customer is never handed to a person because a detector guessed: only a message long
enough, and clearly in another candidate language, is "foreign". The detector itself (lingua, its
models inside its wheel, nothing fetched) lives in `bot.language.lingua_detector`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Letters of any script; digits, emoji, punctuation and order numbers say nothing about a language.
LETTER = re.compile(r"[^\W\d_]", re.UNICODE)
CODE = re.compile(r"^[a-z]{2,3}$")  # what a stored language code must look like (ISO 639-1/3)
LANGUAGE = "language"  # the key of the parse data (and of a stored user event's parse_data)


@dataclass(frozen=True)
class LanguageSettings:
    """What the detector may answer and when it is sure enough (config.yml's language component)."""

    # Languages the assistant has a trained model for, the first being the one unsure messages get.
    trained: tuple[str, ...] = ("en",)
    # Languages the detector chooses among: fewer is faster, smaller and more accurate on short text.
    candidates: tuple[str, ...] = ("en", "es", "fr", "de", "it", "pt", "nl", "pl")
    min_letters: int = 12  # fewer letters than this: the trained language, whatever the detector says
    min_confidence: float = 0.7  # a foreign language needs at least this share of the confidence

    def __post_init__(self) -> None:
        if not self.trained:
            raise ValueError("at least one trained language is needed")
        missing = [code for code in self.trained if code not in self.candidates]
        if missing:
            raise ValueError(f"trained languages must be candidates too: {', '.join(missing)}")
        if not 0.0 < self.min_confidence <= 1.0:
            raise ValueError("min_confidence is a share of the confidence, in (0, 1]")

    @property
    def primary(self) -> str:
        """The language unsure messages are treated as."""
        return self.trained[0]

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LanguageSettings:
        """From a component's config; codes are ISO 639-1, lowercased."""
        default = cls()
        return cls(
            trained=_codes(config.get("trained"), default.trained),
            candidates=_codes(config.get("candidates"), default.candidates),
            min_letters=int(config.get("min_letters", default.min_letters)),
            min_confidence=float(config.get("min_confidence", default.min_confidence)),
        )


def _codes(value: Any, default: tuple[str, ...]) -> tuple[str, ...]:
    if value is None:
        return default
    items = value.split(",") if isinstance(value, str) else list(value)
    return tuple(dict.fromkeys(str(code).strip().lower() for code in items if str(code).strip()))


@dataclass(frozen=True)
class Detection:
    """A message's language as the rest of the system reads it (parse data `language`)."""

    code: str  # ISO 639-1; the primary trained language when unsure
    confidence: float  # the detector's confidence in `code` (0 when it was not asked)
    trained: bool  # whether the assistant understands this language

    def to_dict(self) -> dict[str, Any]:
        """The parse data's `language` value."""
        return {"code": self.code, "confidence": round(self.confidence, 4), "trained": self.trained}


def letters(text: str) -> int:
    """How many letters a message has (digits, emoji and punctuation do not count)."""
    return len(LETTER.findall(text or ""))


def judge(text: str, confidences: Mapping[str, float] | None, settings: LanguageSettings) -> Detection:
    """The message's language from the detector's confidences (None: the detector was not asked)."""
    if not confidences or letters(text) < settings.min_letters:
        return unsure(settings, confidences)
    best, value = max(confidences.items(), key=lambda item: item[1])
    if best in settings.trained:
        return Detection(best, value, trained=True)
    if value < settings.min_confidence:
        return unsure(settings, confidences)
    return Detection(best, value, trained=False)


def unsure(settings: LanguageSettings, confidences: Mapping[str, float] | None = None) -> Detection:
    """The trained language, for a message too short or too mixed to tell."""
    return Detection(settings.primary, (confidences or {}).get(settings.primary, 0.0), trained=True)


def needs_detector(texts: Sequence[str], settings: LanguageSettings) -> list[int]:
    """The positions of the messages long enough to ask the detector about (the rest are unsure)."""
    return [i for i, text in enumerate(texts) if letters(text) >= settings.min_letters]


def from_parse(parse_data: Any) -> Detection | None:
    """A stored message's language (None for messages parsed before languages were detected)."""
    value = parse_data.get(LANGUAGE) if isinstance(parse_data, Mapping) else None
    if not isinstance(value, Mapping):
        return None
    code, confidence = value.get("code"), value.get("confidence")
    if not isinstance(code, str) or not CODE.match(code.lower()):
        return None
    number = float(confidence) if isinstance(confidence, (int, float)) else 0.0
    return Detection(code.lower(), number, trained=value.get("trained") is not False)
