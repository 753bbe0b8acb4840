"""Stock questions: "do you have the linen shirt in navy?", "and in M?"."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ServiceAction
from actions.replies import say
from actions.services import services
from bot.catalog.availability import availability_reply


def latest_entity(tracker: Tracker, entity: str) -> str | None:
    """The value of `entity` in the customer's latest message, if it has one."""
    return next(tracker.get_latest_entity_values(entity), None)


class ActionCheckAvailability(ServiceAction):
    """Answer whether a product is in stock, in the colour and size asked for."""

    def name(self) -> str:
        return "action_check_availability"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        product_name = latest_entity(tracker, "product")
        color, size = latest_entity(tracker, "color"), latest_entity(tracker, "size")
        if product_name is None:
            # A follow-up ("and in M?") is about the product discussed before, in the colour and
            # size asked before unless this message names new ones.
            product_name = tracker.get_slot("product")
            color = color or tracker.get_slot("color")
            size = size or tracker.get_slot("size")
        if not product_name:
            say(dispatcher, "ask_product")
            return []
        matches = await services().catalog.find(product_name)
        if not matches:
            say(dispatcher, "product_not_found", product=product_name)
        elif len(matches) > 1:
            say(dispatcher, "product_choices", titles=", ".join(p.title for p in matches))
        else:
            say(dispatcher, availability_reply(matches[0], color, size))
        return []
