"""The name a handoff ticket opens with: X's from the message, Meta's from the profile cache, never a wait."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import psycopg
import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import customers
from actions.escalation import ActionHandoff
from actions.services import services

from ..bot.customers.sim_profiles import FakeMeta, fake_meta


def tracker(sender: str, channel: str, **metadata: str) -> Tracker:
    latest = {"text": "a person please", "intent": {"name": "request_human"}, "metadata": metadata}
    events = [{"event": "user", "text": "a person please", "parse_data": latest, "input_channel": channel}]
    return Tracker(sender, {"escalation_reason": "customer_request"}, latest, events, False, None, {}, "x")


async def handoff(t: Tracker) -> None:
    await ActionHandoff().run(CollectingDispatcher(), t, {})


def ticket_name(url: str, sender: str) -> str | None:
    with psycopg.connect(url) as db:
        query = "SELECT customer_name FROM handoff_tickets WHERE conversation_id = %s"
        return db.execute(query, (sender,)).fetchone()[0]


def profile_row(url: str, channel: str, sender: str) -> tuple | None:
    with psycopg.connect(url) as db:
        query = "SELECT name, handle, picture_url, status FROM customer_profiles"
        query += " WHERE channel = %s AND user_id = %s"
        return db.execute(query, (channel, sender)).fetchone()


@pytest.fixture
async def meta(seeded_db, monkeypatch) -> AsyncIterator[FakeMeta]:
    """The action server's environment names the simulator's platforms (as `make run` does)."""
    async with fake_meta() as fake:
        for name, value in fake.environment().items():
            monkeypatch.setenv(name, value)
        services.cache_clear()
        yield fake
        await asyncio.gather(*customers._fetching)
        services.cache_clear()


async def test_an_x_customer_is_named_from_the_message_and_stored(seeded_db, meta):
    picture = "https://pbs.twimg.com/profile_images/1/a_normal.jpg"
    meta_fields = {"sender_name": "Jordan B", "sender_screen_name": "jordan_b", "sender_picture": picture}
    await handoff(tracker("3000000042", "twitter", **meta_fields))
    assert ticket_name(seeded_db, "3000000042") == "Jordan B"
    assert profile_row(seeded_db, "twitter", "3000000042") == ("Jordan B", "jordan_b", picture, "ok")
    assert meta.reads == []


async def test_a_messenger_ticket_takes_the_cached_name(seeded_db, meta):
    await services().profiles.remember("messenger", "psid-known", "Ada Lovelace", None)
    await handoff(tracker("psid-known", "messenger"))
    assert ticket_name(seeded_db, "psid-known") == "Ada Lovelace"
    assert meta.reads == []


async def test_a_slow_platform_never_holds_the_handoff(seeded_db, meta):
    await meta.messaged("messenger", "psid-slow")
    await meta.fail_next("messenger", "psid-slow", delay=5.0)  # longer than the profile call may take
    await handoff(tracker("psid-slow", "messenger"))
    assert ticket_name(seeded_db, "psid-slow") is None  # opened before the profile came (or failed)
    assert profile_row(seeded_db, "messenger", "psid-slow") is None
    [fetching] = customers._fetching
    await fetching  # in the background: the client gives up (3 s) and stores the failure
    assert profile_row(seeded_db, "messenger", "psid-slow") == (None, None, None, "failed")
    assert meta.reads == ["psid-slow"]


async def test_a_messenger_profile_not_cached_is_fetched_in_the_background(seeded_db, meta):
    await meta.messaged("messenger", "psid-new")
    await meta.describe("messenger", "psid-new", first_name="Mia", last_name="Rossi")
    await handoff(tracker("psid-new", "messenger"))
    await asyncio.gather(*customers._fetching)
    assert profile_row(seeded_db, "messenger", "psid-new")[0] == "Mia Rossi"  # for the desk


async def test_a_profile_that_cannot_be_stored_still_opens_the_ticket(seeded_db, meta, monkeypatch, caplog):
    async def broken(*args, **kwargs):
        raise OSError("database unreachable")

    monkeypatch.setattr(services().profiles, "remember", broken)
    with caplog.at_level(logging.ERROR, logger="actions.customers"):
        await handoff(tracker("3000000099", "twitter", sender_name="Jo", sender_screen_name="jo"))
    assert ticket_name(seeded_db, "3000000099") == "Jo"
    assert "customer profile of 3000000099 could not be read" in caplog.text
