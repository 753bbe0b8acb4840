"""Customer photos remembered: each catalogue lookup (the photo hit rate) and each logo seen in one.

Logo sightings are shown in the desk beside the photo and counted as "photos showing our logo".

Written by the photo action as it answers; read by bot/monitoring/analytics/photos.py and the desk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from bot.storage.db import Database
from bot.storage.models import LogoSighting, PhotoLookup

if TYPE_CHECKING:  # not at run time: readers of this module need no OpenCV
    from bot.catalog.logos import Sighting

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


async def record_logo_sightings(
    db: Database,
    conversation_id: str,
    channel: str,
    photo_url: str,
    sightings: Sequence[Sighting],
    sentiment: tuple[str | None, float | None] = (None, None),
) -> None:
    """Remember the logos seen in one customer photo, with the sentiment of the message that carried it."""
    if not sightings:
        return
    label, score = sentiment
    async with db.sessions() as session, session.begin():
        for sighting in sightings:
            session.add(
                LogoSighting(
                    conversation_id=conversation_id[:128],
                    channel=channel[:20],
                    photo_url=photo_url,
                    logo=sighting.name[:100],
                    ours=sighting.ours,
                    inliers=sighting.inliers,
                    sentiment_label=label,
                    sentiment_score=score,
                )
            )


async def logos_by_photo(db: Database, conversation_id: str) -> dict[str, list[tuple[str, bool]]]:
    """Photo URL -> the logos seen in it, as (name, ours), for a conversation's transcript in the desk."""
    async with db.sessions() as session:
        rows = await session.execute(
            select(LogoSighting.photo_url, LogoSighting.logo, LogoSighting.ours)
            .where(LogoSighting.conversation_id == conversation_id)
            .order_by(LogoSighting.id)
        )
        seen: dict[str, list[tuple[str, bool]]] = {}
        for url, logo, ours in rows.all():
            if (logo, ours) not in seen.setdefault(url, []):
                seen[url].append((logo, ours))
        return seen
