"""Store questions: addresses, opening hours, phone numbers."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ServiceAction
from actions.replies import say
from actions.services import services
from bot.shop.locations import stores_reply


class ActionStoreInfo(ServiceAction):
    """The store in the city the customer names, or all our stores."""

    def name(self) -> str:
        return "action_store_info"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        stores = await services().stores.all()
        say(dispatcher, stores_reply(stores, tracker.latest_message.get("text") or ""))
        return []
