"""Which customer messages go to the review queue, and why: content editors correct what the bot misread.

The reader in the monitoring service (bot/monitoring/review_reader.py) follows Rasa's `events` table
with these rules and files a message when:
- the NLU fell back (`nlu_fallback`) or its confidence was low (`LOW_CONFIDENCE`);
- the assistant asked the customer to rephrase (`action_fallback`: the NLU was sure, the dialogue was
  not), which files the message before it;
- a handoff followed a misunderstanding (a fallback or a low-confidence message among the customer's
  last few before `action_handoff`);
- the conversation was rated 1 or 2 (the rating the CSAT action stored on the ticket): the customer's
  unsure messages before the handoff are filed; or the assistant itself was rated 1 or 2 (stored on its
  bot session): the customer's unsure messages before its question are filed.
Buttons, photos without words and API-triggered intents are never filed: there is nothing to teach
from them. The queue itself (what editors do with it) is bot/content/queue.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.conversations.events import customer_message

FALLBACK_INTENT = "nlu_fallback"
REPHRASE_ACTIONS = frozenset({"action_fallback", "action_default_ask_rephrase", "utter_ask_rephrase"})
RATING_ACTION = "action_record_csat"  # stores a rating on the handoff ticket or bot session (actions/csat.py)
PEOPLE_QUESTION = "action_ask_csat"  # the desk's question after a person resolved a handoff
BOT_QUESTION = "action_ask_bot_csat"  # the assistant's own question after it handled a conversation alone
LOW_CONFIDENCE = 0.6  # below it a message is filed even when the NLU did not fall back
UNSURE = 0.9  # a low rating or a handoff files the customer's recent messages below this
LOOK_BACK = 3  # customer messages before a handoff or a rating that may have been misunderstood
LOW_RATING = 2

# Why a message was filed, as the desk shows it.
FELL_BACK = "fallback"
LOW = "low confidence"
REPHRASE = "asked to rephrase"
HANDOFF = "handoff after a misunderstanding"
LOW_CSAT = "rated 1-2"
REASONS = (FELL_BACK, LOW, REPHRASE, HANDOFF, LOW_CSAT)


@dataclass(frozen=True)
class Reading:
    """What the NLU made of one customer message: the intent it would have chosen, and the entities."""

    text: str
    intent: str | None
    confidence: float | None
    fell_back: bool
    entities: tuple[dict[str, Any], ...]
    channel: str
    at: dt.datetime


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def reading(event: Mapping[str, Any]) -> Reading | None:
    """The reading of a `user` event worth reviewing; None for buttons, photos, API intents, empty text."""
    message = customer_message(event)  # the one reading of a `user` event's text, time and channel
    if message is None or message.external:
        return None
    text = message.text.strip()
    if not text or text.startswith("/"):
        return None
    parse = _dict(event.get("parse_data"))
    top = _dict(parse.get("intent"))
    fell_back = top.get("name") == FALLBACK_INTENT
    # FallbackClassifier puts nlu_fallback first and keeps the ranking it overruled after it.
    ranking = [_dict(r) for r in parse.get("intent_ranking") or [] if isinstance(r, dict)]
    chosen = next((r for r in [top, *ranking] if r.get("name") and r.get("name") != FALLBACK_INTENT), {})
    confidence = chosen.get("confidence")
    entities = []
    for entity in parse.get("entities") or []:
        entity = _dict(entity)
        start, end, name = entity.get("start"), entity.get("end"), entity.get("entity")
        if isinstance(start, int) and isinstance(end, int) and isinstance(name, str) and 0 <= start < end:
            value = entity.get("value")
            value = str(value) if value is not None and str(value) != text[start:end] else None
            entities.append({"start": start, "end": end, "entity": name, "value": value})
    return Reading(
        text=text[:2000],
        intent=str(chosen["name"])[:80] if chosen.get("name") else None,
        confidence=float(confidence) if isinstance(confidence, (int, float)) else None,
        fell_back=fell_back,
        entities=tuple(entities),
        channel=(message.input_channel or "")[:40],
        at=message.at,
    )


def own_reasons(read: Reading) -> list[str]:
    """Why a message is worth reviewing by itself (empty: it is not)."""
    if read.fell_back:
        return [FELL_BACK]
    if read.confidence is not None and read.confidence < LOW_CONFIDENCE:
        return [LOW]
    return []


def is_unsure(read: Reading) -> bool:
    """Whether a message may have been misunderstood: what makes a later handoff or rating count."""
    return read.fell_back or read.confidence is None or read.confidence < UNSURE
