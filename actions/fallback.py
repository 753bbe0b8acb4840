"""What to do when the bot does not understand: ask to rephrase, and offer a human the second time."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.replies import say

FALLBACK_INTENT = "nlu_fallback"
OFFER_HUMAN_AFTER = 2  # consecutive messages the bot did not understand


def consecutive_fallbacks(events: list[dict[str, Any]]) -> int:
    """How many of the customer's latest messages in a row were not understood."""
    count = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        intent = (event.get("parse_data") or {}).get("intent") or {}
        if intent.get("name") != FALLBACK_INTENT:
            break
        count += 1
    return count


class ActionFallback(Action):
    """NLU and dialogue fallback (configured as both in config.yml).

    The message that was not understood is reverted, as Rasa's own fallback does: the conversation
    stays where it was (an open form keeps waiting) and the policies cannot loop on the same message.
    Reverted messages stay in the event history, which is where consecutive fallbacks are counted.
    """

    def name(self) -> str:
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if consecutive_fallbacks(tracker.events) >= OFFER_HUMAN_AFTER:
            say(dispatcher, "offer_human")
        else:
            say(dispatcher, "ask_rephrase")
        return [UserUtteranceReverted()]
