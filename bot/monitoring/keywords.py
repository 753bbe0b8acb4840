"""Brand tracking's keywords, compiled: which tracked keywords a message names.

The keywords come from monitoring.yml's `brand:` (bot/monitoring/config.py); each one's terms are
matched as bot/monitoring/terms.py says. Messages are matched when they are read, never when they are
recorded, so an edited keyword list applies to the past as well (analytics) and from the next spike
check on (alerts).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from bot.monitoring.config import BrandSettings, Keyword
from bot.monitoring.terms import Terms


class KeywordTracker:
    """The configured keywords, ready to match; which message kinds count as mentions."""

    def __init__(self, settings: BrandSettings) -> None:
        self.settings = settings
        self.keywords: tuple[Keyword, ...] = settings.keywords
        self.kinds = settings.kinds
        self.group_of = {k.name: k.group for k in self.keywords}
        self._terms = [(k.name, Terms(k.terms)) for k in self.keywords]

    def __bool__(self) -> bool:
        """Whether anything is tracked at all."""
        return bool(self.keywords)

    def match(self, text: str) -> tuple[str, ...]:
        """The names of the keywords `text` names, in configuration order."""
        folded = text.casefold()
        return tuple(name for name, terms in self._terms if terms.found_in(folded))

    def match_all(self, texts: Iterable[str]) -> list[tuple[str, ...]]:
        """`match` for many texts (run in a worker thread when there are many)."""
        return [self.match(text) for text in texts]


@functools.lru_cache(maxsize=8)
def tracker(settings: BrandSettings) -> KeywordTracker:
    """The compiled tracker for these settings (compiled once per version of monitoring.yml)."""
    return KeywordTracker(settings)
