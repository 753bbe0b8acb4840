"""Agent assist, pure parts: the facts and summary of event lists, order selection, reply ranking."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from bot.desk import bot_responses
from bot.desk.canned import Canned, CannedError, parse
from bot.desk.customer_orders import select_orders
from bot.desk.suggestions import rank
from bot.handoff.summary import Facts, at_handoff, mood, read_facts, summarize
from bot.shop.orders import OrderSummary

NOW = dt.datetime(2026, 12, 6, 12, 0, tzinfo=dt.timezone.utc)


def said(text: str, intent: str, score: float = 0.0, entities: list[dict[str, Any]] | None = None) -> dict:
    label = "negative" if score < -0.1 else "positive" if score > 0.1 else "neutral"
    return {
        "event": "user",
        "text": text,
        "parse_data": {
            "intent": {"name": intent, "confidence": 0.9},
            "entities": entities or [],
            "sentiment": {"label": label, "score": score},
        },
        "metadata": {},
    }


def bot(response: str, **values: str) -> dict:
    return {"event": "bot", "text": "…", "metadata": {"utter_action": f"utter_{response}", **values}}


def order(number: int, status: str = "processing", **kwargs: Any) -> OrderSummary:
    return OrderSummary(
        id=number,
        status=status,
        placed_at=NOW - dt.timedelta(days=kwargs.pop("age", 2)),
        total=Decimal("45.00"),
        currency="GBP",
        items=kwargs.pop("items", ("Linen shirt (white, M)",)),
        **kwargs,
    )


CANCEL_CHAT = [
    said("hi", "greet", 0.1),
    said("please cancel my order 104523", "cancel_order", -0.2, [{"entity": "order_id", "value": "104523"}]),
    bot("cancel_confirm", order_id="104523"),
    said("this is taking forever, get me a human", "request_human", -0.7),
    bot("handoff_created", ticket="7"),
    {"event": "action", "name": "action_handoff"},
]


def test_the_summary_says_what_the_customer_wants_what_the_bot_did_and_the_mood():
    facts = read_facts(CANCEL_CHAT)
    assert facts.order_ids == (104523,) and facts.topic == "cancel_order" and facts.asked_for_person
    text = summarize(facts, {104523: order(104523)})
    assert text == (
        "Wants: to cancel order #104523 (Linen shirt (white, M)). "
        "Bot: offered cancellation; customer asked for a person. Mood: frustrated, getting worse."
    )


def test_the_tickets_summary_at_handoff_states_the_facts_then_the_last_messages_and_their_mood():
    """What the escalation action stores on the ticket (actions/escalation.py), before its own events."""
    lines = at_handoff(CANCEL_CHAT[:-2]).splitlines()
    assert lines == [
        "Wants: to cancel order #104523. "
        "Bot: offered cancellation; customer asked for a person. Mood: frustrated, getting worse.",
        "- [neutral +0.10] hi",  # the last messages, as the customer wrote them
        "- [negative -0.20] please cancel my order 104523",
        "- [negative -0.70] this is taking forever, get me a human",
    ]
    assert at_handoff(CANCEL_CHAT[:-2], limit=1).splitlines()[1:] == [lines[-1]]


def test_the_order_in_question_is_the_one_mentioned_last_and_products_are_kept():
    facts = read_facts(
        [
            said("where is 104523", "order_status"),
            said(
                "and the linen shirt in 112930?",
                "order_status",
                entities=[{"entity": "product", "value": "linen shirt"}],
            ),
            bot("order_shipped", order_id="104523"),
        ]
    )
    assert facts.order_ids == (112930, 104523)  # the bot answering about 104523 makes it the latest
    assert facts.products == ("linen shirt",)
    assert summarize(facts).startswith(
        "Wants: to know where order #104523 (linen shirt) is. Bot: gave the tracking."
    )


def test_what_came_before_the_last_hand_back_is_left_out():
    facts = read_facts(
        [*CANCEL_CHAT, {"event": "resume"}, said("do you have socks", "product_availability", 0.3)]
    )
    assert facts.order_ids == () and facts.intents == ("product_availability",) and not facts.asked_for_person
    assert (
        summarize(facts)
        == "Wants: to know if a product is in stock. Bot: nothing useful yet. Mood: positive."
    )


def test_triggered_intents_agent_replies_and_verified_orders_are_read():
    facts = read_facts(
        [
            said("EXTERNAL: csat", "EXTERNAL_csat_request"),
            {"event": "slot", "name": "verified_orders", "value": ["100871"]},
            {"event": "bot", "text": "Hi, Ada here", "metadata": {"author": "agent", "agent_name": "Ada"}},
        ]
    )
    assert facts.intents == () and facts.agent_replied and facts.verified == frozenset({100871})
    assert summarize(facts) == "Wants: not said yet. Bot: nothing useful yet."


def test_mood_says_the_direction():
    assert mood([]) is None
    assert mood([0.0]) == "calm"
    assert mood([-0.2, -0.8]) == "frustrated, getting worse"
    assert mood([-0.9, -0.9, -0.1]) == "frustrated, improving"
    assert mood([0.5, 0.5, 0.5]) == "happy, steady"


def test_only_mentioned_or_linked_orders_are_shown_the_one_in_question_first():
    linked = [order(104523, age=3), order(112930, "delivered", age=9)]
    found = {
        n: order(n) for n in (104523, 100871, 101010)
    }  # 101010: loaded, but neither mentioned nor linked
    shown, missing = select_orders([100871, 199999, 104523], [100871], linked, found)
    assert [(s.order.id, s.mentioned, s.linked, s.verified, s.in_question) for s in shown] == [
        (104523, True, True, False, True),
        (100871, True, False, True, False),
        (112930, False, True, False, False),
    ]
    assert missing == [199999]
    stranger, _ = select_orders([101010], [], linked, found)
    assert stranger[0].order.id == 101010 and not stranger[0].may_share and not stranger[0].can_cancel


RESPONSES = {
    "order_shipped": "Order #{order_id} shipped on {shipped_on} with {carrier}: {tracking_url}",
    "order_processing": "Order #{order_id} (placed {placed_on}) is being packed.",
    "cancel_confirm": "Cancel order #{order_id} ({items}, {total})?",
    "cancel_too_late": "Order #{order_id} has already shipped.",
    "return_not_delivered": "Order #{order_id} hasn't been delivered yet.",
    "refund_none": "No refund on #{order_id} yet.",
    "shipping_info": "Delivery takes 2–4 days.",
}
CANNED = [
    (Canned("greeting", "Introduce yourself", "Hi Jo", ("first_reply",)), "Hi Jo"),
    (Canned("need_order_number", "Ask for the order number", "Number?", ("no_order",)), "Number?"),
    (Canned("closing", "Wrap up", "Anything else?", ("after_reply",)), "Anything else?"),
    (Canned("refund_started", "Refund started", "Refund started.", ("refund_status",)), "Refund started."),
]


def test_replies_for_the_latest_intent_and_the_order_in_question_rank_first():
    shipped = order(
        104523, "shipped", shipped_at=NOW, carrier="Royal Mail", tracking_url="https://track.example/RM1"
    )
    other = order(100871)
    facts = read_facts(
        [
            said("refund for 100871?", "refund_status"),
            said("where is 104523", "order_status", -0.3),
        ]
    )
    ranked = rank(facts, [shipped, other], CANNED, RESPONSES, NOW)
    assert [s.title for s in ranked] == [
        "Order #104523: status",  # latest topic + the order in question
        "Order #104523: refund",  # an earlier topic, the order in question
        "Introduce yourself",  # nobody has written to the customer yet (a tie keeps bot answers first)
        "Refund started",  # an earlier topic
        "Order #100871: status",  # the latest topic, but not the order the customer means now
        "Order #100871: refund",
    ]
    top = ranked[0]
    assert top.text == "Order #104523 shipped on Sun 6 Dec with Royal Mail: https://track.example/RM1"
    assert top.score == 130 and "in question" in top.why
    # Rank is by relevance to what was asked, not by a fixed list: asking about the refund last flips it.
    flipped = rank(
        read_facts([said("where is 104523", "order_status"), said("refund?", "refund_status")]),
        [shipped],
        CANNED,
        RESPONSES,
        NOW,
    )
    assert flipped[0].title == "Order #104523: refund"


def test_what_the_bot_already_said_drops_and_an_order_question_without_a_number_asks_for_it():
    facts = read_facts([said("cancel my order", "cancel_order"), bot("ask_order_id")])
    assert [s.title for s in rank(facts, [], CANNED, RESPONSES, NOW)] == [
        "Ask for the order number",
        "Introduce yourself",
    ]
    repeated = read_facts([said("cancel 104523", "cancel_order"), bot("cancel_too_late", order_id="104523")])
    shipped = order(104523, "shipped", shipped_at=NOW)
    [top, *_] = rank(repeated, [shipped], CANNED, RESPONSES, NOW)
    assert top.title == "Order #104523: cancellation" and top.score == 100 + 30 - 25
    assert "already said" in top.why


def test_a_reply_with_a_placeholder_it_cannot_fill_is_never_offered():
    assert bot_responses.fill("Order #{order_id} {unknown}", {"order_id": "1"}) is None
    assert bot_responses.fill("Order #{order_id}", {"order_id": "{x}"}) == "Order #{x}"
    facts = Facts(intents=("shipping_info",), agent_replied=True)
    assert [s.title for s in rank(facts, [], CANNED, {**RESPONSES, "shipping_info": "{price}"}, NOW)] == [
        "Wrap up"
    ]


def test_the_domain_responses_are_read_without_channel_variants(tmp_path):
    domain = tmp_path / "domain.yml"
    domain.write_text(
        "responses:\n"
        "  utter_a:\n    - text: 'for X'\n      channel: twitter\n"
        "    - text: 'for all'\n    - text: 'other'\n"
        "  utter_b:\n    - image: 'x.png'\n"
    )
    assert bot_responses.parse(domain) == {"a": "for all"}


def test_an_orders_state_reads_in_a_few_words():
    refunded = order(105678, "cancelled", refund_status="issued", refund_amount=Decimal("12.50"))
    tracked = order(104523, "shipped", tracking_url="https://track.example/RM1")
    hostile = order(104524, "shipped", tracking_url="javascript:alert(1)")
    [a, b, c], _ = select_orders(
        [105678, 104523, 104524], [], [], {o.id: o for o in (refunded, tracked, hostile)}
    )
    assert (c.refund, c.total, c.tracking_link) == ("Refund issued (£12.50)", "£45.00", None)
    assert b.refund is None and b.tracking_link == "https://track.example/RM1"
    assert a.tracking_link is None  # never a link that is not a web address


def test_canned_responses_say_when_they_are_suggested(tmp_path):
    good = tmp_path / "good.yml"
    good.write_text(
        "- {id: a, title: A, text: hi, when: [first_reply, refund_status]}\n- {id: b, title: B, text: x}\n"
    )
    assert [c.when for c in parse(good)] == [("first_reply", "refund_status"), ()]
    bad = tmp_path / "bad.yml"
    bad.write_text("- {id: a, title: A, text: hi, when: first_reply}\n")
    with pytest.raises(CannedError, match="entry 1: `when` must be a list"):
        parse(bad)
    shipped = {c.id: c.when for c in parse()}  # the repository's file
    assert shipped["greeting"] == ("first_reply",) and shipped["need_order_number"] == ("no_order",)
