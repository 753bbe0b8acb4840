"""Customer satisfaction (CSAT): a 1-5 rating after a person resolved a handoff, or of the assistant itself.

The desk resumes the bot and triggers the `EXTERNAL_csat_request` intent; `action_ask_csat` asks.
When a conversation the bot handled alone ended, the monitoring service triggers
`EXTERNAL_bot_csat_request`; `action_ask_bot_csat` asks "How did I do?" (once per Rasa session, so a
retried trigger is harmless). The answer goes to whoever asked last: the ticket, or the bot's session.
`action_record_csat` runs for every `rate_service` message and decides from the conversation whether
it answers our question: a bare "4" is a rating right after the question, but out of the blue it may
be a size or half an order number, so it is never stored then.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ServiceAction
from actions.replies import say
from actions.services import services
from bot.handoff.tickets import HandoffService
from bot.storage.bot_ratings import Rated

ASK_ACTION = "action_ask_csat"
BOT_ASK_ACTION = "action_ask_bot_csat"
ASK_ACTIONS = (ASK_ACTION, BOT_ASK_ACTION)
SESSION_START = "session_started"
RECORD_ACTION = "action_record_csat"
SCORE_SLOT = "csat_score"
LOW_SCORES = (1, 2)  # apologise, and say a supervisor reads it
# A typed rating counts as the answer only this many customer messages after the question; later a
# bare number more likely means something else (a size, a quantity, part of an order number).
ANSWER_WITHIN = 3

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5,
    "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
NUMBER = re.compile(r"\d+|\b(?:" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)
STARS = re.compile(r"[⭐★🌟]")
# Wording that makes a number a rating even when nobody asked ("5 stars", "4/5", "I'd give you a 3").
RATING_WORDS = re.compile(r"[⭐★🌟]|\bstars?\b|/\s*5\b|\bout of\b|\brat(?:e|ing)\b|\bgive\b", re.IGNORECASE)


def _as_int(value: Any) -> int | None:
    text = str(value).strip().lower()
    if text.isdigit():
        return int(text)
    return NUMBER_WORDS.get(text)


def parse_score(entities: Iterable[dict[str, Any]], text: str) -> int | None:
    """The rating in a message: its `csat_score` entity, else the first number or the stars in its text.

    The text is the fallback because spaCy may take "3/5" for a date and the extractor then drops
    DIET's entity; "3/5" and "3 out of 5" give the first number, "⭐⭐⭐⭐" counts the stars.
    """
    for entity in entities:
        if entity.get("entity") == SCORE_SLOT and (score := _as_int(entity.get("value"))) is not None:
            return score
    if match := NUMBER.search(text):
        return _as_int(match.group())
    stars = len(STARS.findall(text))
    return stars or None


def is_button(text: str) -> bool:
    """Whether the message is a button payload (a tap, or a numbered option typed on X)."""
    return text.startswith("/")


def messages_since_question(events: list[dict[str, Any]]) -> int | None:
    """Customer messages since the latest CSAT question (this one included); None if never asked."""
    count = 0
    for event in reversed(events):
        if event.get("event") == "user":
            count += 1
        elif event.get("event") == "action" and event.get("name") in ASK_ACTIONS:
            return count
    return None


def latest_question(events: list[dict[str, Any]]) -> str | None:
    """Which ask action asked last (the people's or the assistant's); None if neither did."""
    for event in reversed(events):
        if event.get("event") == "action" and event.get("name") in ASK_ACTIONS:
            return str(event["name"])
    return None


def bot_asked_this_session(events: list[dict[str, Any]]) -> bool:
    """Whether the assistant already asked for its rating since Rasa's latest session start."""
    for event in reversed(events):
        if event.get("event") == SESSION_START:
            return False
        if event.get("event") == "action" and event.get("name") == BOT_ASK_ACTION:
            return True
    return False


def asked_again(events: list[dict[str, Any]]) -> bool:
    """Whether a rating was already tried since the latest question (we ask again only once)."""
    for event in reversed(events):
        if event.get("event") == "action" and event.get("name") == RECORD_ACTION:
            return True
        if event.get("event") == "action" and event.get("name") in ASK_ACTIONS:
            return False
    return False


class ActionAskCsat(Action):
    """How did we do? Buttons 1 to 5 (numbered options on X, so typing "4" picks score 4)."""

    def name(self) -> str:
        return ASK_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        say(dispatcher, "csat_ask")
        return [SlotSet(SCORE_SLOT, None)]


class ActionAskBotCsat(Action):
    """How did I do? The same buttons, asked once per Rasa session whatever the triggers.

    The monitoring service marks the session asked before it triggers, and retries a trigger whose
    answer it did not get; if the first one did reach Rasa, this one finds the question and says nothing.
    """

    def name(self) -> str:
        return BOT_ASK_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        if bot_asked_this_session(tracker.events):
            return []
        say(dispatcher, "bot_csat_ask")
        return [SlotSet(SCORE_SLOT, None)]


class ActionRecordCsat(ServiceAction):
    """Store the rating (once) on the resolved ticket or the bot's session, thank, clear the slot."""

    def name(self) -> str:
        return RECORD_ACTION

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        text = tracker.latest_message.get("text") or ""
        score = parse_score(tracker.latest_message.get("entities") or [], text)
        since = messages_since_question(tracker.events)
        answering = is_button(text) or (since is not None and since <= ANSWER_WITHIN)
        done = [SlotSet(SCORE_SLOT, None)]
        if not answering:
            # Nobody asked: thank for an explicit rating, never store a stray number.
            if RATING_WORDS.search(text):
                say(dispatcher, "csat_thanks_neutral")
            else:
                say(dispatcher, "csat_unclear_number")
            return done
        if score is None or score not in HandoffService.CSAT_SCORES:
            if asked_again(tracker.events):
                say(dispatcher, "csat_no_rating")
            else:
                say(dispatcher, "csat_ask_again")
            return done
        if latest_question(tracker.events) == BOT_ASK_ACTION:
            rated = await services().bot_ratings.record(tracker.sender_id, score)
            if rated is Rated.STORED and score in LOW_SCORES:
                say(dispatcher, "csat_thanks_low")
            elif rated is Rated.STORED:
                say(dispatcher, "csat_thanks", score=str(score))
            elif rated is Rated.ALREADY:
                say(dispatcher, "csat_already_rated")
            else:
                say(dispatcher, "csat_thanks_neutral")
            return done
        handoff = services().handoff
        if await handoff.record_csat(tracker.sender_id, score) is not None:
            if score in LOW_SCORES:
                say(dispatcher, "csat_thanks_low")
            else:
                say(dispatcher, "csat_thanks", score=str(score))
        elif await handoff.already_rated(tracker.sender_id):
            say(dispatcher, "csat_already_rated")
        else:
            say(dispatcher, "csat_thanks_neutral")
        return done
