"""The language detector: lingua (lingua-language-detector), whose n-gram models ship in its wheel.

Runtime A only (the Rasa server, where every message is parsed). Built once per process and candidate
list, with every candidate's models preloaded (seconds and a few hundred MB, more with more candidates:
`python -m bench.language`), so no message waits for a model to load; asking costs well under 1 ms.
A model swap (bot/rasa_server/model_swap.py) reuses the detector the serving model already has: lingua
builds while holding the GIL, which would stop the serving event loop, and a second copy would double
the memory for nothing (the detector depends on the candidate languages only).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from typing import Any

from bot.language.detection import Detection, LanguageSettings, judge, needs_detector

logger = logging.getLogger(__name__)

_built: dict[tuple[str, ...], Any] = {}  # candidate languages -> lingua's detector, for this process
_building = threading.Lock()  # two models loading at once build one detector, not two


class LinguaDetector:
    """Detects among the configured candidate languages; `judge` decides what counts as foreign."""

    def __init__(self, settings: LanguageSettings) -> None:
        self.settings = settings
        self._detector: Any = lingua_for(settings.candidates)

    def confidences(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Each text's confidence per candidate language.

        One after another on the calling thread: lingua's parallel call spreads a batch over a thread
        pool, which for the few short messages of a micro-batch cost more than it saved (bench) and
        would compete with the rest of the Rasa server for the cores.
        """
        results = [self._detector.compute_language_confidence_values(text) for text in texts]
        return [
            {value.language.iso_code_639_1.name.lower(): float(value.value) for value in result}
            for result in results
        ]

    def detect_many(self, texts: Sequence[str]) -> list[Detection]:
        """Each text's language; short texts are not even asked about."""
        asked = needs_detector(texts, self.settings)
        found: dict[int, dict[str, float]] = {}
        if asked:
            found = dict(zip(asked, self.confidences([texts[i] for i in asked]), strict=True))
        return [judge(text, found.get(i), self.settings) for i, text in enumerate(texts)]

    def detect(self, text: str) -> Detection:
        """One text's language."""
        return self.detect_many([text])[0]


def lingua_for(candidates: tuple[str, ...]) -> Any:
    """Lingua's detector for these candidates, built on first use and then shared by every model."""
    with _building:
        detector = _built.get(candidates)
        if detector is None:
            detector = _built[candidates] = _build(candidates)
        return detector


def _build(candidates: tuple[str, ...]) -> Any:
    from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

    languages = []
    for code in candidates:
        iso = getattr(IsoCode639_1, code.upper(), None)
        if iso is None:
            raise ValueError(f"lingua does not know the language {code!r}")
        languages.append(Language.from_iso_code_639_1(iso))
    if len(languages) < 2:
        raise ValueError("a language detector needs at least two candidate languages")
    logger.info("building the language detector for %s", ", ".join(candidates))
    return LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()
