"""The escalation slots of every message, computed inside the Rasa server rather than over HTTP.

domain.yml maps five slots (sentiment_trend, escalate, escalation_reason, abusive, has_photo) with a
custom mapping whose action is `action_update_sentiment`, so Rasa's `action_extract_slots` calls the
action server on every customer message, sending the whole conversation and the whole domain as
JSON and validating the answer against a JSON schema: the largest cost of a turn after
understanding, and one that grows with the conversation (bench/PROFILE.md). The decision is a pure
function (`bot.handoff.escalation.escalation_slots`) that runs as well here, on the events Rasa
already holds; the action server keeps `ActionUpdateSentiment` for a plain `rasa run`, and both call
the same function, so the slots cannot differ.

`install()` (called by `python -m bot.rasa_server` before Rasa starts) makes Rasa 3.6's
`ActionExtractSlots._run_custom_action`, the one place a custom mapping's action is run, answer the
actions named in LOCAL from here and send every other one to the action server as before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.config_files import ConfigFileError, WatchedFile
from bot.conversations.events import HANDOFF_ACTION, RESTART_EVENTS
from bot.handoff.escalation import EscalationConfig, escalation_slots
from bot.settings import fail_clearly

logger = logging.getLogger(__name__)

_escalation: WatchedFile[EscalationConfig] | None = None


def escalation_config() -> EscalationConfig:
    """escalation.yml as editors left it (re-read when it changes, like the action server's copy)."""
    global _escalation
    if _escalation is None:
        _escalation = EscalationConfig.watch()
    return _escalation.value


def customer_events(tracker: Any) -> list[dict[str, Any]]:
    """The `user` events since the last session start, restart, resume or handoff, as event dicts.

    Walks back from the newest event and stops at that boundary, so the cost is the turns since then,
    not the whole conversation; the boundary event itself is kept (escalation restarts there too).
    """
    from rasa.shared.core.events import ActionExecuted, UserUttered

    picked: list[dict[str, Any]] = []
    for event in reversed(tracker.events):
        if event.type_name in RESTART_EVENTS or (
            isinstance(event, ActionExecuted) and event.action_name == HANDOFF_ACTION
        ):
            picked.append(event.as_dict())
            break
        if isinstance(event, UserUttered):
            picked.append(event.as_dict())
    picked.reverse()
    return picked


def update_sentiment(tracker: Any) -> list[Any]:
    """`action_update_sentiment`: the escalation slots for the latest message, those that change."""
    from rasa.shared.core.events import SlotSet

    latest = tracker.latest_message
    slots = escalation_slots(
        customer_events(tracker),
        escalation_config(),
        tracker.sender_id,
        latest.metadata if latest is not None else None,
        tracker.get_slot("email"),
    )
    # Only the slots that change: a SlotSet of the value a slot already holds changes nothing but the
    # length of the conversation (five events a message otherwise, read back on every later turn).
    return [SlotSet(name, value) for name, value in slots.items() if tracker.get_slot(name) != value]


LOCAL: dict[str, Callable[[Any], list[Any]]] = {"action_update_sentiment": update_sentiment}


def install() -> None:
    """Run the LOCAL slot-mapping actions in this process (idempotent)."""
    from rasa.core.actions.action import ActionExtractSlots

    remote = ActionExtractSlots._run_custom_action
    if getattr(remote, "runs_local_actions", False):
        return
    try:  # read now: a broken escalation.yml stops start-up, as it stops the action server's
        escalation_config()
    except ConfigFileError as err:
        raise fail_clearly(err, "Rasa server") from None

    async def run_custom_action(
        self: Any, custom_action: str, output_channel: Any, nlg: Any, tracker: Any, domain: Any
    ) -> list[Any]:
        local = LOCAL.get(custom_action)
        if local is None:
            return await remote(self, custom_action, output_channel, nlg, tracker, domain)
        return local(tracker)

    run_custom_action.runs_local_actions = True  # type: ignore[attr-defined]
    ActionExtractSlots._run_custom_action = run_custom_action
    logger.info("slot-mapping actions run in the Rasa server: %s", ", ".join(sorted(LOCAL)))
