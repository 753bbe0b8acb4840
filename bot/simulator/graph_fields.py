"""Graph's `fields` parameter, parsed: names with `.modifier(value)` calls and `{subfields}`.

For example `mentioned_media.media_id(1790){caption,media_url}` or
`mentioned_comment.comment_id(1789){id,text,media{id,permalink}}`; see
https://developers.facebook.com/docs/graph-api/guides/field-expansion. Spaces between tokens are
allowed. A malformed list raises `FieldSyntaxError` worded as Graph's (`Syntax error "Expected name."
at character 12: ...`, the position counted from 0), which Graph answers with code 2500. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z0-9_]+")


class FieldSyntaxError(ValueError):
    """A `fields` value Graph could not parse; `str()` is Graph's message."""


@dataclass(frozen=True)
class Field:
    """One requested field: `children` is None when no `{...}` list was given (the defaults)."""

    name: str
    modifiers: tuple[tuple[str, str], ...] = ()
    children: tuple[Field, ...] | None = None


def parse_fields(text: str) -> tuple[Field, ...]:
    """The fields of `text`, in order; an empty value asks for the defaults (no fields)."""
    reader = _Reader(text)
    if not reader.peek():
        return ()
    fields = _field_list(reader)
    if reader.peek():
        raise reader.error(f'Expected end of string instead of "{reader.peek()}".')
    return fields


class _Reader:
    """A cursor over the text that skips spaces between tokens."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        while self.pos < len(self.text) and self.text[self.pos] == " ":
            self.pos += 1
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def take(self, char: str) -> None:
        found = self.peek()
        if found != char:
            raise self.error(f'Expected "{char}" instead of {_shown(found)}.')
        self.pos += 1

    def name(self) -> str:
        self.peek()
        match = _NAME.match(self.text, self.pos)
        if match is None:
            raise self.error("Expected name.")
        self.pos = match.end()
        return match.group()

    def argument(self) -> str:
        end = self.text.find(")", self.pos)
        if end == -1:
            self.pos = len(self.text)
            raise self.error('Expected ")", got end of string')
        value = self.text[self.pos : end].strip()
        self.pos = end
        return value

    def error(self, what: str) -> FieldSyntaxError:
        return FieldSyntaxError(f'Syntax error "{what}" at character {self.pos}: {self.text}')


def _shown(char: str) -> str:
    return f'"{char}"' if char else "end of string"


def _field_list(reader: _Reader) -> tuple[Field, ...]:
    fields = [_field(reader)]
    while reader.peek() == ",":
        reader.pos += 1
        fields.append(_field(reader))
    return tuple(fields)


def _field(reader: _Reader) -> Field:
    name = reader.name()
    modifiers = []
    while reader.peek() == ".":
        reader.pos += 1
        modifier = reader.name()
        reader.take("(")
        modifiers.append((modifier, reader.argument()))
        reader.take(")")
    children = None
    if reader.peek() == "{":
        reader.pos += 1
        children = _field_list(reader)
        reader.take("}")
    return Field(name, tuple(modifiers), children)
