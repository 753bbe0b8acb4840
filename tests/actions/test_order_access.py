"""Orders belong to their customer: second factor, its limit, re-checks before answering or cancelling.

Actions are called as the action server calls them, on the seeded database.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.orders import (
    ActionAnswerOrder,
    ActionAskOrderCheck,
    ActionConfirmCancel,
    ValidateOrderForm,
)
from actions.services import services
from bot.shop.order_access import MAX_FAILED_CHECKS

from .conftest import AMY, make_tracker, texts

DOMAIN = yaml.safe_load((Path(__file__).resolve().parents[2] / "domain.yml").read_text(encoding="utf-8"))
STRANGER = ("messenger", "2400000000000077")


def tracker_for(who: tuple[str, str], slots: dict | None = None, text: str = "", events: list | None = None):
    channel, sender = who
    return make_tracker(slots, text=text, channel=channel, sender=sender, events=events)


def form_turn(who: tuple[str, str], slots: dict, extracted: dict, text: str):
    """The tracker Rasa sends validate_order_form: the user's message, the form, the extracted slots."""
    user = {"event": "user", "text": text, "input_channel": who[0], "parse_data": {"intent": {}}}
    events = [
        user,
        {"event": "action", "name": "order_form"},
        *({"event": "slot", "name": name, "value": value} for name, value in extracted.items()),
    ]
    return tracker_for(who, {**slots, **extracted}, text=text, events=events)


async def run_form(tracker) -> tuple[list[str], dict]:
    dispatcher = CollectingDispatcher()
    events = await ValidateOrderForm().run(dispatcher, tracker, DOMAIN)
    return texts(dispatcher), {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def check(who, order_id: str, text: str, verified: list[str] | None = None) -> tuple[list[str], dict]:
    """The customer answers the second-factor question for `order_id`."""
    slots = {"order_id": order_id, "requested_slot": "order_check", "verified_orders": verified}
    return await run_form(form_turn(who, slots, {"order_check": text}, text))


async def answer(who, order_id: str, topic: str = "status", verified: list[str] | None = None):
    dispatcher = CollectingDispatcher()
    slots = {"order_id": order_id, "order_topic": topic, "verified_orders": verified}
    events = await ActionAnswerOrder().run(dispatcher, tracker_for(who, slots), DOMAIN)
    return texts(dispatcher), events


async def test_a_linked_customer_is_not_asked_for_a_second_factor(seeded_db):
    said, slots = await run_form(form_turn(AMY, {}, {"order_id": "104523"}, "where is 104523"))
    assert said == [] and slots == {"order_id": "104523", "requested_slot": None}  # the form is done
    said, _ = await answer(AMY, "104523")
    assert "Royal Mail" in said[0] and "RM482913457GB" in said[0]


@pytest.mark.parametrize(
    "who",
    [STRANGER, ("rest", "sim-amy"), ("instagram", "sim-amy")],
    ids=["stranger", "rest-with-amys-id", "amys-id-on-another-channel"],
)
async def test_anyone_else_is_asked_for_the_email_or_postcode(seeded_db, who):
    said, slots = await run_form(form_turn(who, {}, {"order_id": "104523"}, "where is 104523"))
    # Nothing said, no requested_slot: Rasa asks for the next empty required slot, order_check.
    assert said == [] and slots == {"order_id": "104523"}
    dispatcher = CollectingDispatcher()
    await ActionAskOrderCheck().run(dispatcher, tracker_for(who, {"order_id": "104523"}), DOMAIN)
    assert "email address or the delivery postcode on order #104523" in texts(dispatcher)[0]


async def test_the_right_postcode_verifies_the_order_for_the_conversation(seeded_db):
    said, slots = await check(STRANGER, "104523", "it's n1 9gu", verified=["112930"])
    assert said == []
    assert slots == {"order_check": None, "verified_orders": ["112930", "104523"], "requested_slot": None}
    said, _ = await answer(STRANGER, "104523", verified=slots["verified_orders"])
    assert "Royal Mail" in said[0] and "RM482913457GB" in said[0]
    said, _ = await check(STRANGER, "100871", "JORDAN.P@example.com")
    assert said == []


async def test_a_wrong_answer_and_a_missing_order_get_the_same_reply(seeded_db):
    wrong, slots = await check(STRANGER, "104523", "E1 6AN")
    assert slots == {"order_check": None}  # asked again
    missing, _ = await check(STRANGER, "199999", "E1 6AN")
    assert wrong == [missing[0].replace("199999", "104523")]
    assert "doesn't match order #104523" in wrong[0]
    for text in wrong + missing:
        assert "Royal Mail" not in text and "RM482913457GB" not in text and "Linen" not in text


async def test_not_an_attempt_and_a_new_number_are_not_counted(seeded_db):
    said, slots = await check(STRANGER, "104523", "I don't know")
    assert said == [] and slots == {"order_check": None}
    # A new number instead of the factor: validate_order_id took it (the entity), the factor is asked again.
    slots_in = {"order_id": "104523", "requested_slot": "order_check"}
    turn = form_turn(STRANGER, slots_in, {"order_id": "100871", "order_check": "100871"}, "100871")
    said, slots = await run_form(turn)
    assert said == [] and slots == {"order_id": "100871", "order_check": None}
    assert await services().orders.get(100871)  # (it exists; nothing above said so)


async def test_after_too_many_wrong_answers_even_the_right_one_is_refused(seeded_db):
    for attempt in range(MAX_FAILED_CHECKS):
        said, _ = await check(STRANGER, "104523", f"E1 {attempt}AN")
        assert "doesn't match" in said[0]
    said, slots = await check(STRANGER, "104523", "N1 9GU")
    assert "too many attempts" in said[0] and "human" in said[0]
    assert slots == {"order_id": None, "order_check": None, "requested_slot": None}  # the form ends
    said, events = await answer(STRANGER, None)  # the rule after the form: nothing more to say
    assert said == [] and events == []
    # The order's own customer is not locked out.
    said, _ = await answer(AMY, "104523")
    assert "RM482913457GB" in said[0]


async def test_an_order_number_set_around_the_form_is_not_answered(seeded_db):
    """Slots can be set by anything that writes to the tracker (or a number in any message)."""
    for order_id in ["104523", "199999"]:
        said, events = await answer(STRANGER, order_id, verified=["112930"])
        assert said == [
            f"Sorry, I can't share or change order #{order_id} in this conversation 🔒 Ask me about it "
            "again and I'll check it's yours, or say \"human\" for a person."
        ]
        assert SlotSet("order_id", None) in events


async def test_cancelling_checks_the_order_is_still_the_customers(seeded_db):
    orders = services().orders
    dispatcher = CollectingDispatcher()
    stranger = tracker_for(STRANGER, {"order_id": "100871", "cancel_pending": True})
    assert await ActionConfirmCancel().run(dispatcher, stranger, DOMAIN) == [SlotSet("cancel_pending", False)]
    assert "can't share or change order #100871" in texts(dispatcher)[0]
    assert (await orders.get(100871)).status == "processing"
    # Jordan confirmed cancelling their 100871, then the number changed to Sam's 101010 before "yes".
    dispatcher = CollectingDispatcher()
    jordan = tracker_for(("messenger", "sim-jordan"), {"order_id": "101010", "cancel_pending": True})
    await ActionConfirmCancel().run(dispatcher, jordan, DOMAIN)
    assert "can't share or change order #101010" in texts(dispatcher)[0]
    assert (await orders.get(101010)).status == "processing"
    # Verified in this conversation: cancelled.
    dispatcher = CollectingDispatcher()
    verified = tracker_for(STRANGER, {"order_id": "101010", "verified_orders": ["101010"]})
    await ActionConfirmCancel().run(dispatcher, verified, DOMAIN)
    assert "is cancelled" in texts(dispatcher)[0]
    assert (await orders.get(101010)).status == "cancelled"
