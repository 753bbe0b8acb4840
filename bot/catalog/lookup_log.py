"""Every customer photo looked up in the catalogue is remembered, for the photo hit rate in analytics.

Written by the photo action as it answers; read by bot/monitoring/analytics/photos.py.
"""

from __future__ import annotations

from bot.storage.db import Database
from bot.storage.models import PhotoLookup

PHOTO_OUTCOMES = ("confident", "several", "none", "bad_image")


async def record_photo_lookup(
    db: Database,
    conversation_id: str,
    channel: str,
    outcome: str,
    top_score: float | None = None,
    product_id: int | None = None,
) -> None:
    """Remember one customer photo looked up in the catalogue (for the hit rate)."""
    if outcome not in PHOTO_OUTCOMES:
        raise ValueError(f"unknown photo lookup outcome {outcome!r}")
    async with db.sessions() as session, session.begin():
        session.add(
            PhotoLookup(
                conversation_id=conversation_id[:128],
                channel=channel[:20],
                outcome=outcome,
                top_score=top_score,
                product_id=product_id,
            )
        )
