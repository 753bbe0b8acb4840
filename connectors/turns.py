"""A platform message becomes a Rasa turn at most once, however often its inbox entry is handled.

Rasa keeps the platform's message id on the `user` event (`UserMessage.message_id`), and a message
recorded from outside the bot (an echo from Meta's inbox) carries it in the `bot` event's metadata
(`mid`). Under the conversation's lock (Rasa's lock store: Redis with several replicas) the tracker is
checked for that id first: if it is there, the turn already happened and was saved, and handling the
entry again does nothing. A turn cut short by a crash was never saved (Rasa saves the tracker at the
end of a turn), so it runs again; the replies it had already sent are not sent again
(`connectors.outbox`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, Event, UserUttered
from rasa.shared.data import TrainingType

from bot import timeline
from bot.conversations import metadata
from connectors.metrics import count

logger = logging.getLogger(__name__)


class AgentNotReady(RuntimeError):
    """No model is loaded yet: the entry is retried later, never dropped."""


def has_message(tracker: Any, mid: str | None) -> bool:
    """Whether the tracker already holds the platform message `mid` (a customer's, or one from the inbox)."""
    if not mid or tracker is None:
        return False
    for event in reversed(tracker.events):
        if isinstance(event, UserUttered) and event.message_id == mid:
            return True
        if isinstance(event, BotUttered) and metadata.mid(event.metadata) == mid:
            return True
    return False


def replayed(tracker: Any, mid: str | None, platform: str) -> bool:
    """Whether the tracker already holds `mid`: then handling it again does nothing (counted, logged)."""
    if not has_message(tracker, mid):
        return False
    count("turns_replayed", platform)
    logger.info("%s message %s already handled; not again", platform, mid)
    return True


def _ready(agent: Any) -> Any:
    if agent is None or agent.processor is None or not agent.is_ready():
        raise AgentNotReady("no model loaded yet")
    return agent.processor


async def handle_once(
    agent: Any, message: UserMessage, platform: str, before: Callable[[], Awaitable[None]] | None = None
) -> bool:
    """Run the Rasa turn for `message` unless its id is in the tracker already; True if it ran.

    `before` (the typing indicator) runs only when the turn does, inside the lock.
    """
    processor = _ready(agent)
    async with agent.lock_store.lock(message.sender_id):
        timeline.mark("locked")
        tracker = await _session_tracker(processor, message)
        timeline.mark("tracker")
        if replayed(tracker, message.message_id, platform):
            return False
        if before is not None:
            await before()
            timeline.mark("typing")
        await run_turn(processor, message, tracker)
        return True


async def log_once(agent: Any, message: UserMessage, platform: str) -> bool:
    """Record a customer message without answering it (standby), unless it is recorded already."""
    processor = _ready(agent)
    async with agent.lock_store.lock(message.sender_id):
        tracker = await _session_tracker(processor, message)
        if replayed(tracker, message.message_id, platform):
            return False
        await processor._handle_message_with_tracker(message, tracker)
        await processor.save_tracker(tracker)
        return True


async def _session_tracker(processor: Any, message: UserMessage) -> Any:
    """The conversation, read once per turn, with a new session started if the last one expired.

    Rasa's `handle_message` and `log_message` read the tracker themselves; reading it here for the
    replay check as well would load (and parse) the whole session twice per message.
    """
    return await processor.fetch_tracker_and_update_session(
        message.sender_id, message.output_channel, message.metadata
    )


async def run_turn(processor: Any, message: UserMessage, tracker: Any) -> None:
    """Rasa 3.6's `MessageProcessor.handle_message`, step for step, on the tracker already read."""
    await processor._handle_message_with_tracker(message, tracker)
    timeline.mark("parsed")
    if processor.model_metadata.training_type == TrainingType.NLU:  # an NLU-only model: nothing to do
        await processor.save_tracker(tracker)
        return
    await processor.run_action_extract_slots(message.output_channel, tracker)
    timeline.mark("slots")
    await processor._run_prediction_loop(message.output_channel, tracker)
    timeline.mark("predicted")
    await processor.run_anonymization_pipeline(tracker)
    await processor.save_tracker(tracker)
    timeline.mark("saved")


async def append_once(
    agent: Any,
    sender_id: str,
    mid: str | None,
    events: list[Event],
    platform: str,
    existing: bool = False,
) -> bool:
    """Add events to a conversation under its lock (as Rasa's API does), unless `mid` is there already.

    The one lock-update-save of the connectors. `existing`: the conversation must be there already
    (LookupError otherwise); it is then read and saved through the tracker store alone, which works
    with or without a loaded model (the desk's agent replies). Otherwise a new conversation starts its
    session first, which needs the model. Saving also streams the events to the event broker.
    """
    processor = None if existing else _ready(agent)
    async with agent.lock_store.lock(sender_id):
        if processor is None:
            tracker = await agent.tracker_store.retrieve(sender_id)
            if tracker is None:
                raise LookupError(f"conversation {sender_id} vanished before recording")
        else:
            tracker = await processor.fetch_tracker_with_initial_session(sender_id)
        if replayed(tracker, mid, platform):
            return False
        for event in events:
            tracker.update(event)
        if processor is None:
            await agent.tracker_store.save(tracker)
        else:
            await processor.save_tracker(tracker)
        return True
