"""What editors do with the review queue: read it grouped, accept (corrected) or dismiss, then write.

Open messages are grouped by meaning (the sentence encoder the NLU uses, all-MiniLM-L6-v2), so ten
customers asking "do u ship to ireland" in ten spellings are one decision. Every text an editor sees
is masked (bot/content/masking.py), and the conversation's id never leaves this module. Each decision
is audited with the editor's name.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import func, select, update

from bot.content import markup
from bot.content.masking import Entity, Masked, mask
from bot.content.nlu_data import Example, annotate
from bot.storage import audit
from bot.storage.db import Database
from bot.storage.models import Agent, ReviewItem, utcnow

OPEN, ACCEPTED, WRITTEN, DISMISSED = "open", "accepted", "written", "dismissed"
SAME_MEANING = 0.8  # cosine similarity above which two messages are one group
SHOWN = 300  # open messages read for one page, most recent first


class ReviewError(ValueError):
    """A decision that cannot be taken as asked; the message is for the editor."""


@dataclass(frozen=True)
class Suggestion:
    """One open message as an editor sees it: masked, with the example it would become."""

    id: int
    text: str  # masked
    intent: str | None
    confidence: float | None
    reasons: tuple[str, ...]
    entities: tuple[Entity, ...]  # on the masked text
    example: str  # the masked text in Rasa's markup, the form's default
    original_example: str  # the customer's own values: only sent when the editor keeps them
    replaced: tuple[str, ...]  # what masking replaced ("email", ...)
    said_at: Any
    channel: str


@dataclass
class Group:
    """Messages that mean the same thing; `intent` is the one most of them were read as."""

    items: list[Suggestion] = field(default_factory=list)

    @property
    def intent(self) -> str | None:
        """The intent most of the group was read as."""
        names = [i.intent for i in self.items if i.intent]
        return max(set(names), key=names.count) if names else None

    @property
    def key(self) -> int:
        """The group's first message's id: stable while the group is on screen."""
        return self.items[0].id


def _spans(entities: str) -> tuple[Entity, ...]:
    try:
        found = json.loads(entities or "[]")
    except ValueError:
        return ()
    return tuple(
        Entity(int(e["start"]), int(e["end"]), str(e["entity"]), e.get("value"))
        for e in found
        if isinstance(e, dict) and {"start", "end", "entity"} <= e.keys()
    )


def _example(text: str, entities: Sequence[Entity], intent: str | None) -> str:
    return annotate(Example(text, intent or "", tuple(entities)))


def suggestion(row: ReviewItem) -> Suggestion:
    """An open row as the desk shows it."""
    spans = _spans(row.entities)
    masked: Masked = mask(row.text, spans)
    return Suggestion(
        id=row.id,
        text=masked.text,
        intent=row.intent,
        confidence=row.confidence,
        reasons=tuple(r for r in row.reasons.split(",") if r),
        entities=masked.entities,
        example=_example(masked.text, masked.entities, row.intent),
        original_example=_example(row.text, spans, row.intent),
        replaced=masked.replaced,
        said_at=row.said_at,
        channel=row.channel,
    )


Embed = Callable[[list[str]], np.ndarray]


def group(items: Sequence[Suggestion], embed: Embed | None, threshold: float = SAME_MEANING) -> list[Group]:
    """Greedy grouping by meaning (by exact text when there is no encoder), biggest groups first."""
    groups: list[Group] = []
    if embed is None or not items:
        by_text: dict[str, Group] = {}
        for item in items:
            by_text.setdefault(" ".join(item.text.casefold().split()), Group()).items.append(item)
        groups = list(by_text.values())
    else:
        vectors = embed([item.text for item in items])
        leaders: list[int] = []  # index of each group's first item
        for index, item in enumerate(items):
            if leaders:
                scores = vectors[leaders] @ vectors[index]
                best = int(np.argmax(scores))
                if scores[best] >= threshold:
                    groups[best].items.append(item)
                    continue
            leaders.append(index)
            groups.append(Group([item]))
    return sorted(groups, key=lambda g: (-len(g.items), -g.key))


class Encoder:
    """The NLU's sentence encoder, loaded on first use; None where `make train` has not exported it."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._encoder: Any = None
        self._cache: dict[str, np.ndarray] = {}

    def available(self) -> bool:
        """Whether the encoder has been exported (by `make train`)."""
        return (self._directory / "model.onnx").is_file()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit vectors for `texts` (cached: the same open messages are shown again and again)."""
        if self._encoder is None:
            from bot.nlu.encoder import SentenceEncoder

            self._encoder = SentenceEncoder(self._directory)
        new = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if new:
            for text, vector in zip(new, self._encoder.encode(new), strict=True):
                self._cache[text] = vector
        if len(self._cache) > 20_000:
            self._cache = {t: self._cache[t] for t in texts}
        return np.stack([self._cache[t] for t in texts])


class ReviewQueue:
    """The editors' side of `review_items`."""

    def __init__(self, database: Database, encoder: Encoder | None = None) -> None:
        self._db = database
        self._encoder = encoder

    async def counts(self) -> dict[str, int]:
        """How many messages are in each state."""
        async with self._db.sessions() as session:
            query = select(ReviewItem.status, func.count()).group_by(ReviewItem.status)
            found = {status: int(n) for status, n in await session.execute(query)}
        return {state: found.get(state, 0) for state in (OPEN, ACCEPTED, WRITTEN, DISMISSED)}

    async def open_groups(self, limit: int = SHOWN) -> list[Group]:
        """The open messages (the most recent `limit`), grouped by meaning."""
        async with self._db.sessions() as session:
            query = (
                select(ReviewItem)
                .where(ReviewItem.status == OPEN)
                .order_by(ReviewItem.id.desc())
                .limit(limit)
            )
            rows = list(await session.scalars(query))
        items = [suggestion(row) for row in rows]
        embed = self._encoder.embed if self._encoder is not None and self._encoder.available() else None
        if embed is None:
            return group(items, None)
        return await asyncio.to_thread(group, items, embed)

    async def suggestions(self, item_ids: Sequence[int]) -> list[Suggestion]:
        """These open messages as the desk shows them."""
        async with self._db.sessions() as session:
            query = select(ReviewItem).where(ReviewItem.id.in_(item_ids), ReviewItem.status == OPEN)
            return [suggestion(row) for row in await session.scalars(query.order_by(ReviewItem.id))]

    async def accept(
        self, editor: Agent, item_ids: Sequence[int], intent: str, example: str | None, keep_original: bool
    ) -> int:
        """Accept messages as examples of `intent`; how many were accepted.

        For one message the editor may give the example line (edited markup); otherwise each message's
        own suggestion is used, masked unless `keep_original`.
        """
        intent = intent.strip()
        if not intent:
            raise ReviewError("choose an intent")
        if example is not None:
            if len(item_ids) != 1:
                raise ReviewError("an edited example is for one message at a time")
            text, spans = markup.parse(example)  # MarkupError is a ReviewError's sibling: both ValueError
            example = _example(text, spans, intent)
        accepted = 0
        async with self._db.sessions() as session, session.begin():
            rows = list(
                await session.scalars(
                    select(ReviewItem).where(ReviewItem.id.in_(item_ids), ReviewItem.status == OPEN)
                )
            )
            for row in rows:
                chosen = suggestion(row)
                line = example or (chosen.original_example if keep_original else chosen.example)
                text, spans = markup.parse(line)
                row.status, row.decided_intent = ACCEPTED, intent
                row.example = _example(text, spans, intent)
                row.decided_by, row.decided_at = editor.id, utcnow()
                accepted += 1
                audit.record(
                    session,
                    editor.username,
                    "review_accepted",
                    item=row.id,
                    intent=intent,
                    predicted=row.intent,
                    kept_original=keep_original,
                )
        return accepted

    async def dismiss(self, editor: Agent, item_ids: Sequence[int]) -> int:
        """Mark messages as not useful; how many were open."""
        async with self._db.sessions() as session, session.begin():
            result = await session.execute(
                update(ReviewItem)
                .where(ReviewItem.id.in_(item_ids), ReviewItem.status == OPEN)
                .values(status=DISMISSED, decided_by=editor.id, decided_at=utcnow())
            )
            for item_id in item_ids:
                audit.record(session, editor.username, "review_dismissed", item=item_id)
        return int(result.rowcount or 0)

    async def reopen(self, editor: Agent, item_id: int) -> bool:
        """Take back an acceptance or a dismissal that is not written yet."""
        async with self._db.sessions() as session, session.begin():
            result = await session.execute(
                update(ReviewItem)
                .where(ReviewItem.id == item_id, ReviewItem.status.in_((ACCEPTED, DISMISSED)))
                .values(status=OPEN, decided_intent=None, example=None, decided_by=None, decided_at=None)
            )
            if result.rowcount:
                audit.record(session, editor.username, "review_reopened", item=item_id)
        return bool(result.rowcount)

    async def accepted(self) -> list[tuple[int, Example]]:
        """Accepted messages not written yet, as training examples, oldest decision first."""
        async with self._db.sessions() as session:
            query = (
                select(ReviewItem.id, ReviewItem.decided_intent, ReviewItem.example)
                .where(ReviewItem.status == ACCEPTED)
                .order_by(ReviewItem.decided_at, ReviewItem.id)
            )
            rows = list(await session.execute(query))
        examples = []
        for item_id, intent, line in rows:
            text, spans = markup.parse(line or "")
            examples.append((item_id, Example(text, intent or "", spans)))
        return examples

    async def mark_written(self, editor: Agent, written: Sequence[tuple[int, str, bool]]) -> None:
        """Record where each accepted message went: (item id, file, held out)."""
        async with self._db.sessions() as session, session.begin():
            for item_id, path, heldout in written:
                await session.execute(
                    update(ReviewItem)
                    .where(ReviewItem.id == item_id, ReviewItem.status == ACCEPTED)
                    .values(status=WRITTEN, written_to=path[:300], heldout=heldout)
                )
            audit.record(session, editor.username, "review_written", items=len(written))

    async def recent(self, limit: int = 50) -> list[ReviewItem]:
        """Decisions, newest first (for the page's "done" list; texts are masked by the caller)."""
        async with self._db.sessions() as session:
            query = (
                select(ReviewItem)
                .where(ReviewItem.status != OPEN)
                .order_by(ReviewItem.decided_at.desc().nullslast(), ReviewItem.id.desc())
                .limit(limit)
            )
            return list(await session.scalars(query))
