"""Each custom action against the seeded database, called the way the action server calls it."""

from __future__ import annotations

import pytest
from rasa_sdk.events import SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

from actions.catalog import ActionCheckAvailability
from actions.fallback import ActionFallback, consecutive_fallbacks
from actions.locations import ActionStoreInfo
from actions.orders import ActionAnswerOrder, ActionConfirmCancel, ActionKeepOrder, ValidateOrderForm
from actions.services import services

from .conftest import AMY, make_tracker, rendered, texts


async def run(action, tracker):
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return texts(dispatcher), events


async def validate(value):
    dispatcher = CollectingDispatcher()
    result = await ValidateOrderForm().validate_order_id(value, dispatcher, make_tracker(), {})
    return result, texts(dispatcher)


async def test_order_number_validation(seeded_db):
    assert await validate("it's #104523 thanks") == ({"order_id": "104523"}, [])
    result, said = await validate("10452")
    assert result == {"order_id": None}
    assert "6 digits" in said[0]
    # A number that does not exist is taken like any other: whether it exists is told only to its owner,
    # after the second factor (tests/actions/test_order_access.py).
    assert await validate("199999") == ({"order_id": "199999"}, [])


@pytest.mark.parametrize(
    ("topic", "order_id", "expected"),
    [
        ("status", "104523", "shipped on"),
        ("status", "103344", "out for delivery with DPD"),
        ("return", "112930", "return items from order #112930"),
        ("return", "108812", "past our 30-day return window"),
        ("refund", "110245", "refund of £58.00"),
        ("refund", "109901", "received your return"),
        ("cancel", "104523", "already shipped"),
    ],
)
async def test_answer_by_topic(seeded_db, topic, order_id, expected):
    """For an order this conversation verified with its e-mail or postcode."""
    slots = {"order_id": order_id, "order_topic": topic, "verified_orders": [order_id]}
    said, events = await run(ActionAnswerOrder(), make_tracker(slots))
    assert expected in said[0]
    assert events == [SlotSet("cancel_pending", False)]


async def test_cancel_asks_for_confirmation_then_cancels(seeded_db):
    # Jordan on Messenger: the seeded link makes order 100871 theirs without a second factor.
    tracker = make_tracker(
        {"order_id": "100871", "order_topic": "cancel"}, channel="messenger", sender="sim-jordan"
    )
    said, events = await run(ActionAnswerOrder(), tracker)
    assert "cancel order #100871" in said[0]
    assert events == [SlotSet("cancel_pending", True)]

    said, events = await run(ActionConfirmCancel(), tracker)
    assert "is cancelled" in said[0] and "£49.00" in said[0]
    assert events == [SlotSet("cancel_pending", False)]
    assert (await services().orders.get(100871)).status == "cancelled"

    said, _ = await run(ActionConfirmCancel(), tracker)  # a second "yes" cancels nothing more
    assert "was cancelled on" in said[0]


async def test_keeping_the_order(seeded_db):
    said, events = await run(ActionKeepOrder(), make_tracker({"order_id": "100871"}))
    assert "stays as it is" in said[0]
    assert events == [SlotSet("cancel_pending", False)]
    assert (await services().orders.get(100871)).status == "processing"


def entity(name: str, value: str) -> dict:
    return {"entity": name, "value": value}


async def test_availability_from_the_latest_message(seeded_db):
    tracker = make_tracker(
        text="do u have the linen shirt in navy M",
        intent="product_availability",
        entities=[entity("product", "linen shirt"), entity("color", "navy"), entity("size", "M")],
    )
    said, _ = await run(ActionCheckAvailability(), tracker)
    assert "sold out" in said[0] and "navy" in said[0]


async def test_availability_follow_up_uses_the_previous_product(seeded_db):
    tracker = make_tracker(
        slots={"product": "linen shirt", "color": "navy", "size": "L"},
        text="and in L?",
        intent="product_availability",
        entities=[entity("size", "L")],
    )
    said, _ = await run(ActionCheckAvailability(), tracker)
    assert "Linen Shirt in navy, size L is" in said[0] or "Linen Shirt in navy, size L" in said[0]


async def test_availability_asks_which_product(seeded_db):
    said, _ = await run(ActionCheckAvailability(), make_tracker(intent="product_availability"))
    assert "Which item" in said[0]
    boots = make_tracker(intent="product_availability", entities=[entity("product", "boots")])
    said, _ = await run(ActionCheckAvailability(), boots)
    assert "Chelsea Boots" in said[0] and "Ankle Boots" in said[0]


async def test_store_info(seeded_db):
    said, _ = await run(ActionStoreInfo(), make_tracker(text="manchester store hours?", intent="store_info"))
    assert "Oldham Street" in said[0] and "Soho" not in said[0]
    said, _ = await run(ActionStoreInfo(), make_tracker(text="where are your shops", intent="store_info"))
    assert all(city in said[0] for city in ("London", "Manchester", "Brighton", "Edinburgh"))


def user(intent: str) -> dict:
    return {"event": "user", "parse_data": {"intent": {"name": intent}}}


def test_consecutive_fallbacks_are_counted_until_an_understood_message():
    assert consecutive_fallbacks([]) == 0
    events = [
        user("greet"),
        {"event": "bot"},
        user("nlu_fallback"),
        {"event": "rewind"},
        user("nlu_fallback"),
    ]
    assert consecutive_fallbacks(events) == 2
    assert consecutive_fallbacks([*events, user("thank")]) == 0


async def test_fallback_rephrases_then_offers_a_human():
    said, events = await run(ActionFallback(), make_tracker(events=[user("nlu_fallback")]))
    assert events == [UserUtteranceReverted()]
    assert "?" in said[0] and "person" not in said[0]
    dispatcher = CollectingDispatcher()
    await ActionFallback().run(dispatcher, make_tracker(events=[user("nlu_fallback")] * 2), {})
    assert rendered(dispatcher)[0]["buttons"][0]["payload"] == "/request_human"


async def test_database_outage_gets_a_polite_answer(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://postgres@127.0.0.1:1/nowhere")
    services.cache_clear()
    try:
        said, events = await run(
            ActionAnswerOrder(), make_tracker({"order_id": "104523"}, channel=AMY[0], sender=AMY[1])
        )
        assert "couldn't look that up" in said[0]
        assert events == []
        dispatcher = CollectingDispatcher()
        result = await ValidateOrderForm().validate_order_check(
            "N1 9GU", dispatcher, make_tracker({"order_id": "104523"}), {}
        )
        assert result == {"order_id": None, "order_check": None, "requested_slot": None}
        assert "couldn't look that up" in texts(dispatcher)[0]
    finally:
        services.cache_clear()
