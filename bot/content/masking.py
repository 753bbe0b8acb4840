"""Customer data out of suggested training examples: e-mails, order numbers, phones, postcodes, handles.

A reviewed message becomes a line in `data/nlu/*.yml`, which is committed to git and read by everyone
on the content team. What identifies a customer or their order is swapped for a stand-in of the same
shape (an e-mail stays an e-mail, an order number stays six digits starting with 1), so the example
still teaches the model what it looks like, and the entity annotation still fits. A stand-in depends
only on the original value, so one message masked twice reads the same, and two customers never
share it by design. The editor may keep the original (a value the model must learn, such as a
product name, is never masked).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

# The shapes (order numbers as validate_order_form states them: six digits starting with 1).
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
ORDER_NUMBER = re.compile(r"(?<![\d])1\d{5}(?![\d])")
PHONE = re.compile(r"(?<![\w+])\+?\d[\d ()-]{8,}\d(?![\w])")
UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b", re.IGNORECASE)
HANDLE = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{2,30}\b")
BRAND_HANDLES = frozenset({"@loomandco", "@loom", "@loom_co", "@loomco"})  # our own accounts stay
KINDS = ("email", "order number", "phone", "postcode", "handle")


@dataclass(frozen=True)
class Entity:
    """Characters `start:end` of a text are `entity`; `value` only when it differs (a synonym).

    The one entity span of bot/content: masking moves them, markup reads them, nlu_data writes them.
    """

    start: int
    end: int
    entity: str
    value: str | None = None


@dataclass(frozen=True)
class Masked:
    """A text with customer data replaced, the entities moved with it, and what was replaced."""

    text: str
    entities: tuple[Entity, ...]
    replaced: tuple[str, ...]  # the kinds of data replaced, e.g. ("email", "order number")


def _digits(value: str, count: int) -> str:
    number = int(hashlib.sha256(value.encode()).hexdigest(), 16)
    return str(number)[-count:].rjust(count, "0")


def stand_in(kind: str, value: str) -> str:
    """The replacement for one value of `kind`: same shape, no trace of the original."""
    if kind == "email":
        return f"customer{_digits(value.lower(), 4)}@example.com"
    if kind == "order number":
        return "1" + _digits(value, 5)
    if kind == "phone":
        return "07700 900" + _digits(value, 3)  # Ofcom's range reserved for drama: never a real number
    if kind == "postcode":
        return "AB1 2CD" if " " in value else "AB12CD"
    if kind == "handle":
        return "@customer" + _digits(value.lower(), 3)
    raise ValueError(f"unknown kind of customer data: {kind}")


def _found(text: str) -> list[tuple[int, int, str]]:
    """(start, end, kind) of every piece of customer data, earliest first, never overlapping."""
    hits: list[tuple[int, int, str]] = []
    patterns = (("email", EMAIL), ("handle", HANDLE), ("phone", PHONE), ("order number", ORDER_NUMBER))
    for kind, pattern in (*patterns, ("postcode", UK_POSTCODE)):
        for match in pattern.finditer(text):
            if kind == "handle" and match.group().lower() in BRAND_HANDLES:
                continue
            if kind == "postcode" and not any(ch.isdigit() for ch in match.group()[-3:]):
                continue
            if not any(match.start() < end and start < match.end() for start, end, _ in hits):
                hits.append((match.start(), match.end(), kind))
    return sorted(hits)


def mask(text: str, entities: Sequence[Entity] = ()) -> Masked:
    """`text` with customer data replaced; an entity on a replaced value is moved onto its stand-in.

    An entity that overlaps a replaced value without covering it exactly is dropped: its value would
    be half customer data.
    """
    hits = _found(text)
    if not hits:
        return Masked(text, tuple(entities), ())
    pieces: list[str] = []
    moved: dict[int, int] = {}  # old offset -> new offset, at the edges of each hit and of the text
    cursor, shift = 0, 0
    replaced: list[str] = []
    for start, end, kind in hits:
        pieces.append(text[cursor:start])
        new = stand_in(kind, text[start:end])
        moved[start] = start + shift
        shift += len(new) - (end - start)
        moved[end] = end + shift
        pieces.append(new)
        cursor = end
        if kind not in replaced:
            replaced.append(kind)
    pieces.append(text[cursor:])
    masked_text = "".join(pieces)

    def where(offset: int) -> int | None:
        if offset in moved:
            return moved[offset]
        if any(start < offset < end for start, end, _ in hits):
            return None  # inside a replaced value
        before = [end for _, end, _ in hits if end <= offset]
        return offset + (moved[max(before)] - max(before) if before else 0)

    kept: list[Entity] = []
    for span in entities:
        start, end = where(span.start), where(span.end)
        inside = [h for h in hits if span.start < h[1] and h[0] < span.end]
        if start is None or end is None or any(h[0] < span.start or h[1] > span.end for h in inside):
            continue
        value = span.value if span.value is None or not inside else None
        kept.append(Entity(start, end, span.entity, value))
    return Masked(masked_text, tuple(kept), tuple(replaced))


def shown(text: str) -> str:
    """The text as an editor sees it in the review queue: masked."""
    return mask(text).text
