"""Order questions: asking for the order number, answering by topic, cancelling with confirmation."""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import SERVICE_ERRORS, ServiceAction
from actions.replies import say
from actions.services import services
from bot.orders import (
    cancel_done_reply,
    cancel_reply,
    parse_order_id,
    refund_reply,
    return_reply,
    status_reply,
)

logger = logging.getLogger(__name__)

ANSWERS = {"status": status_reply, "cancel": cancel_reply, "return": return_reply, "refund": refund_reply}


class ActionAskOrderId(Action):
    """The order form's question (an action rather than a response, so its text lives in replies.yml)."""

    def name(self) -> str:
        return "action_ask_order_id"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        say(dispatcher, "ask_order_id")
        return []


class ValidateOrderForm(FormValidationAction):
    """Accept an order number only if it looks right and the order exists."""

    def name(self) -> str:
        return "validate_order_form"

    async def validate_order_id(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Find the digits in whatever the customer wrote and look the order up."""
        order_id = parse_order_id(slot_value)
        if order_id is None:
            say(dispatcher, "order_id_invalid")
            return {"order_id": None}
        try:
            order = await services().orders.get(order_id)
        except SERVICE_ERRORS:
            logger.exception("order lookup failed for conversation %s", tracker.sender_id)
            say(dispatcher, "lookup_failed")
            return {"order_id": None}
        if order is None:
            say(dispatcher, "order_not_found", order_id=str(order_id))
            return {"order_id": None}
        return {"order_id": str(order_id)}


class ActionAnswerOrder(ServiceAction):
    """Answer what the customer asked about their order: status, cancel, return or refund."""

    def name(self) -> str:
        return "action_answer_order"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        order_id = parse_order_id(tracker.get_slot("order_id"))
        order = await services().orders.get(order_id) if order_id else None
        if order is None:
            say(dispatcher, "order_not_found", order_id=str(order_id or "?"))
            return [SlotSet("order_id", None)]
        topic = tracker.get_slot("order_topic") or "status"
        reply = ANSWERS.get(topic, status_reply)(order)
        say(dispatcher, reply)
        return [SlotSet("cancel_pending", reply.key == "cancel_confirm")]


class ActionConfirmCancel(ServiceAction):
    """The customer said yes: cancel, unless the order shipped in the meantime."""

    def name(self) -> str:
        return "action_confirm_cancel"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        order_id = parse_order_id(tracker.get_slot("order_id"))
        orders = services().orders
        cancelled = await orders.cancel(order_id) if order_id else None
        if cancelled:
            say(dispatcher, cancel_done_reply(cancelled))
            return [SlotSet("cancel_pending", False)]
        # Not cancelled by us: it shipped or was cancelled in the meantime; say what it is now.
        order = await orders.get(order_id) if order_id else None
        if order is None:
            say(dispatcher, "order_not_found", order_id=str(order_id or "?"))
        else:
            say(dispatcher, cancel_reply(order))
        return [SlotSet("cancel_pending", False)]


class ActionKeepOrder(Action):
    """The customer said no: nothing changes."""

    def name(self) -> str:
        return "action_keep_order"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        say(dispatcher, "cancel_kept", order_id=str(tracker.get_slot("order_id") or ""))
        return [SlotSet("cancel_pending", False)]
