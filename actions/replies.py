"""Replies that actions send, from `replies.yml` beside this file.

Replies used by rules and stories live in domain.yml; these are the ones an action chooses from order,
stock or store data. A reply has one or more variants (picked at random) with `{placeholders}`.
"""

from __future__ import annotations

import functools
import random
from pathlib import Path
from typing import Any

import yaml
from rasa_sdk.executor import CollectingDispatcher

from bot.shop.orders import Reply

REPLIES_FILE = Path(__file__).with_name("replies.yml")


class Replies:
    """The reply texts, keyed by name."""

    def __init__(self, texts: dict[str, list[dict[str, Any]]]) -> None:
        self.texts = texts

    @classmethod
    def load(cls, path: Path = REPLIES_FILE) -> Replies:
        """Read and check the replies file."""
        with path.open(encoding="utf-8") as handle:
            texts = yaml.safe_load(handle)
        for key, variants in texts.items():
            if not isinstance(variants, list) or not all("text" in v for v in variants):
                raise ValueError(f"{path}: reply {key!r} must be a list of variants with a 'text'")
        return cls(texts)

    def render(self, key: str, values: dict[str, str] | None = None) -> dict[str, Any]:
        """One variant of the reply with its placeholders filled; KeyError if a value is missing."""
        variant = random.choice(self.texts[key])
        message: dict[str, Any] = {"text": variant["text"].format_map(values or {})}
        if "buttons" in variant:
            message["buttons"] = variant["buttons"]
        return message


@functools.cache
def replies() -> Replies:
    """The replies, read on first use."""
    return Replies.load()


def say(dispatcher: CollectingDispatcher, reply: Reply | str, **values: str) -> None:
    """Send a reply through the dispatcher."""
    if isinstance(reply, str):
        reply = Reply(reply, values)
    dispatcher.utter_message(**replies().render(reply.key, reply.values))
