"""Escalation: the frustration trend after every message, the handoff to a person, abuse flags."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.base import ServiceAction
from actions.customers import customer_name
from actions.replies import say
from actions.services import services
from bot.handoff import escalation
from bot.handoff.escalation import LANGUAGE_REASON, priority
from bot.handoff.summary import at_handoff
from bot.language.detection import from_parse

ACTION_LISTEN = "action_listen"


def identities(tracker: Tracker) -> list[str | None]:
    """What a VIP list may name: the platform id, the @handle, the e-mail."""
    return escalation.identities(
        tracker.sender_id, tracker.latest_message.get("metadata"), tracker.get_slot("email")
    )


class ActionUpdateSentiment(Action):
    """Runs on every customer message (the slots' custom mapping): trend, escalation, photo present.

    The Rasa server started by this project runs the same mapping in process
    (`bot/rasa_server/local_actions.py`); this one serves a plain `rasa run`.
    """

    def name(self) -> str:
        return "action_update_sentiment"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        slots = escalation.escalation_slots(
            tracker.events,
            services().escalation,
            tracker.sender_id,
            tracker.latest_message.get("metadata"),
            tracker.get_slot("email"),
        )
        return [SlotSet(name, value) for name, value in slots.items()]


class ActionHandoff(ServiceAction):
    """Open a ticket for a person, say honestly what happens next, and pause the bot."""

    def name(self) -> str:
        return "action_handoff"

    async def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[dict[str, Any]]:
        config = services().escalation
        reason = tracker.get_slot("escalation_reason") or "customer_request"
        trend = float(tracker.get_slot("sentiment_trend") or 0.0)
        vip = config.is_vip(identities(tracker))
        language = from_parse(tracker.latest_message)
        ticket = await services().handoff.open_ticket(
            conversation_id=tracker.sender_id,
            channel=tracker.get_latest_input_channel() or "unknown",
            reason=reason,
            sentiment_trend=trend,
            priority=priority(reason, trend, vip),
            summary=at_handoff(tracker.events, config.alpha),
            customer_name=await customer_name(tracker),
            language=language.code if language else None,
        )
        if reason == LANGUAGE_REASON and language is not None:
            # Honest, in the customer's language when languages.yml has it translated.
            reply = services().languages.handoff_reply(language.code)
            say(dispatcher, "handoff_language", language_reply=reply.text)
        elif ticket.created:
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
