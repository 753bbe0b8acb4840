"""The languages a person of the desk answers customers in (`Agent.languages`, "en,es").

Stored as ISO 639-1 codes, comma-separated, so skill-based assignment can later match a ticket's
`language` against them; the queue already marks the conversations an agent can take.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

CODE = re.compile(r"^[a-z]{2,3}$")  # ISO 639-1 (two letters), or 639-3 where a language has no 639-1
DEFAULT = "en"


def parse_languages(value: str | Iterable[str]) -> tuple[str, ...]:
    """Codes from "en, ES" or a list, lowercased and deduplicated; ValueError for anything else."""
    items = value.split(",") if isinstance(value, str) else list(value)
    codes = tuple(dict.fromkeys(item.strip().lower() for item in items if item.strip()))
    bad = [code for code in codes if not CODE.match(code)]
    if bad or not codes:
        raise ValueError(f"languages are ISO 639-1 codes such as en,es,fr (got {', '.join(bad) or 'none'})")
    return codes


def stored(value: str | Iterable[str]) -> str:
    """The column's text for a list of languages ("en,es")."""
    return ",".join(parse_languages(value))


def spoken(stored_value: str | None) -> tuple[str, ...]:
    """The codes of a stored value; the default for an empty or broken one (never an exception)."""
    try:
        return parse_languages(stored_value or DEFAULT)
    except ValueError:
        return (DEFAULT,)


def speaks(stored_value: str | None, language: str | None) -> bool:
    """Whether someone with these languages can take a conversation in `language` (None: anyone)."""
    return language is None or language.lower() in spoken(stored_value)
