"""Monitoring end to end: real customer messages through the simulator, Rasa and the monitoring service.

The monitoring service (`python -m bot.monitoring`, its own process in the stack) records them; the desk
only shows and reviews.

Customers write on Messenger and mention the brand on X; their messages land in `message_log` with
intent and sentiment. A supervisor mutes an author in the desk and the bot stops answering them (Rasa
still records what they write); unmuting brings the bot back, except while a person has the conversation.
"""

from __future__ import annotations

import re
import time
import uuid

import requests
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.devtools.devstack import Stack
from bot.settings import Settings
from bot.storage.db import create_sync_engine
from bot.storage.models import LoggedMessage

from .conftest import sim
from .customers import AMY, link
from .test_desk import add_agent, desk_session
from .test_meta_channels import customer_says, new_user, replies, texts, tracker, wait_for_replies


def logged(stack: Stack, **where: str) -> list[LoggedMessage]:
    """Rows of the stack's message_log matching `where` (column = value), oldest first."""
    settings = Settings.from_env({k: v for k, v in stack.env.items() if v})
    engine = create_sync_engine(settings.database_url)
    try:
        with Session(engine) as session:
            query = select(LoggedMessage).order_by(LoggedMessage.id)
            for column, value in where.items():
                query = query.where(getattr(LoggedMessage, column) == value)
            return list(session.scalars(query))
    finally:
        engine.dispose()


def wait_logged(stack: Stack, count: int, timeout: float = 60, **where: str) -> list[LoggedMessage]:
    """Wait until monitoring has recorded `count` matching messages (it records every 2 s)."""
    deadline = time.monotonic() + timeout
    while len(found := logged(stack, **where)) < count:
        assert time.monotonic() < deadline, f"recorded {len(found)} of {count} messages for {where}"
        time.sleep(0.3)
    return found


def supervisor(stack: Stack) -> requests.Session:
    """A signed-in supervisor's browser session on the stack's desk."""
    return desk_session(stack, add_agent(stack, "supervisor"))


def desk_post(stack: Stack, browser: requests.Session, path: str, **form: str) -> str:
    """Submit a monitoring form as the page does (with its CSRF token); the next page's text."""
    page = browser.get(f"{stack.desk_url}/monitoring/moderation", timeout=30)
    assert page.status_code == 200, page.text
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    answer = browser.post(f"{stack.desk_url}{path}", data={"csrf": token, **form}, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.text


def test_the_monitoring_service_runs_beside_the_desk_and_holds_the_lease(default_stack):
    ready = requests.get(f"{default_stack.monitoring_url}/readyz", timeout=10)
    assert ready.status_code == 200 and ready.json() == {"status": "ready", "lease": "held"}
    metrics = requests.get(f"{default_stack.monitoring_url}/metrics", timeout=10)
    assert metrics.status_code == 401  # METRICS_TOKEN's bearer, as the desk's
    metrics = requests.get(
        f"{default_stack.monitoring_url}/metrics", headers=default_stack.bearer("METRICS_TOKEN"), timeout=10
    )
    assert "loom_monitoring_lease_held 1.0" in metrics.text


def test_customer_messages_and_mentions_are_recorded_with_intent_and_sentiment(default_stack):
    stack, user = default_stack, new_user()
    link(stack, "messenger", user, AMY)  # the order is theirs: answered at once
    customer_says(stack, "messenger", user, text="hi where is my order #104523?")
    wait_for_replies(stack, "messenger", user, 1)
    angry = "this is the 3rd time asking, still no refund after 3 weeks!!"
    customer_says(stack, "messenger", user, text=angry)
    wait_for_replies(stack, "messenger", user, 2)
    order, refund = wait_logged(stack, 2, conversation_id=user)
    assert (order.kind, order.channel, order.intent) == ("dm", "messenger", "order_status")
    assert order.sentiment_label in ("neutral", "positive") and order.source.startswith("event:")
    assert refund.intent and refund.sentiment_label == "negative" and refund.sentiment_score < 0
    handle = f"fan_{uuid.uuid4().hex[:6]}"
    text = "@loomandco still waiting on my refund, 3 weeks now. never again"
    sim(stack, "POST", "/_sim/x/mention", json={"user_id": new_user(), "screen_name": handle, "text": text})
    [mention] = wait_logged(stack, 1, author=f"@{handle}")
    assert (mention.kind, mention.channel, mention.conversation_id) == ("mention", "twitter", None)
    assert mention.intent and mention.sentiment_label == "negative"  # Rasa's intent, our scorer
    assert mention.link and mention.link.startswith("http") and text in mention.text


def test_a_muted_author_gets_no_answers_until_unmuted(default_stack):
    stack, user = default_stack, new_user()
    link(stack, "messenger", user, AMY)  # 104523 is theirs: answered at once
    browser = supervisor(stack)
    customer_says(stack, "messenger", user, text="hi where is my order #104523?")
    assert "104523" in texts(wait_for_replies(stack, "messenger", user, 1))[0]
    muted = desk_post(stack, browser, "/monitoring/mute", channel="messenger", author_id=user, reason="abuse")
    assert f"{user} on messenger is muted" in muted and tracker(stack, user)["paused"] is True
    customer_says(stack, "messenger", user, text="where is my order #103344?")
    # Once monitoring has recorded it, Rasa has handled it (it stores a message after answering it).
    assert wait_logged(stack, 2, conversation_id=user)[1].intent == "order_status"
    assert len(replies(stack, "messenger", user)) == 1  # ... and it did not answer
    unmuted = desk_post(stack, browser, "/monitoring/unmute", channel="messenger", author_id=user)
    assert "the assistant answers again" in unmuted and tracker(stack, user)["paused"] is False
    customer_says(stack, "messenger", user, text="where is my order #103344?")
    assert "103344" in texts(wait_for_replies(stack, "messenger", user, 2))[1]


def test_unmuting_leaves_a_conversation_a_person_has_paused(default_stack):
    stack, user = default_stack, new_user()
    browser = supervisor(stack)
    customer_says(stack, "messenger", user, text="can i talk to a real person please")
    assert "ticket #" in texts(wait_for_replies(stack, "messenger", user, 1))[0]
    desk_post(stack, browser, "/monitoring/mute", channel="messenger", author_id=user)
    unmuted = desk_post(stack, browser, "/monitoring/unmute", channel="messenger", author_id=user)
    assert "a person has the conversation" in unmuted
    assert tracker(stack, user)["paused"] is True  # still waiting for the agent
    customer_says(stack, "messenger", user, text="hello? anyone?")
    wait_logged(stack, 2, conversation_id=user)
    assert len(replies(stack, "messenger", user)) == 1
    audit = browser.get(f"{stack.desk_url}/audit", timeout=30).text
    assert "muted" in audit and "unmuted" in audit
