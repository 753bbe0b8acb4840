"""Suggested replies for one conversation: canned responses and the bot's own answers, ranked.

Clicking one puts its text in the reply box; the agent edits and sends it. See `rank` for the order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from bot.desk import bot_responses
from bot.desk.canned import Canned
from bot.handoff.summary import NOT_TOPICS, Facts
from bot.shop.orders import OrderSummary, Reply, cancel_reply, refund_reply, return_reply, status_reply

MAX_SHOWN = 6
# The bot's answer about an order, by the intent that asks for it (as actions/orders.py answers).
ORDER_REPLIES: dict[str, tuple[str, Callable[..., Reply]]] = {
    "order_status": ("status", status_reply),
    "cancel_order": ("cancellation", cancel_reply),
    "return_item": ("return", return_reply),
    "refund_status": ("refund", refund_reply),
}
# The bot's answers that need no data and suit a person too (ones that offer "a person" do not).
PLAIN_REPLIES = {
    "shipping_info": "shipping_info",
    "discount_inquiry": "discount_info",
    "product_issue": "product_issue",
}
ORDER_TOPICS = frozenset({*ORDER_REPLIES, "product_issue", "complaint"})
# Moments a canned response can be tagged with (`when:` in canned_responses.yml), besides intents.
FIRST_REPLY, AFTER_REPLY, NO_ORDER = "first_reply", "after_reply", "no_order"

LATEST_TOPIC = 100
EARLIER_TOPIC = 60
EARLIER_STEP = 10
EARLIER_FLOOR = 20
ORDER_IN_QUESTION = 30
OTHER_ORDER = -50
ALREADY_SAID = -25
MOMENT_POINTS = {FIRST_REPLY: 90, AFTER_REPLY: 40, NO_ORDER: 110}


@dataclass(frozen=True)
class Suggestion:
    """One suggested reply: its text as it would be sent, and why it ranks where it does."""

    title: str
    text: str
    score: int
    why: str
    source: str  # "bot" (domain.yml) | "canned"


def topics_by_recency(facts: Facts) -> list[str]:
    """The customer's topics, latest first, each once."""
    seen: list[str] = []
    for intent in reversed(facts.intents):
        if intent not in NOT_TOPICS and intent not in seen:
            seen.append(intent)
    return seen


def topic_points(intents: Sequence[str], topics: Sequence[str]) -> tuple[int, str | None]:
    """Points for serving one of these intents: the latest topic most, earlier ones less and less."""
    for position, topic in enumerate(topics):
        if topic in intents:
            if position == 0:
                return LATEST_TOPIC, topic
            return max(EARLIER_FLOOR, EARLIER_TOPIC - EARLIER_STEP * (position - 1)), topic
    return 0, None


def rank(
    facts: Facts,
    orders: Sequence[OrderSummary],
    canned: Sequence[tuple[Canned, str]],
    responses: Mapping[str, str],
    now: dt.datetime | None = None,
    limit: int = MAX_SHOWN,
) -> list[Suggestion]:
    """The suggestions worth showing, best first.

    Candidates are the bot's answer to each order intent for each order the agent may discuss with
    this customer (`orders`: linked to them or verified in the conversation), filled with the order's
    data exactly as the bot would; the bot's data-free answers for other intents; and every canned
    response, names already filled in (`canned`: the response and its text).

    Points, added up:
    - it answers the customer's latest topic (their last intent that is a question, not "thanks" or
      "a person please"): 100; a topic raised earlier: 60, 10 less for each newer topic, at least 20;
    - it is about the order in question (the one mentioned last): 30; about another of their orders
      while one is in question: -50 (the customer has said which order they mean);
    - the bot already sent that answer: -25 (the customer has read it; it stays useful to repeat);
    - a canned response's moment: 90 before the agent has written anything (`first_reply`), 40 once
      they have (`after_reply`), 110 when the topic needs an order and none is known (`no_order`).
    Nothing with no points is shown; ties keep the order above (bot answers, then canned, file order).
    """
    topics = topics_by_recency(facts)
    found: list[Suggestion] = []
    for order in orders:
        for intent, (label, answer) in ORDER_REPLIES.items():
            points, topic = topic_points([intent], topics)
            if not points:
                continue
            reply = answer(order, now) if answer is return_reply else answer(order)
            text = bot_responses.fill(responses.get(reply.key, ""), reply.values)
            if not text:
                continue
            why = [f"answers {topic.replace('_', ' ')}" if topic else ""]
            if order.id == facts.order_id:
                points += ORDER_IN_QUESTION
                why.append(f"order #{order.id} is the one in question")
            elif facts.order_id is not None:
                points += OTHER_ORDER
                why.append(f"#{facts.order_id} is the order in question")
            if reply.key in facts.bot_said:
                points += ALREADY_SAID
                why.append("the bot already said this")
            found.append(
                Suggestion(f"Order #{order.id}: {label}", text, points, "; ".join(w for w in why if w), "bot")
            )
    for intent, key in PLAIN_REPLIES.items():
        points, topic = topic_points([intent], topics)
        text = bot_responses.fill(responses.get(key, ""), {})
        if points and text:
            already = key in facts.bot_said
            why = f"answers {intent.replace('_', ' ')}" + ("; the bot already said this" if already else "")
            found.append(
                Suggestion(
                    f"Bot: {key.replace('_', ' ')}",
                    text,
                    points + (ALREADY_SAID if already else 0),
                    why,
                    "bot",
                )
            )
    moments = {FIRST_REPLY if not facts.agent_replied else AFTER_REPLY}
    if topics and topics[0] in ORDER_TOPICS and facts.order_id is None:
        moments.add(NO_ORDER)
    for response, text in canned:
        points, topic = topic_points(response.when, topics)
        why = [f"answers {topic.replace('_', ' ')}"] if topic else []
        for moment in moments & set(response.when):
            points += MOMENT_POINTS[moment]
            why.append(moment.replace("_", " "))
        if points:
            found.append(Suggestion(response.title, text, points, "; ".join(why), "canned"))
    found.sort(key=lambda s: -s.score)  # stable: ties keep the order above
    return found[:limit]
