"""End to end over the REST channel: real Rasa server (runtime A) and action server (runtime B)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import psycopg
import pytest

from bot.devtools.devstack import Stack


class Customer:
    """One customer talking to the bot through the REST channel."""

    def __init__(self, stack: Stack) -> None:
        self.url = f"{stack.rasa_url}/webhooks/rest/webhook"
        self.stack = stack
        self.sender = f"e2e-{uuid.uuid4().hex[:12]}"
        self.last: list[dict] = []

    def says(self, text: str) -> str:
        """Send a message; all reply texts joined by newlines."""
        self.last = self.stack.say(self.sender, text)
        return "\n".join(m.get("text", "") for m in self.last)

    def buttons(self) -> list[str]:
        return [b["payload"] for m in self.last for b in m.get("buttons", [])]

    def tracker(self) -> dict:
        return self.stack.tracker(self.sender)


def test_greeting_and_order_status(stack):
    customer = Customer(stack)
    assert "help" in customer.says("hey there")
    # A REST conversation is never linked to a customer: the order's postcode opens it.
    asked = customer.says("where's my order #104523??")
    assert "postcode" in asked and "Royal Mail" not in asked
    reply = customer.says("N1 9GU")
    assert "104523" in reply and "Royal Mail" in reply and "track.loomandco.example" in reply


def test_order_number_asked_for_then_validated(stack):
    customer = Customer(stack)
    assert "order number" in customer.says("wheres my parcel")
    assert "6 digits" in customer.says("10452")
    assert "postcode" in customer.says("oh sorry it's 103344")
    reply = customer.says("it's mia.rossi@example.com")  # the order's e-mail works as well as its postcode
    assert "out for delivery" in reply and "DPD" in reply


def test_changing_the_subject_drops_the_order_question(stack):
    customer = Customer(stack)
    assert "order number" in customer.says("I want a refund")
    reply = customer.says("actually do you have the chelsea boots in 39")
    assert "Chelsea Boots" in reply
    assert "order number" not in reply


def test_stock_questions_with_follow_up(stack):
    customer = Customer(stack)
    reply = customer.says("do you have the linen shirt in navy size M?")
    assert "sold out" in reply and "navy" in reply
    reply = customer.says("what about in L?")
    assert "Linen Shirt in navy, size L" in reply and "sold out" not in reply


def test_store_hours(stack):
    assert "Oldham Street" in Customer(stack).says("what time does the manchester store open?")


def test_repeated_misunderstanding_goes_to_a_person(stack):
    """Two messages in a row below the NLU threshold: rephrase, then a person takes over.

    "/nlu_fallback" is what the FallbackClassifier turns a low-confidence message into; sending it
    directly keeps this test about the dialogue, independent of which texts the model is unsure about.
    """
    customer = Customer(stack)
    first = customer.says("/nlu_fallback")
    assert "ticket" not in first and "?" in first
    assert "ticket #" in customer.says("/nlu_fallback")
    assert customer.tracker()["paused"] is True


@pytest.fixture
def order_to_cancel(postgres_url) -> Iterator[int]:
    """Order 101010, put back to `processing` afterwards: other tests cancel-and-keep it."""
    yield 101010
    with psycopg.connect(postgres_url) as connection:
        connection.execute("UPDATE orders SET status = 'processing', cancelled_at = NULL WHERE id = 101010")


def test_cancellation_needs_confirmation_and_changes_the_database(
    production_stack, postgres_url, order_to_cancel
):
    customer = Customer(production_stack)
    assert "postcode" in customer.says(f"pls cancel my order {order_to_cancel}")
    customer.says("BS1 4DJ")  # the order's delivery postcode
    assert customer.buttons() == ["/affirm", "/deny"]
    assert "is cancelled" in customer.says("yes")
    with psycopg.connect(postgres_url) as connection:
        query = "SELECT status FROM orders WHERE id = %s"
        status = connection.execute(query, (order_to_cancel,)).fetchone()[0]
    assert status == "cancelled"


def test_conversations_are_stored_in_postgres(production_stack, postgres_url):
    customer = Customer(production_stack)
    customer.says("hello")
    with psycopg.connect(postgres_url) as connection:
        count = connection.execute(
            "SELECT count(*) FROM events WHERE sender_id = %s AND type_name = 'user'", (customer.sender,)
        ).fetchone()[0]
    assert count == 1


async def test_simultaneous_messages_in_one_conversation_are_all_processed(production_stack):
    """Rasa's lock store (Redis here) serialises a conversation's messages; none is lost."""
    customer = Customer(production_stack)
    texts = ["hi", "thanks", "are you a bot?", "bye", "where are your stores"]
    async with aiohttp.ClientSession(headers=production_stack.bearer("REST_CHANNEL_TOKEN")) as session:

        async def post(text: str) -> list[dict]:
            payload = {"sender": customer.sender, "message": text}
            async with session.post(customer.url, json=payload) as response:
                assert response.status == 200
                return await response.json()

        replies = await asyncio.gather(*(post(text) for text in texts))
    assert all(replies)
    users = [e["text"] for e in customer.tracker()["events"] if e["event"] == "user"]
    assert sorted(users) == sorted(texts)


def test_restart_keeps_the_conversation(default_stack):
    customer = Customer(default_stack)
    customer.says("where is my order 100871")
    assert "being packed" in customer.says("m4 5jd")  # the order's postcode
    default_stack.restart("rasa")
    assert customer.tracker()["slots"]["order_id"] == "100871"
    assert "cancel order #100871" in customer.says("can I cancel it?")


def test_logs_are_written(default_stack):
    assert Path(default_stack.service("rasa").log_path).stat().st_size > 0
