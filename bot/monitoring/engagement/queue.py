"""The engagement queue, read: public items by view, most urgent first, then by reach, then oldest first."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, select, true

from bot.monitoring.engagement.actions import DISMISSED, OPEN, SENT
from bot.monitoring.engagement.policy import AUTO, QUEUE, RECORD
from bot.storage.db import Database
from bot.storage.models import EngagementItem, Mention

TO_ANSWER, ANSWERED, RECORDED, HIDDEN, DISMISSED_VIEW, ALL = (
    "to_answer",
    "answered",
    "recorded",
    "hidden",
    "dismissed",
    "all",
)
VIEWS = (TO_ANSWER, ANSWERED, RECORDED, HIDDEN, DISMISSED_VIEW, ALL)
LIMIT = 200


@dataclass(frozen=True)
class QueueRow:
    """One item as the desk shows it: the filing and the public item itself."""

    item: EngagementItem
    mention: Mention

    @property
    def photos(self) -> list[str]:
        """The item's photo URLs (the desk shows them through its own proxy, by position)."""
        try:
            urls = json.loads(self.mention.media_urls or "[]")
        except ValueError:
            return []
        return [u for u in urls if isinstance(u, str)] if isinstance(urls, list) else []

    @property
    def author(self) -> str:
        """@handle, or the name, or the platform id."""
        m = self.mention
        return f"@{m.author_handle}" if m.author_handle else (m.author_name or m.author_id)


def _where(view: str) -> list[Any]:
    if view == TO_ANSWER:
        return [EngagementItem.status == OPEN, EngagementItem.decision.in_((QUEUE, AUTO))]
    if view == ANSWERED:
        return [EngagementItem.status == SENT]
    if view == RECORDED:
        return [EngagementItem.status == OPEN, EngagementItem.decision == RECORD]
    if view == HIDDEN:
        return [EngagementItem.hidden.is_(True)]
    if view == DISMISSED_VIEW:
        return [EngagementItem.status == DISMISSED]
    return []


class EngagementQueue:
    """Reads for the desk's Engagement page."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def rows(self, view: str = TO_ANSWER, limit: int = LIMIT) -> list[QueueRow]:
        """The items of a view, in the queue's order."""
        query = (
            select(EngagementItem, Mention)
            .join(Mention, Mention.id == EngagementItem.mention_id)
            .where(*_where(view))
            .order_by(EngagementItem.urgency.desc(), EngagementItem.reach.desc(), EngagementItem.id)
            .limit(limit)
        )
        async with self._db.sessions() as session:
            return [QueueRow(item, mention) for item, mention in (await session.execute(query)).all()]

    async def row(self, item_id: int) -> QueueRow | None:
        """One item (the desk's photo proxy checks the URL belongs to it)."""
        query = (
            select(EngagementItem, Mention)
            .join(Mention, Mention.id == EngagementItem.mention_id)
            .where(EngagementItem.id == item_id)
        )
        async with self._db.sessions() as session:
            found = (await session.execute(query)).first()
        return QueueRow(found[0], found[1]) if found else None

    async def counts(self) -> dict[str, int]:
        """How many items each view holds (the page's tabs), in one query."""
        columns = [func.count().filter(and_(true(), *_where(view))) for view in VIEWS]
        async with self._db.sessions() as session:
            row = (await session.execute(select(*columns).select_from(EngagementItem))).one()
        return {view: int(n or 0) for view, n in zip(VIEWS, row, strict=True)}

    async def state(self) -> tuple[int, int, str]:
        """What changes when the queue does: the number of items, the newest id, the latest change."""
        async with self._db.sessions() as session:
            count, newest, changed = (
                await session.execute(
                    select(func.count(), func.max(EngagementItem.id), func.max(EngagementItem.updated_at))
                )
            ).one()
        return int(count or 0), int(newest or 0), str(changed or "")
