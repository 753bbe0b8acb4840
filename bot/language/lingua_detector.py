"""The language detector: lingua (lingua-language-detector), whose n-gram models ship in its wheel.

Runtime A only (the Rasa server, where every message is parsed). Built once when the NLU model loads,
with every candidate's models preloaded (seconds and a few hundred MB, more with more candidates:
`python -m bench.language`), so no message waits for a model to load; asking costs well under 1 ms.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from bot.language.detection import Detection, LanguageSettings, judge, needs_detector

logger = logging.getLogger(__name__)


class LinguaDetector:
    """Detects among the configured candidate languages; `judge` decides what counts as foreign."""

    def __init__(self, settings: LanguageSettings) -> None:
        from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

        languages = []
        for code in settings.candidates:
            iso = getattr(IsoCode639_1, code.upper(), None)
            if iso is None:
                raise ValueError(f"lingua does not know the language {code!r}")
            languages.append(Language.from_iso_code_639_1(iso))
        if len(languages) < 2:
            raise ValueError("a language detector needs at least two candidate languages")
        self.settings = settings
        self._detector: Any = (
            LanguageDetectorBuilder.from_languages(*languages).with_preloaded_language_models().build()
        )

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
