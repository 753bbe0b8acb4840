"""The assistant's own rating end to end: simulator → Rasa → monitoring service → Rasa → Send API → simulator.

A stack of its own, whose monitoring service ends a quiet conversation after 15 seconds
(BOT_CSAT_QUIET_MINUTES=0.25), so the quiet path is seen in a test; the thanks path does not wait.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.devtools.devstack import Stack
from bot.settings import Settings
from bot.storage.db import create_sync_engine
from bot.storage.models import BotSession

from .conftest import stack_ports, start
from .test_meta_channels import customer_says, new_user, texts, wait_for_replies

RATING_PAYLOADS = [f'/rate_service{{"csat_score":"{n}"}}' for n in range(1, 6)]


@pytest.fixture(scope="module")
def quick_stack(tmp_path_factory) -> Iterator[Stack]:
    """`make run`'s configuration with a 15-second quiet time."""
    env = {
        "VAR_DIR": str(tmp_path_factory.mktemp("var")),
        "DATABASE_URL": None,
        "REDIS_URL": None,
        "BOT_CSAT_QUIET_MINUTES": "0.25",
    }
    stack = start(env, stack_ports(5305))
    yield stack
    stack.stop()


def bot_sessions(stack: Stack, conversation_id: str) -> list[BotSession]:
    settings = Settings.from_env({k: v for k, v in stack.env.items() if v})
    engine = create_sync_engine(settings.database_url)
    try:
        with Session(engine) as session:
            query = select(BotSession).where(BotSession.conversation_id == conversation_id)
            return list(session.scalars(query.order_by(BotSession.id)))
    finally:
        engine.dispose()


def wait_sessions(stack: Stack, conversation_id: str, done: Any, timeout: float = 90) -> list[BotSession]:
    """Wait until the conversation's bot sessions satisfy `done` (the monitoring service runs every 2 s)."""
    deadline = time.monotonic() + timeout
    while not done(found := bot_sessions(stack, conversation_id)):
        assert time.monotonic() < deadline, [(s.state, s.asked_at, s.not_asked) for s in found]
        time.sleep(0.3)
    return found


def rating_question(sent: dict) -> list[dict]:
    quick = sent["body"]["message"].get("quick_replies") or []
    assert [q["payload"] for q in quick] == RATING_PAYLOADS, sent
    return quick


def test_thanks_brings_the_question_a_tap_is_stored_for_the_bot_and_today_it_is_not_asked_again(quick_stack):
    stack, user = quick_stack, new_user()
    customer_says(stack, "messenger", user, text="what are your opening hours in brighton?")
    [hours] = wait_for_replies(stack, "messenger", user, 1)
    assert "brighton" in texts([hours])[0].lower()
    customer_says(stack, "messenger", user, text="perfect, thank you!")
    *_, question = wait_for_replies(stack, "messenger", user, 3)  # the hours, "you're welcome", the question
    assert "how did i do" in texts([question])[0].lower()
    four = rating_question(question)[3]
    assert four["title"].startswith("4")

    customer_says(stack, "messenger", user, text=four["title"], quick_reply_payload=four["payload"])
    thanked = wait_for_replies(stack, "messenger", user, 4)[3]
    assert "4" in texts([thanked])[0]
    [rated] = bot_sessions(stack, user)
    assert (rated.state, rated.end_reason, rated.topic, rated.score) == ("ended", "thanks", "store_info", 4)

    # The next conversation the same day (Rasa starts a new session, as after an hour's silence).
    path = f"/conversations/{user}/tracker/events"
    stack.rasa_call(
        "POST", path, [{"event": "session_started"}, {"event": "action", "name": "action_listen"}]
    )
    customer_says(stack, "messenger", user, text="do you ship to ireland?")
    wait_for_replies(stack, "messenger", user, 5)
    customer_says(stack, "messenger", user, text="great thanks")
    wait_for_replies(stack, "messenger", user, 6)
    first, second = wait_sessions(stack, user, lambda found: len(found) == 2 and found[1].not_asked)
    assert second.not_asked == "asked_recently" and second.asked_at is None and first.score == 4
    assert len(wait_for_replies(stack, "messenger", user, 6)) == 6  # no second question


def test_a_quiet_conversation_is_asked_once_after_the_configured_time(quick_stack):
    stack, user = quick_stack, new_user()
    customer_says(stack, "messenger", user, text="what are your opening hours in brighton?")
    wait_for_replies(stack, "messenger", user, 1)
    [asked] = wait_sessions(stack, user, lambda found: found and found[0].ask_sent_at is not None)
    assert (asked.state, asked.end_reason) == ("ended", "quiet")
    assert (asked.ended_at - asked.last_customer_at).total_seconds() >= 15  # the configured quiet time
    _, question = wait_for_replies(stack, "messenger", user, 2)
    five = rating_question(question)[4]
    customer_says(stack, "messenger", user, text=five["title"], quick_reply_payload=five["payload"])
    assert len(wait_for_replies(stack, "messenger", user, 3)) == 3  # the thanks for the 5, no second question
    [rated] = wait_sessions(stack, user, lambda found: found[0].score is not None)
    assert (rated.score, rated.asked_at, rated.ask_attempts) == (5, asked.asked_at, 1)
