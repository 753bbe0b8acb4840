"""The bot's own responses (domain.yml `responses:`), read for the desk's suggested replies.

An agent answering an order question should be able to start from what the content team wrote for
the bot, with the order's facts filled in, rather than type it again. Only the first text of each
response that is meant for every channel is used (variants picked at random and `channel:` texts are
the bot's business). Filling is plain replacement of `{name}`: a value is never read for placeholders
again, and a template with a placeholder left unfilled is not offered at all.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from pathlib import Path

from bot.config_files import WatchedFile, read_yaml
from bot.settings import PROJECT_ROOT

DOMAIN_YML = PROJECT_ROOT / "domain.yml"
PREFIX = "utter_"
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def parse(path: Path = DOMAIN_YML) -> dict[str, str]:
    """Response key (without `utter_`) → its first text for all channels."""
    domain = read_yaml(path, missing={}) or {}
    responses = domain.get("responses") if isinstance(domain, dict) else None
    texts: dict[str, str] = {}
    for name, variants in (responses or {}).items():
        if not str(name).startswith(PREFIX) or not isinstance(variants, list):
            continue
        for variant in variants:
            if (
                isinstance(variant, dict)
                and isinstance(variant.get("text"), str)
                and not variant.get("channel")
            ):
                texts[str(name)[len(PREFIX) :]] = variant["text"]
                break
    return texts


@functools.cache
def watched(path: Path = DOMAIN_YML) -> WatchedFile[dict[str, str]]:
    """The process's one watcher of domain.yml's responses."""
    return WatchedFile(path, parse)


def load(path: Path = DOMAIN_YML) -> dict[str, str]:
    """The responses as domain.yml has them now."""
    return watched(path).value


def fill(template: str, values: Mapping[str, str]) -> str | None:
    """The template with its placeholders filled; None when one has no value (never send `{order_id}`)."""
    if any(name not in values for name in PLACEHOLDER.findall(template)):
        return None
    return PLACEHOLDER.sub(lambda match: values[match.group(1)], template)
