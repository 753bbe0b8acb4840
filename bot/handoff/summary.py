"""What a conversation is about, read from its Rasa events, and its summary for a person.

The escalation action stores one on the ticket at handoff (`at_handoff`: the summary, then the
customer's last messages with their mood). An agent needs it as it is now too: the customer may have
given an order number or calmed down since. So the desk's agent assist (bot/desk/assist_panel.py)
reads the conversation's events every time it shows it. Both state the facts in three short sentences:

    Wants: cancel order #104523 (Linen shirt). Bot: offered cancellation; customer asked for a person.
    Mood: frustrated, getting worse.

Pure functions over Rasa event dicts (the shape bot/conversations/events.py reads), so they are tested
on event lists. Events before the last hand-back to the bot (`resume`) or a restart belong to an
earlier matter and are left out.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.conversations import metadata as meta
from bot.conversations.events import customer_message
from bot.handoff.escalation import NOT_QUESTIONS, asks_for_a_person, frustration_trend, turns_since_handoff
from bot.shop.const import ORDER_ID_PATTERN
from bot.shop.orders import OrderSummary, parse_order_id

RESET_EVENTS = frozenset({"resume", "restart"})
PERSON_INTENT = "request_human"
NOT_TOPICS = NOT_QUESTIONS | {PERSON_INTENT, "verify_order", "share_attachment", "story_mention"}
ORDER_SLOTS = ("order_id",)
VERIFIED_SLOT = "verified_orders"  # actions/orders.py: orders whose second factor was given here
TREND_ALPHA = 0.5  # escalation.yml's default; the desk passes the configured one

# What the customer wants, by intent; "{order}" becomes " order #104523" when one is known.
WANTS = {
    "order_status": "to know where{order} is",
    "cancel_order": "to cancel{order}",
    "return_item": "to return{order}",
    "refund_status": "their refund for{order}",
    "product_issue": "help with a faulty or wrong item{order}",
    "payment_issue": "help with a payment",
    "shipping_info": "delivery information",
    "product_availability": "to know if a product is in stock",
    "discount_inquiry": "a discount",
    "store_info": "store details",
    "complaint": "to complain{order}",
    "share_photo": "to identify a product from a photo",
    "bot_challenge": "to know if they talk to a bot",
    "out_of_scope": "something the assistant does not cover",
}
# What the bot's responses did, by response key (domain.yml `utter_<key>`); others are left out.
BOT_DID = {
    "order_processing": "said it is being packed",
    "order_shipped": "gave the tracking",
    "order_out_for_delivery": "said it is out for delivery",
    "order_delivered": "said it was delivered",
    "order_cancelled": "said it is cancelled",
    "cancel_confirm": "offered cancellation",
    "cancel_done": "cancelled it",
    "cancel_kept": "kept the order at the customer's word",
    "cancel_too_late": "said it shipped and cannot be cancelled",
    "return_how": "sent the returns link",
    "return_not_delivered": "said it is not delivered yet, so no return",
    "return_window_closed": "said the return window has closed",
    "return_cancelled": "said a cancelled order has nothing to return",
    "refund_none": "said there is no refund yet",
    "refund_requested": "said the return is being checked",
    "refund_issued": "said the refund was issued",
    "ask_order_id": "asked for the order number",
    "ask_order_check": "asked for the e-mail or postcode",
    "order_check_failed": "could not verify the order",
    "order_check_locked": "locked the order check (too many attempts)",
    "order_not_verified": "could not verify the order",
    "order_not_found": "did not find the order",
    "order_id_invalid": "got an invalid order number",
    "ask_rephrase": "did not understand",
    "offer_human": "offered a person",
    "product_issue": "apologised and asked for a photo",
    "payment_issue": "explained payment problems",
    "shipping_info": "gave delivery information",
    "complaint": "apologised",
    "in_stock": "said it is in stock",
    "out_of_stock": "said it is sold out",
    "product_not_found": "did not find the product",
    "photo_no_match": "could not match the photo",
    "insult_boundary": "asked to keep it respectful",
}


@dataclass(frozen=True)
class Facts:
    """What the conversation since the last hand-back says, in order."""

    intents: tuple[str, ...] = ()  # the customer's typed messages (triggered intents left out)
    order_ids: tuple[int, ...] = ()  # mentioned, oldest mention first, the latest last
    products: tuple[str, ...] = ()
    bot_said: tuple[str, ...] = ()  # response keys, in order
    scores: tuple[float, ...] = ()  # sentiment of each customer message
    asked_for_person: bool = False
    agent_replied: bool = False  # a person already wrote to the customer since the hand-back
    verified: frozenset[int] = field(default_factory=frozenset)

    @property
    def topic(self) -> str | None:
        """The latest thing the customer asked about (greetings, thanks, "a person please" are not)."""
        return next((i for i in reversed(self.intents) if i not in NOT_TOPICS), None)

    @property
    def order_id(self) -> int | None:
        """The order in question: the one mentioned last."""
        return self.order_ids[-1] if self.order_ids else None


def _order_ids(value: Any) -> list[int]:
    return [int(m.group(0)) for m in ORDER_ID_PATTERN.finditer(str(value or ""))]


def _remember(seen: dict[Any, None], *values: Any) -> None:
    """Insertion-ordered set, where seeing a value again moves it to the end."""
    for value in values:
        if value:
            seen.pop(value, None)
            seen[value] = None


def read_facts(events: Iterable[Mapping[str, Any]]) -> Facts:
    """The facts of the conversation since the last hand-back to the bot."""
    intents: list[str] = []
    orders: dict[int, None] = {}
    products: dict[str, None] = {}
    bot_said: list[str] = []
    scores: list[float] = []
    asked = replied = False
    verified: set[int] = set()
    for event in events:
        kind = event.get("event")
        if kind in RESET_EVENTS:
            intents, bot_said, scores, asked, replied = [], [], [], False, False
            orders, products = {}, {}
            continue
        message = customer_message(event)
        if message is not None:
            if message.external:
                continue
            if message.intent:
                intents.append(message.intent)
            if message.sentiment_score is not None:
                scores.append(message.sentiment_score)
            asked = asked or message.intent == PERSON_INTENT or asks_for_a_person(message.text)
            _remember(orders, *_order_ids(message.shown_text))
            entities = (event.get("parse_data") or {}).get("entities") or []
            for entity in entities if isinstance(entities, list) else []:
                if not isinstance(entity, dict):
                    continue
                if entity.get("entity") == "order_id":
                    _remember(orders, parse_order_id(entity.get("value")))
                elif entity.get("entity") == "product" and isinstance(entity.get("value"), str):
                    _remember(products, entity["value"].strip())
        elif kind == "bot":
            data = event.get("metadata") if isinstance(event.get("metadata"), dict) else {}
            if meta.author(data) in (meta.AGENT, meta.HUMAN_AGENT):
                replied = True
                continue
            action = data.get("utter_action")
            if isinstance(action, str) and action.startswith("utter_"):
                bot_said.append(action[len("utter_") :])
            _remember(orders, parse_order_id(data.get("order_id")))
            if isinstance(data.get("title"), str):
                _remember(products, data["title"])
        elif kind == "slot" and event.get("name") in ORDER_SLOTS:
            _remember(orders, parse_order_id(event.get("value")))
        elif kind == "slot" and event.get("name") == VERIFIED_SLOT:
            values = event.get("value") if isinstance(event.get("value"), list) else []
            verified = {n for v in values if (n := parse_order_id(v)) is not None}
    return Facts(
        intents=tuple(intents),
        order_ids=tuple(orders),
        products=tuple(products),
        bot_said=tuple(bot_said),
        scores=tuple(scores),
        asked_for_person=asked,
        agent_replied=replied,
        verified=frozenset(verified),
    )


def mood(scores: Sequence[float], alpha: float = TREND_ALPHA) -> str | None:
    """The sentiment trend now and where the latest message moved it: "frustrated, getting worse"."""
    if not scores:
        return None
    now = frustration_trend(scores, alpha)
    word = (
        "angry"
        if now <= -0.6
        else "frustrated"
        if now <= -0.2
        else "happy"
        if now >= 0.35
        else "positive"
        if now >= 0.1
        else "calm"
    )
    if len(scores) < 2:
        return word
    before = frustration_trend(scores[:-1], alpha)
    if now - before <= -0.1:
        return f"{word}, getting worse"
    if now - before >= 0.1:
        return f"{word}, improving"
    return f"{word}, steady"


def _order_label(order_id: int | None, orders: Mapping[int, OrderSummary], products: Sequence[str]) -> str:
    if order_id is None:
        return f" ({products[-1]})" if products else ""
    order = orders.get(order_id)
    what = ", ".join(order.items[:2]) + ("…" if len(order.items) > 2 else "") if order else None
    what = what or (products[-1] if products else None)
    return f" order #{order_id}" + (f" ({what})" if what else "")


def summarize(
    facts: Facts, orders: Mapping[int, OrderSummary] | None = None, alpha: float = TREND_ALPHA
) -> str:
    """Wants / Bot / Mood, short and factual (`orders` names the items of the orders it knows)."""
    orders = orders or {}
    about = _order_label(facts.order_id, orders, facts.products)
    if facts.topic is not None:
        wants = WANTS.get(facts.topic, facts.topic.replace("_", " ") + "{order}").replace("{order}", about)
    elif facts.asked_for_person:
        wants = "a person" + (f", about{about}" if about else "")
    else:
        wants = "not said yet"
    parts = [f"Wants: {wants}."]
    did: list[str] = []
    for key in facts.bot_said:
        phrase = BOT_DID.get(key)
        if phrase and phrase not in did:
            did.append(phrase)
    bot = ", ".join(did[-3:]) or "nothing useful yet"
    if facts.asked_for_person:
        bot += "; customer asked for a person"
    parts.append(f"Bot: {bot}.")
    felt = mood(facts.scores, alpha)
    if felt:
        parts.append(f"Mood: {felt}.")
    return " ".join(parts)


def at_handoff(events: Iterable[Mapping[str, Any]], alpha: float = TREND_ALPHA, limit: int = 5) -> str:
    """The ticket's summary, written when it opens: the facts, then the last messages and their mood."""
    events = list(events)
    lines = [summarize(read_facts(events), alpha=alpha)]
    turns = turns_since_handoff(events)
    lines += [f"- [{t.label} {t.score:+.2f}] {t.text}" for t in turns[-limit:]]
    return "\n".join(lines)
