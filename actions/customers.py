"""The customer's name for a new ticket: X's from the message, Meta's from the profile cache.

Runs once per handoff, never per message. Nothing here waits for a platform: X's webhook already
named the sender (stored as the profile), and a Meta profile not cached yet is fetched in the
background (the desk shows it once it is in); the ticket then starts with what the message said.
"""

from __future__ import annotations

import asyncio
import logging

from rasa_sdk import Tracker

from actions.services import services
from bot.conversations import metadata

logger = logging.getLogger(__name__)
_fetching: set[asyncio.Task[None]] = set()  # kept until done (the event loop holds tasks weakly)


async def customer_name(tracker: Tracker) -> str | None:
    """The best name for the ticket; a failing profile store or lookup leaves the message's own."""
    sent = tracker.latest_message.get("metadata")
    channel = tracker.get_latest_input_channel() or "unknown"
    named = metadata.sender_name(sent)
    profiles = services().profiles
    try:
        if named or metadata.screen_name(sent):  # X: the webhook's user object, no call needed
            await profiles.remember(
                channel, tracker.sender_id, named, metadata.screen_name(sent), metadata.sender_picture(sent)
            )
            return named
        cached = (await profiles.cached([(channel, tracker.sender_id)])).get((channel, tracker.sender_id))
    except Exception:  # the name is an extra: the ticket is opened all the same
        logger.exception("customer profile of %s could not be read", tracker.sender_id)
        return named
    if cached is None or cached.fetched_at is None:
        task = asyncio.create_task(_fetch(channel, tracker.sender_id))
        _fetching.add(task)
        task.add_done_callback(_fetching.discard)
    return cached.name if cached is not None else named


async def _fetch(channel: str, user_id: str) -> None:
    try:
        await services().profiles.many([(channel, user_id)])
    except Exception:  # in the background: logged, and the desk asks again when it shows the ticket
        logger.exception("customer profile of %s could not be fetched", user_id)
