"""Order questions: asking for the order number, answering by topic, cancelling with confirmation.

An order is shown or changed only for its customer (bot/shop/order_access.py): a conversation from a platform
identity linked to the order's customer, or one that gave the order's e-mail address or delivery postcode
(the `order_check` slot of the order form). Verified order numbers are remembered in `verified_orders`.
"""

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
from bot.shop.order_access import CheckOutcome, Identity, OrderAccess, find_factor
from bot.shop.orders import (
    cancel_done_reply,
    cancel_reply,
    parse_order_id,
    refund_reply,
    return_reply,
    status_reply,
)

logger = logging.getLogger(__name__)

ANSWERS = {"status": status_reply, "cancel": cancel_reply, "return": return_reply, "refund": refund_reply}
ORDER_CHECK = "order_check"
VERIFIED_ORDERS = "verified_orders"


def identity(tracker: Tracker) -> Identity:
    """Who is writing: the conversation's input channel and sender id (never what they say)."""
    return Identity(tracker.get_latest_input_channel(), tracker.sender_id)


def verified_orders(tracker: Tracker) -> list[str]:
    """Order numbers this conversation proved with a second factor."""
    value = tracker.get_slot(VERIFIED_ORDERS)
    return [str(v) for v in value] if isinstance(value, list) else []


def order_access() -> OrderAccess:
    """The access rules over the action server's database."""
    return OrderAccess(services().database)


async def may_see(tracker: Tracker, order_id: int) -> bool:
    """Whether this conversation may see and change the order (linked, or verified here)."""
    return await order_access().may_see(identity(tracker), order_id, verified_orders(tracker))


class ActionAskOrderCheck(Action):
    """The order form's second question: the e-mail address or delivery postcode on the order.

    An action rather than the form's own `utter_ask_order_check`: the order number in it is the one
    `parse_order_id` reads from the slot (its digits), never the slot's raw text.
    """

    def name(self) -> str:
        return "action_ask_order_check"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        say(dispatcher, "ask_order_check", order_id=str(parse_order_id(tracker.get_slot("order_id")) or ""))
        return []


class ValidateOrderForm(FormValidationAction):
    """Accept an order number if it looks right; ask for its second factor unless the order is the customer's.

    Whether the number exists is not checked here: a stranger must not learn it. It is asked for the
    e-mail or postcode like any number that is not theirs, and a wrong answer gets the same reply.
    """

    def name(self) -> str:
        return "validate_order_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        """`order_check` only while the order is neither linked to this customer nor verified here."""
        order_id = parse_order_id(tracker.get_slot("order_id"))
        if order_id is None:
            return domain_slots
        try:
            allowed = await may_see(tracker, order_id)
        except SERVICE_ERRORS:
            logger.exception("order access check failed for conversation %s", tracker.sender_id)
            allowed = False  # ask for the second factor; its check reports the outage
        return [slot for slot in domain_slots if slot != ORDER_CHECK] if allowed else domain_slots

    async def validate_order_id(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Find the digits in whatever the customer wrote."""
        order_id = parse_order_id(slot_value)
        if order_id is None:
            say(dispatcher, "order_id_invalid")
            return {"order_id": None}
        return {"order_id": str(order_id)}

    async def validate_order_check(
        self, slot_value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """Compare the e-mail or postcode with the order's; a match verifies it for this conversation."""
        order_id = parse_order_id(tracker.get_slot("order_id"))
        if order_id is None:
            return {ORDER_CHECK: None}
        text = str(slot_value or "")
        if parse_order_id(text) is not None and find_factor(text) is None:
            return {ORDER_CHECK: None}  # another order number (validate_order_id took it): ask again
        try:
            outcome = await order_access().check(identity(tracker), order_id, text)
        except SERVICE_ERRORS:
            logger.exception("order check failed for conversation %s", tracker.sender_id)
            say(dispatcher, "lookup_failed")
            return {"order_id": None, ORDER_CHECK: None, "requested_slot": None}
        if outcome is CheckOutcome.VERIFIED:
            return {ORDER_CHECK: None, VERIFIED_ORDERS: [*verified_orders(tracker), str(order_id)]}
        if outcome is CheckOutcome.LOCKED:
            say(dispatcher, "order_check_locked")
            return {"order_id": None, ORDER_CHECK: None, "requested_slot": None}
        if outcome is CheckOutcome.MISMATCH:
            say(dispatcher, "order_check_failed", order_id=str(order_id))
        return {ORDER_CHECK: None}  # asked again


class ActionAnswerOrder(ServiceAction):
    """Answer what the customer asked about their order: status, cancel, return or refund."""

    def name(self) -> str:
        return "action_answer_order"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        clear = [SlotSet(ORDER_CHECK, None)] if tracker.get_slot(ORDER_CHECK) is not None else []
        order_id = parse_order_id(tracker.get_slot("order_id"))
        if order_id is None:
            return clear  # the form ended without a number and has said why (e.g. too many attempts)
        if not await may_see(tracker, order_id):
            # Only reachable if the slot was set around the form; the same words whether it exists or not.
            say(dispatcher, "order_not_verified", order_id=str(order_id))
            return [SlotSet("order_id", None), SlotSet("cancel_pending", False), *clear]
        order = await services().orders.get(order_id)
        if order is None:
            say(dispatcher, "order_not_found", order_id=str(order_id))
            return [SlotSet("order_id", None), *clear]
        topic = tracker.get_slot("order_topic") or "status"
        reply = ANSWERS.get(topic, status_reply)(order)
        say(dispatcher, reply)
        return [SlotSet("cancel_pending", reply.key == "cancel_confirm"), *clear]


class ActionConfirmCancel(ServiceAction):
    """The customer said yes: cancel, unless the order shipped in the meantime.

    Ownership is checked again: the order number slot can change between the question and the "yes"
    (a number in any message fills it), and anything that writes to the tracker can set it.
    """

    def name(self) -> str:
        return "action_confirm_cancel"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        order_id = parse_order_id(tracker.get_slot("order_id"))
        if order_id is None:
            say(dispatcher, "order_not_found", order_id="?")
            return [SlotSet("cancel_pending", False)]
        if not await may_see(tracker, order_id):
            logger.warning("refused to cancel order %s for conversation %s", order_id, tracker.sender_id)
            say(dispatcher, "order_not_verified", order_id=str(order_id))
            return [SlotSet("cancel_pending", False)]
        orders = services().orders
        cancelled = await orders.cancel(order_id)
        if cancelled:
            say(dispatcher, cancel_done_reply(cancelled))
            return [SlotSet("cancel_pending", False)]
        # Not cancelled by us: it shipped or was cancelled in the meantime; say what it is now.
        order = await orders.get(order_id)
        if order is None:
            say(dispatcher, "order_not_found", order_id=str(order_id))
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
