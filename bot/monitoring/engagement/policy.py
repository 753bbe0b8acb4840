"""engagement.yml: which public items the bot answers on its own, which wait for an agent, which are recorded.

Parsed once per edit (`WatchedFile`); a broken edit keeps the last good version. Every value has a
default here, so a missing file behaves like the committed one, minus its replies' wording.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config_files import CHECK_EVERY_SECONDS, WatchedFile, read_yaml
from bot.settings import PROJECT_ROOT

CONFIG_FILE = PROJECT_ROOT / "engagement.yml"

AUTO, QUEUE, RECORD = "auto", "queue", "record"
DECISIONS = (AUTO, QUEUE, RECORD)
# The categories, in the order they are tried: the first that fits an item is its category.
ABUSE, SPAM, ORDER_PROBLEM, COMPLAINT, PRAISE, PRODUCT_PHOTO, QUESTION, OTHER = (
    "abuse",
    "spam",
    "order_problem",
    "complaint",
    "praise",
    "product_photo",
    "question",
    "other",
)
CATEGORIES = (ABUSE, SPAM, ORDER_PROBLEM, COMPLAINT, PRAISE, PRODUCT_PHOTO, QUESTION, OTHER)
REPLY_KEYS = (*CATEGORIES, "praise_product", "private")


@dataclass(frozen=True)
class Policy:
    """What happens to the items of one category."""

    decision: str = QUEUE
    hide: bool = False
    min_confidence: float = 0.87  # product_photo: `auto` only from this photo-match confidence


DEFAULT_POLICIES = {
    ABUSE: Policy(RECORD, hide=True),
    SPAM: Policy(RECORD, hide=True),
    ORDER_PROBLEM: Policy(QUEUE),
    COMPLAINT: Policy(QUEUE),
    PRAISE: Policy(QUEUE),
    PRODUCT_PHOTO: Policy(AUTO),
    QUESTION: Policy(QUEUE),
    OTHER: Policy(RECORD),
}
DEFAULT_REPLIES = {
    PRODUCT_PHOTO: "Hi {name}! That's our {product} ({price}) - you can find it here: {url}",
    "praise_product": "Thank you so much, {name}! We're so glad you love the {product}.",
    PRAISE: "Thank you so much, {name}!",
    ORDER_PROBLEM: "Sorry about this, {name}! Please send us a private message and we'll sort it out.",
    COMPLAINT: "We're sorry to hear this, {name}. Please send us a private message so we can help.",
    QUESTION: "Hi {name}! Please send us a private message and we'll help you.",
    OTHER: "Thanks for your comment, {name}!",
    ABUSE: "",
    SPAM: "",
    "private": "Hi {name}, this is {brand} following up on your comment. How can we help?",
}
DEFAULT_WEIGHTS = {
    ORDER_PROBLEM: 60,
    COMPLAINT: 50,
    ABUSE: 45,
    PRODUCT_PHOTO: 40,
    QUESTION: 30,
    PRAISE: 20,
    SPAM: 10,
    OTHER: 0,
}
PLACEHOLDERS = ("{name}", "{product}", "{price}", "{url}", "{brand}")


@dataclass(frozen=True)
class EngagementConfig:
    """engagement.yml, parsed."""

    policies: dict[str, Policy] = field(default_factory=lambda: dict(DEFAULT_POLICIES))
    replies: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_REPLIES))
    brand: str = "Loom & Co"
    spam_phrases: tuple[str, ...] = ()
    max_links: int = 1
    weights: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    negative_weight: int = 20
    reach_weight: int = 20

    def policy(self, category: str) -> Policy:
        """The policy of a category (every category has one)."""
        return self.policies[category]

    @classmethod
    def load(cls, path: Path = CONFIG_FILE) -> EngagementConfig:
        """Read engagement.yml; ValueError naming the key that cannot work."""
        data: dict[str, Any] = read_yaml(path, missing={}) or {}
        if not isinstance(data, dict):
            raise ValueError("expected a mapping with categories, replies, spam and urgency")
        unknown = sorted(set(data) - {"categories", "replies", "brand", "spam", "urgency"})
        if unknown:
            raise ValueError(f"unknown key(s) {unknown}")
        policies = dict(DEFAULT_POLICIES)
        for name, value in _mapping(data, "categories").items():
            if name not in CATEGORIES:
                raise ValueError(f"categories.{name}: not a category; known: {', '.join(CATEGORIES)}")
            policies[name] = _policy(f"categories.{name}", value)
        replies = dict(DEFAULT_REPLIES)
        for name, text in _mapping(data, "replies").items():
            if name not in REPLY_KEYS:
                raise ValueError(f"replies.{name}: not a reply; known: {', '.join(REPLY_KEYS)}")
            replies[name] = _template(f"replies.{name}", text)
        spam = _mapping(data, "spam")
        urgency = _mapping(data, "urgency")
        weights = dict(DEFAULT_WEIGHTS)
        for name, weight in (urgency.get("weights") or {}).items():
            if name not in CATEGORIES:
                raise ValueError(f"urgency.weights.{name}: not a category")
            weights[name] = _int(f"urgency.weights.{name}", weight)
        return cls(
            policies=policies,
            replies=replies,
            brand=str(data.get("brand") or "Loom & Co"),
            spam_phrases=tuple(str(p) for p in spam.get("phrases") or ()),
            max_links=_int("spam.max_links", spam.get("max_links", 1)),
            weights=weights,
            negative_weight=_int("urgency.negative", urgency.get("negative", 20)),
            reach_weight=_int("urgency.reach", urgency.get("reach", 20)),
        )

    @classmethod
    def watch(
        cls, path: Path = CONFIG_FILE, every: float = CHECK_EVERY_SECONDS
    ) -> WatchedFile[EngagementConfig]:
        """engagement.yml, re-read when edited (a broken file at start-up: ConfigFileError)."""
        return WatchedFile(path, cls.load, every)


def _mapping(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key) or {}
    if not isinstance(value, dict):
        raise ValueError(f"{key} must be a mapping")
    return value


def _int(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{where} must be a whole number from 0, not {value!r}")
    return value


def _policy(where: str, value: Any) -> Policy:
    """`queue`, or {decision, hide, min_confidence}."""
    if isinstance(value, str):
        value = {"decision": value}
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a decision or a mapping")
    unknown = sorted(set(value) - {"decision", "hide", "min_confidence"})
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}")
    decision = value.get("decision", QUEUE)
    if decision not in DECISIONS:
        raise ValueError(f"{where}.decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    confidence = value.get("min_confidence", 0.87)
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float)) or not 0 <= confidence <= 1:
        raise ValueError(f"{where}.min_confidence is a probability (0-1), not {confidence!r}")
    hide = value.get("hide", False)
    if not isinstance(hide, bool):
        raise ValueError(f"{where}.hide must be true or false")
    return Policy(decision, hide, float(confidence))


def _template(where: str, text: Any) -> str:
    """A reply with only known placeholders (a typo would show "{prodcut}" to the public)."""
    if not isinstance(text, str):
        raise ValueError(f"{where} must be text")
    stripped = text
    for placeholder in PLACEHOLDERS:
        stripped = stripped.replace(placeholder, "")
    if "{" in stripped or "}" in stripped:
        raise ValueError(f"{where}: unknown placeholder; known: {', '.join(PLACEHOLDERS)}")
    return text
