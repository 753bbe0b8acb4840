"""What a public item is (its category), how urgent, and the reply to suggest, from what was understood.

Pure functions of an `Understood` item and engagement.yml, so the rules read (and test) as a table.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field

from bot.monitoring.engagement.policy import (
    ABUSE,
    COMPLAINT,
    ORDER_PROBLEM,
    OTHER,
    PRAISE,
    PRODUCT_PHOTO,
    QUESTION,
    SPAM,
    EngagementConfig,
)
from bot.monitoring.terms import Terms

ORDER_INTENTS = frozenset({"order_status", "cancel_order", "return_item", "refund_status", "payment_issue"})
COMPLAINT_INTENTS = frozenset({"complaint", "product_issue"})
QUESTION_INTENTS = frozenset(
    {"product_availability", "store_info", "shipping_info", "discount_inquiry", "share_photo"}
)
PRAISE_INTENTS = frozenset({"compliment", "thank"})
BUYING = re.compile(r"\b(where|how)\b.{0,30}\b(buy|get|find|order)\b|\bhow much\b|\bprice\b|\bcost\b", re.I)
LINK = re.compile(r"https?://|www\.", re.I)


@dataclass(frozen=True)
class ProductSeen:
    """The product a photo shows (or the text names), with what the reply may say of it."""

    id: int
    title: str
    price: str
    url: str
    confidence: float | None = None  # the photo match's calibrated confidence; None: named in the text


@dataclass(frozen=True)
class Understood:
    """A public item after the NLU parse and the photo lookup."""

    text: str
    author: str  # how a reply greets them: first name or @handle
    intent: str | None = None
    sentiment_label: str = "neutral"
    sentiment_score: float = 0.0
    order_mentioned: bool = False  # an order number in the text
    product: ProductSeen | None = None
    logos: tuple[str, ...] = ()
    followers: int | None = None
    flags: tuple[str, ...] = field(default=())  # moderation's reasons (insult, block_list)


@functools.lru_cache(maxsize=8)
def terms(phrases: tuple[str, ...]) -> Terms:
    """The compiled matcher of a phrase list (compiled once per version of engagement.yml)."""
    return Terms(phrases)


def is_question(item: Understood) -> bool:
    """Asks something: a question mark, a buying phrase, or an intent that is a question."""
    return "?" in item.text or bool(BUYING.search(item.text)) or item.intent in QUESTION_INTENTS


def category(item: Understood, config: EngagementConfig) -> str:
    """The first category that fits, in engagement.yml's order (abuse and spam first, never answered)."""
    if item.flags:
        return ABUSE
    if terms(config.spam_phrases).matches(item.text) or len(LINK.findall(item.text)) > config.max_links:
        return SPAM
    if item.intent in ORDER_INTENTS or item.order_mentioned:
        return ORDER_PROBLEM
    negative = item.sentiment_label == "negative"
    if item.intent in COMPLAINT_INTENTS or (negative and item.intent not in PRAISE_INTENTS):
        return COMPLAINT
    photo_match = item.product is not None and item.product.confidence is not None
    if photo_match and (is_question(item) or not item.text.strip()):
        return PRODUCT_PHOTO  # "where can I buy this?" under a photo of one of ours
    if item.intent in PRAISE_INTENTS or item.sentiment_label == "positive":
        return PRAISE
    if photo_match:
        return PRODUCT_PHOTO
    if is_question(item):
        return QUESTION
    return OTHER


def urgency(item: Understood, kind: str, config: EngagementConfig) -> int:
    """The queue's first sort key: the category's weight, more for anger and for a large audience."""
    score = config.weights.get(kind, 0)
    if item.sentiment_label == "negative":
        score += round(config.negative_weight * min(1.0, abs(item.sentiment_score)))
    if item.followers:
        score += round(config.reach_weight * min(1.0, math.log10(1 + item.followers) / 6))  # 1M: full
    return score


def suggestion(item: Understood, kind: str, config: EngagementConfig) -> str:
    """The suggested public reply (order details never: an order problem is invited to a private chat)."""
    if kind == PRAISE and item.product is not None:
        template = config.replies["praise_product"]
    elif kind == PRODUCT_PHOTO and item.product is None:
        template = config.replies[QUESTION]
    else:
        template = config.replies[kind]
    return fill(template, item, config)


def private_suggestion(item: Understood, config: EngagementConfig) -> str:
    """What a private reply starts from."""
    return fill(config.replies["private"], item, config)


def fill(template: str, item: Understood, config: EngagementConfig) -> str:
    """The template with the item's values (placeholders are checked when engagement.yml is read)."""
    product = item.product
    values = {
        "{name}": item.author or "there",
        "{brand}": config.brand,
        "{product}": product.title if product else "it",
        "{price}": product.price if product else "",
        "{url}": product.url if product else "",
    }
    for placeholder, value in values.items():
        template = template.replace(placeholder, value)
    return template.strip()


def needs_answer(kind: str) -> bool:
    """Whether a category calls for an answer (abuse and spam are hidden or recorded, never answered)."""
    return kind not in (ABUSE, SPAM)
