"""Escalation: the frustration trend after every message, the handoff to a person, abuse flags."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ServiceAction
from actions.replies import say
from actions.services import services
from bot.handoff.escalation import Turn, decide, priority, summary

RESTART_EVENTS = {"session_started", "resume", "restart"}
ACTION_LISTEN = "action_listen"
EXTERNAL_PREFIX = "EXTERNAL_"  # Rasa's naming convention for intents triggered from outside


def is_external(event: dict[str, Any]) -> bool:
    """An intent triggered through Rasa's HTTP API (the desk's CSAT request), not a customer message."""
    intent = ((event.get("parse_data") or {}).get("intent") or {}).get("name") or ""
    return intent.startswith(EXTERNAL_PREFIX) or bool((event.get("metadata") or {}).get("is_external"))


def turns_since_handoff(events: list[dict[str, Any]]) -> list[Turn]:
    """The customer's messages since the session started or the last handoff / resume."""
    turns: list[Turn] = []
    for event in events:
        kind = event.get("event")
        if kind in RESTART_EVENTS or (kind == "action" and event.get("name") == "action_handoff"):
            turns = []
        elif kind == "user" and not is_external(event):
            data = event.get("parse_data") or {}
            sentiment = data.get("sentiment") or {}
            turns.append(
                Turn(
                    intent=(data.get("intent") or {}).get("name") or "",
                    score=float(sentiment.get("score", 0.0)),
                    label=str(sentiment.get("label", "neutral")),
                    signals=tuple(sentiment.get("signals", ())),
                    text=event.get("text") or "",
                )
            )
    return turns


def identities(tracker: Tracker) -> list[str | None]:
    """What a VIP list may name: the platform id, the @handle, the e-mail."""
    metadata = tracker.latest_message.get("metadata") or {}
    handle = metadata.get("sender_screen_name")
    return [tracker.sender_id, f"@{handle}" if handle else None, tracker.get_slot("email")]


class ActionUpdateSentiment(Action):
    """Runs on every customer message (the slots' custom mapping): trend, escalation, photo present."""

    def name(self) -> str:
        return "action_update_sentiment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        config = services().escalation
        decision = decide(turns_since_handoff(tracker.events), config, vip=config.is_vip(identities(tracker)))
        return [
            SlotSet("sentiment_trend", round(decision.trend, 4)),
            SlotSet("escalate", decision.escalate),
            SlotSet("escalation_reason", decision.reason),
            SlotSet("abusive", decision.abusive),
            SlotSet("has_photo", bool((tracker.latest_message.get("metadata") or {}).get("image_urls"))),
        ]


class ActionHandoff(ServiceAction):
    """Open a ticket for a person, say honestly what happens next, and pause the bot."""

    def name(self) -> str:
        return "action_handoff"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        config = services().escalation
        turns = turns_since_handoff(tracker.events)
        reason = tracker.get_slot("escalation_reason") or "customer_request"
        trend = float(tracker.get_slot("sentiment_trend") or 0.0)
        vip = config.is_vip(identities(tracker))
        metadata = tracker.latest_message.get("metadata") or {}
        ticket = await services().handoff.open_ticket(
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            reason=reason,
            sentiment_trend=trend,
            priority=priority(reason, trend, vip),
            summary=summary(turns),
            customer_name=metadata.get("sender_name"),
        )
        if ticket.created:
            say(dispatcher, "handoff_created", ticket=str(ticket.id))
        else:
            say(dispatcher, "handoff_already_open", ticket=str(ticket.id))
        # A pause stops Rasa's prediction loop before its usual `action_listen`, and nothing adds one on
        # `resume`: the next message (the desk's CSAT request, or the customer's) would follow
        # action_handoff directly, match no rule, and go to the fallback, whose revert can even repeat
        # the handoff. Listening first makes the resumed conversation look like any other turn.
        return [
            SlotSet("escalate", False),
            SlotSet("escalation_reason", None),
            ActionExecuted(ACTION_LISTEN),
            ConversationPaused(),
        ]


class ActionFlagAbuse(ServiceAction):
    """Repeated abuse: flagged for moderation and a firm boundary, not a reward of a human."""

    def name(self) -> str:
        return "action_flag_abuse"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        await services().handoff.flag(
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            reason="repeated_abuse",
            text=tracker.latest_message.get("text") or "",
        )
        say(dispatcher, "abuse_flagged")
        return []
