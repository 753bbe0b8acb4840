"""Customer data belongs to its customer: orders across two customers, end to end on Messenger (runtime B).

A real stack (Rasa, action server, simulator; the embedded SQLite default) on its own ports. Customers
write through the simulator, which signs webhooks as Meta does; what the bot answered is read back from
the fake Send API. Amy is linked to her Messenger id (seeded, as on the simulator page); the other
customers are linked to fresh ids here, as `bot customers link` does.

Before orders were tied to customers, every test here leaked: any number got items, carrier and
tracking, and any order still being packed could be cancelled.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.devtools.devstack import Stack
from bot.shop.order_access import MAX_FAILED_CHECKS
from bot.storage.db import create_sync_engine
from bot.storage.models import Order

from ..e2e.conftest import sim, stack_ports, start
from ..e2e.customers import LEO, SAM, database_url, link

pytestmark = pytest.mark.e2e

AMY = "sim-amy"  # seeded Messenger link: Amy Clarke (104523 shipped with Royal Mail, 112930 delivered)
AMY_TRACKING = ("Royal Mail", "RM482913457GB")
AMY_ITEMS = ("Linen", "Cushion")  # words of the items of 104523 (TOP-001, HOM-004)


@pytest.fixture(scope="module")
def order_stack(tmp_path_factory) -> Iterator[Stack]:
    """`make run`'s embedded configuration with the simulator, on ports no other suite uses."""
    var_dir = tmp_path_factory.mktemp("order-access")
    stack = start({"VAR_DIR": str(var_dir), "DATABASE_URL": None, "REDIS_URL": None}, stack_ports(5605))
    yield stack
    stack.stop()


def order_status(stack: Stack, order_id: int) -> str:
    engine = create_sync_engine(database_url(stack))
    try:
        with Session(engine) as session:
            return session.scalar(select(Order.status).where(Order.id == order_id))
    finally:
        engine.dispose()


def new_user() -> str:
    return str(2500000000000000 + uuid.uuid4().int % 10**12)


def sent_texts(stack: Stack, user: str) -> list[str]:
    """The texts of every message the bot sent this Messenger user (not sender actions)."""
    sends = sim(stack, "GET", "/_sim/sends", params={"platform": "messenger", "recipient": user})
    return [s["body"]["message"].get("text", "") for s in sends if "message" in s["body"] and s["accepted"]]


def says(stack: Stack, user: str, text: str, replies: int) -> list[str]:
    """The customer writes; the bot's `replies` new messages, after making sure no more arrive."""
    before = len(sent_texts(stack, user))
    answer = sim(
        stack, "POST", "/_sim/customer_message", json={"platform": "messenger", "user_id": user, "text": text}
    )
    assert answer["status"] == 200, answer
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if len(sent_texts(stack, user)) >= before + replies:
            time.sleep(1.5)  # anything beyond `replies` would arrive now: the count is checked exactly
            new = sent_texts(stack, user)[before:]
            assert len(new) == replies, new
            return new
        time.sleep(0.3)
    raise AssertionError(
        f"{user}: expected {replies} replies to {text!r}, got {sent_texts(stack, user)[before:]}"
    )


def leaks(texts: list[str]) -> list[str]:
    """Texts that give away Amy's order: carrier, tracking number, items."""
    return [t for t in texts if any(word in t for word in (*AMY_TRACKING, *AMY_ITEMS))]


def test_the_linked_customer_gets_their_carrier_and_tracking_at_once(order_stack):
    [reply] = says(order_stack, AMY, "hi where is my order #104523?", 1)
    assert all(word in reply for word in AMY_TRACKING), reply


def test_another_customer_learns_nothing_and_cannot_tell_it_from_a_missing_number(order_stack):
    sam = link(order_stack, "messenger", new_user(), SAM)  # a real customer, not Amy
    probe = link(order_stack, "messenger", new_user(), SAM)
    [asked] = says(order_stack, sam, "where is my order 104523?", 1)
    assert leaks([asked]) == [] and "postcode" in asked
    [asked_missing] = says(order_stack, probe, "where is my order 199999?", 1)
    assert asked == asked_missing.replace("199999", "104523")
    wrong = says(order_stack, sam, "my postcode is BS1 4DJ", 2)  # Sam's own postcode, not the order's
    wrong_missing = says(order_stack, probe, "my postcode is BS1 4DJ", 2)
    assert leaks(wrong) == []
    assert wrong == [text.replace("199999", "104523") for text in wrong_missing]


def test_another_customer_cannot_cancel_an_order(order_stack):
    sam = link(order_stack, "messenger", new_user(), SAM)
    assert order_status(order_stack, 100871) == "processing"  # Jordan's, still being packed
    [asked] = says(order_stack, sam, "please cancel order 100871", 1)
    assert "Oversized Hoodie" not in asked and "£49.00" not in asked
    [after_yes] = says(order_stack, sam, "yes", 1)
    assert "cancelled" not in after_yes
    # Sam's own order first (the bot asks to confirm), then "yes" with Jordan's number in it.
    [confirm] = says(order_stack, sam, "cancel my order 101010", 1)
    assert "cancel order #101010" in confirm
    [swapped] = says(order_stack, sam, "yes 100871", 1)
    assert "is cancelled" not in swapped
    assert order_status(order_stack, 100871) == "processing"


def test_another_customer_with_the_orders_postcode_gets_it(order_stack):
    leo = link(order_stack, "messenger", new_user(), LEO)
    says(order_stack, leo, "where is my order 104523?", 1)
    [reply] = says(order_stack, leo, "n1 9gu", 1)
    assert all(word in reply for word in AMY_TRACKING), reply
    # Verified for the rest of the conversation: a return question is answered without asking again.
    [reply] = says(order_stack, leo, "can i return order 104523?", 1)
    assert "hasn't been delivered yet" in reply


def test_after_too_many_wrong_postcodes_the_right_one_is_refused(order_stack):
    stranger = new_user()  # not linked to anyone
    says(order_stack, stranger, "where is my order 103344?", 1)  # Mia's, out for delivery with DPD
    for attempt in range(MAX_FAILED_CHECKS):
        assert "doesn't match" in says(order_stack, stranger, f"E1 {attempt}AN", 2)[0]
    [refused] = says(order_stack, stranger, "EH3 9DR", 1)  # the right postcode
    assert "too many attempts" in refused and "DPD" not in refused and "15501234567890" not in refused
    # Mia herself, on her linked Messenger id, still gets her order.
    [reply] = says(order_stack, "sim-mia", "where is order 103344", 1)
    assert "DPD" in reply and "15501234567890" in reply
