"""Rasa's events, read once: what the customer said, transcript lines for the desk, who answered.

Rasa's event JSON (`rasa/shared/core/events.py`: `user` events with `parse_data`, `bot` events with
`data` and `metadata`) is interpreted here and nowhere else: escalation, the desk and monitoring all
read the same parsed message, so "external", "what the customer saw" or a sentiment score cannot mean
one thing to one of them and another to the next. Stdlib only, like the metadata contract.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.conversations import metadata as meta
from bot.language import detection

RESTART_EVENTS = frozenset({"session_started", "resume", "restart"})  # a new start after these
HANDOFF_ACTION = "action_handoff"
# Rasa's marks on an intent triggered through its HTTP API (UserUttered.create_external): the text
# "EXTERNAL: <intent>", `is_external` in the metadata, and by convention an intent named EXTERNAL_...
EXTERNAL_TEXT = "EXTERNAL: "
EXTERNAL_INTENT = "EXTERNAL_"


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _at(event: Mapping[str, Any]) -> dt.datetime:
    return dt.datetime.fromtimestamp(float(event.get("timestamp") or 0), dt.timezone.utc)


def is_external(event: Mapping[str, Any]) -> bool:
    """A `user` event nobody typed: an intent triggered through Rasa's API (the desk's CSAT request)."""
    if event.get("event") != "user":
        return False
    text = event.get("text")
    intent = _dict(_dict(event.get("parse_data")).get("intent")).get("name")
    return (
        meta.marked_external(event.get("metadata"))
        or (isinstance(text, str) and text.startswith(EXTERNAL_TEXT))
        or (isinstance(intent, str) and intent.startswith(EXTERNAL_INTENT))
    )


@dataclass(frozen=True)
class CustomerMessage:
    """One stored `user` event: the text, Rasa's reading of it, and our metadata."""

    text: str
    at: dt.datetime
    intent: str | None = None
    intent_confidence: float | None = None
    sentiment_label: str | None = None
    sentiment_score: float | None = None
    signals: tuple[str, ...] = ()
    input_channel: str | None = None
    external: bool = False
    metadata: Mapping[str, Any] | None = None
    language: str | None = None  # ISO 639-1 (None: parsed before languages were detected)
    language_trained: bool = True  # False: a language the assistant is not trained for

    @property
    def shown_text(self) -> str:
        """What the customer saw: a button's title or a photo's caption rather than its `/payload`."""
        if self.text.startswith("/"):
            return meta.shown_text(self.metadata) or self.text
        return self.text

    @property
    def image_urls(self) -> tuple[str, ...]:
        """The photos the customer sent."""
        return meta.image_urls(self.metadata)

    @property
    def customer_label(self) -> str | None:
        """The customer's @handle or name, when the platform told us."""
        return meta.customer_label(self.metadata)


def customer_message(event: Mapping[str, Any]) -> CustomerMessage | None:
    """The message of a `user` event; None for any other event."""
    if event.get("event") != "user":
        return None
    parse = _dict(event.get("parse_data"))
    intent = _dict(parse.get("intent"))
    sentiment = _dict(parse.get("sentiment"))
    signals = sentiment.get("signals")
    name, label, channel = intent.get("name"), sentiment.get("label"), event.get("input_channel")
    language = detection.from_parse(parse)
    return CustomerMessage(
        text=str(event.get("text") or ""),
        at=_at(event),
        intent=name if isinstance(name, str) and name else None,
        intent_confidence=_number(intent.get("confidence")),
        sentiment_label=label if isinstance(label, str) else None,
        sentiment_score=_number(sentiment.get("score")),
        signals=tuple(str(s) for s in signals) if isinstance(signals, (list, tuple)) else (),
        input_channel=channel if isinstance(channel, str) and channel else None,
        external=is_external(event),
        metadata=_dict(event.get("metadata")),
        language=language.code if language else None,
        language_trained=language.trained if language else True,
    )


def since_handoff(events: Iterable[Mapping[str, Any]]) -> list[CustomerMessage]:
    """What the customer said since the session started or the last handoff or resume (external excluded)."""
    said: list[CustomerMessage] = []
    for event in events:
        kind = event.get("event")
        if kind in RESTART_EVENTS or (kind == "action" and event.get("name") == HANDOFF_ACTION):
            said = []
            continue
        message = customer_message(event)
        if message is not None and not message.external:
            said.append(message)
    return said


def taken_outside(event: Mapping[str, Any]) -> str | None:
    """Where a person answered outside the desk (Meta's inbox), when this event is their reply."""
    if event.get("event") != "bot" or meta.author(event.get("metadata")) != meta.HUMAN_AGENT:
        return None
    return meta.source(event.get("metadata")) or "outside"


@dataclass(frozen=True)
class Card:
    """A product card the bot showed (generic template element)."""

    title: str
    subtitle: str = ""
    image_url: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Line:
    """One turn of a transcript."""

    event_id: int
    at: dt.datetime
    author: str  # customer | bot | agent | outside (a person in Meta's inbox)
    text: str
    intent: str | None = None
    intent_confidence: float | None = None
    sentiment_label: str | None = None
    sentiment_score: float | None = None
    agent_name: str | None = None
    image_urls: tuple[str, ...] = ()
    cards: tuple[Card, ...] = ()
    options: tuple[str, ...] = ()
    language: str | None = None
    language_trained: bool = True

    def as_json(self) -> dict[str, Any]:
        """For the live view's JSON API (the browser renders it as text, never as HTML)."""
        return {
            "event_id": self.event_id,
            "at": self.at.isoformat(),
            "author": self.author,
            "text": self.text,
            "intent": self.intent,
            "sentiment_label": self.sentiment_label,
            "sentiment_score": self.sentiment_score,
            "agent_name": self.agent_name,
            "image_urls": list(self.image_urls),
            "cards": [card.__dict__ for card in self.cards],
            "options": list(self.options),
            "language": self.language,
            "language_trained": self.language_trained,
        }


def _link(value: Any) -> str | None:
    """A card's link, only when it is a web address (a `javascript:` URL is never a link)."""
    return value if isinstance(value, str) and value.startswith(("https://", "http://")) else None


def _cards(data: dict[str, Any]) -> tuple[Card, ...]:
    elements = data.get("elements") or []
    attachment = data.get("attachment")
    if isinstance(attachment, dict):
        elements = elements or (attachment.get("payload") or {}).get("elements") or []
    cards = []
    for element in elements if isinstance(elements, list) else []:
        if isinstance(element, dict) and element.get("title"):
            buttons = element.get("buttons") or []
            url = next((b.get("url") for b in buttons if isinstance(b, dict) and b.get("url")), None)
            cards.append(
                Card(
                    title=str(element["title"]),
                    subtitle=str(element.get("subtitle") or ""),
                    image_url=str(element["image_url"]) if element.get("image_url") else None,
                    url=_link(url) or _link((element.get("default_action") or {}).get("url")),
                )
            )
    return tuple(cards)


def _speaker(metadata: Any) -> str:
    return {meta.AGENT: "agent", meta.HUMAN_AGENT: "outside"}.get(meta.author(metadata) or "", "bot")


def to_line(event_id: int, event: Mapping[str, Any]) -> Line | None:
    """A transcript line from one stored Rasa event, or None for events nobody said."""
    message = customer_message(event)
    if message is not None:
        return Line(
            event_id=event_id,
            at=message.at,
            author="customer",
            text=event.get("text") or "",
            intent=message.intent,
            intent_confidence=message.intent_confidence,
            sentiment_label=message.sentiment_label,
            sentiment_score=message.sentiment_score,
            image_urls=message.image_urls,
            language=message.language,
            language_trained=message.language_trained,
        )
    if event.get("event") == "bot":
        data = _dict(event.get("data"))
        options = tuple(
            str(b.get("title"))
            for b in (data.get("buttons") or data.get("quick_replies") or [])
            if isinstance(b, dict) and b.get("title")
        )
        return Line(
            event_id=event_id,
            at=_at(event),
            author=_speaker(event.get("metadata")),
            text=event.get("text") or "",
            agent_name=meta.agent_name(event.get("metadata")),
            image_urls=(data["image"],) if isinstance(data.get("image"), str) else (),
            cards=_cards(data),
            options=options,
        )
    return None
