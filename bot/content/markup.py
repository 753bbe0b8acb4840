"""Rasa's entity markup, read: `where is [104523](order_id)` -> the text and its entity spans.

Editors correct a suggested example by editing one line in the markup they already write in
`data/nlu/*.yml`; this turns it back into text and spans, with the same two forms Rasa reads
(`rasa/shared/nlu/training_data/entities_parser.py`): `[text](entity)` and
`[text]{"entity": "name", "value": "synonym"}`. Writing markup is bot/content/nlu_data.py's `annotate`.
"""

from __future__ import annotations

import json
import re

from bot.content.masking import Entity

ENTITY = re.compile(
    r"\[(?P<text>[^\]]+?)\](?:\((?P<name>[^:)]+?)(?::(?P<value>[^)]+))?\)|\{(?P<dict>[^}]+?)\})"
)


class MarkupError(ValueError):
    """The line is not markup Rasa would read as intended; the message says what to fix."""


def parse(line: str) -> tuple[str, tuple[Entity, ...]]:
    """The plain text and the entities of one markup line."""
    line = " ".join(line.split())
    text: list[str] = []
    spans: list[Entity] = []
    cursor = 0
    length = 0
    for match in ENTITY.finditer(line):
        before = line[cursor : match.start()]
        text.append(before)
        length += len(before)
        value: str | None = match.group("value")
        name = match.group("name")
        if match.group("dict") is not None:
            try:
                described = json.loads("{" + match.group("dict") + "}")
            except ValueError:
                raise MarkupError(f"{match.group()} : the part in braces is not JSON") from None
            if not isinstance(described, dict) or not isinstance(described.get("entity"), str):
                raise MarkupError(f'{match.group()} : say which entity, e.g. {{"entity": "product"}}')
            name, value = described["entity"], described.get("value")
            value = None if value is None else str(value)
        shown = match.group("text")
        spans.append(Entity(length, length + len(shown), name.strip(), value if value != shown else None))
        text.append(shown)
        length += len(shown)
        cursor = match.end()
    text.append(line[cursor:])
    plain = "".join(text)
    if any(mark in plain for mark in "[]"):
        raise MarkupError("an unmatched [ or ]: mark an entity as [words](entity_name)")
    if not plain.strip():
        raise MarkupError("the example is empty")
    return plain, tuple(spans)
