"""Canned responses for agents, from `canned_responses.yml` beside the bot's own responses."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.desk.config import CANNED_YML


class CannedError(ValueError):
    """The YAML file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Canned:
    """One canned response; `{customer}` and `{agent}` are filled in when shown."""

    id: str
    title: str
    text: str

    def filled(self, customer: str, agent: str) -> str:
        """The text with names filled in (other braces are left as they are)."""
        return self.text.replace("{customer}", customer).replace("{agent}", agent)


def load(path: Path = CANNED_YML) -> list[Canned]:
    """Every canned response, in file order; a clear error for a bad entry."""
    if not path.exists():
        return []
    entries = yaml.safe_load(path.read_text()) or []
    if not isinstance(entries, list):
        raise CannedError(f"{path}: expected a list of responses")
    canned = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("id", "title", "text")
        ):
            raise CannedError(f"{path}: entry {number} needs id, title and text")
        canned.append(Canned(entry["id"], entry["title"], entry["text"]))
    if len({c.id for c in canned}) != len(canned):
        raise CannedError(f"{path}: ids must be unique")
    return canned
