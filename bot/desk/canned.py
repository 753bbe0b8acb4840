"""Canned responses for agents, from `canned_responses.yml` beside the bot's own responses.

Editors change the file while the desk runs: `load` re-reads it when it changed (checked at most every
2 s, bot/config_files.py), keeps the last good version when an edit is broken, and refuses to start
the desk with a broken file (`watched` is first called at start-up, from DeskConfig.from_env).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from bot.config_files import WatchedFile, read_yaml
from bot.settings import PROJECT_ROOT

CANNED_YML = PROJECT_ROOT / "canned_responses.yml"


class CannedError(ValueError):
    """The YAML file is malformed; the message names the entry."""


@dataclass(frozen=True)
class Canned:
    """One canned response; `{customer}` and `{agent}` are filled in when shown.

    `when` (optional) says when agent assist suggests it: intents it answers, or the moments
    `first_reply`, `after_reply`, `no_order` (bot/desk/suggestions.py ranks them).
    """

    id: str
    title: str
    text: str
    when: tuple[str, ...] = ()

    def filled(self, customer: str, agent: str) -> str:
        """The text with names filled in (other braces are left as they are)."""
        return self.text.replace("{customer}", customer).replace("{agent}", agent)


def parse(path: Path = CANNED_YML) -> list[Canned]:
    """Every canned response, in file order; a clear error for a bad entry (none without a file)."""
    entries = read_yaml(path, missing=[]) or []
    if not isinstance(entries, list):
        raise CannedError(f"{path}: expected a list of responses")
    canned = []
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("id", "title", "text")
        ):
            raise CannedError(f"{path}: entry {number} needs id, title and text")
        when = entry.get("when", [])
        if not isinstance(when, list) or not all(isinstance(w, str) for w in when):
            raise CannedError(f"{path}: entry {number}: `when` must be a list of intents or moments")
        canned.append(Canned(entry["id"], entry["title"], entry["text"], tuple(when)))
    if len({c.id for c in canned}) != len(canned):
        raise CannedError(f"{path}: ids must be unique")
    return canned


@functools.cache
def watched(path: Path = CANNED_YML) -> WatchedFile[list[Canned]]:
    """The process's one watcher of `path` (a broken file raises ConfigFileError the first time)."""
    return WatchedFile(path, parse)


def load(path: Path = CANNED_YML) -> list[Canned]:
    """The canned responses as the file is now (re-read only when it changed)."""
    return watched(path).value
