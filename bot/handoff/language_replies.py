"""The honest reply to a customer in a language the assistant is not trained for (languages.yml).

A person who speaks the language takes over; until then the customer should know why, in their own
language when we have it translated, in English (naming their language) when we do not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config_files import CHECK_EVERY_SECONDS, WatchedFile, read_yaml
from bot.settings import PROJECT_ROOT

LANGUAGES_FILE = PROJECT_ROOT / "languages.yml"
FALLBACK = "en"  # the language of the reply when the customer's has no translation


@dataclass(frozen=True)
class LanguageReply:
    """What to send and in which language it is written."""

    text: str
    language: str  # the reply's own language: the customer's, or FALLBACK
    translated: bool


@dataclass(frozen=True)
class LanguageReplies:
    """Language names and the translated handoff replies, from languages.yml."""

    names: Mapping[str, str] = field(default_factory=dict)
    handoff: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = LANGUAGES_FILE) -> LanguageReplies:
        """Read languages.yml; ValueError for a file that cannot work (the English reply is required)."""
        data: Any = read_yaml(path) or {}
        if not isinstance(data, dict):
            raise ValueError("expected a mapping with `names` and `handoff`")
        names, handoff = data.get("names") or {}, data.get("handoff") or {}
        if not isinstance(names, dict) or not isinstance(handoff, dict):
            raise ValueError("`names` and `handoff` map language codes to text")
        replies = cls(
            names={str(k).lower(): str(v) for k, v in names.items()},
            handoff={str(k).lower(): str(v).strip() for k, v in handoff.items() if str(v).strip()},
        )
        if FALLBACK not in replies.handoff:
            raise ValueError(f"`handoff` needs the {FALLBACK!r} reply, for languages with no translation")
        return replies

    @classmethod
    def watch(
        cls, path: Path = LANGUAGES_FILE, every: float = CHECK_EVERY_SECONDS
    ) -> WatchedFile[LanguageReplies]:
        """languages.yml, re-read when editors change it."""
        return WatchedFile(path, cls.load, every)

    def name(self, code: str) -> str:
        """A language's English name ("es" -> "Spanish"); the code itself when the file has none."""
        return self.names.get(code.lower(), code)

    def handoff_reply(self, code: str) -> LanguageReply:
        """The reply in the customer's language, or the English one naming their language."""
        code = code.lower()
        written = code if code in self.handoff else FALLBACK
        # A plain replace, not str.format: an editor's stray brace must not break the reply.
        text = self.handoff[written].replace("{language}", self.name(code))
        return LanguageReply(text, written, translated=written == code)
