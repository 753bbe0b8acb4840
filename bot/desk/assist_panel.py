"""Agent assist beside a conversation: the live summary, the customer's orders, the suggested replies.

Built each time the desk renders the conversation (page or live fragment), from the conversation's
stored events and the shop's tables, so it always says what is true now.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from bot.conversations.tail import Transcripts
from bot.desk import bot_responses
from bot.desk.canned import Canned
from bot.desk.customer_orders import CustomerOrders, ShownOrder
from bot.desk.suggestions import Suggestion, rank
from bot.handoff.summary import Facts, read_facts, summarize
from bot.shop.order_access import Identity
from bot.shop.orders import OrderStatus, Reply, cancel_done_reply, cancel_reply, return_reply
from bot.storage.db import Database
from bot.storage.models import HandoffTicket, utcnow

EVENT_TYPES = ("user", "bot", "slot", "resume", "restart")
# What an order action tells the customer, by the outcome's response key: recomputed from the order as
# it is now when the page shows it (the link carries only the key and the order number).
DRAFTS = {
    "cancel_done": lambda order, now: (
        cancel_done_reply(order) if order.status == OrderStatus.CANCELLED else cancel_reply(order)
    ),
    "cancel_too_late": lambda order, now: cancel_reply(order),
    "order_cancelled": lambda order, now: cancel_reply(order),
    "return_how": return_reply,
    "return_not_delivered": return_reply,
    "return_window_closed": return_reply,
    "return_cancelled": return_reply,
}


@dataclass(frozen=True)
class Context:
    """A conversation's facts and orders, as both the panel and the order actions need them."""

    facts: Facts
    orders: list[ShownOrder]
    missing: list[int]

    def order(self, order_id: int) -> ShownOrder | None:
        """The shown order with this number (an order that is not shown is not there for the agent)."""
        return next((o for o in self.orders if o.order.id == order_id), None)


@dataclass(frozen=True)
class Panel:
    """What the assist panel shows."""

    summary: str
    context: Context
    suggestions: list[Suggestion]
    draft: str | None = None  # the text an order action left for the reply box
    confirm_cancel: ShownOrder | None = None  # the order whose cancellation waits for a second click
    now: dt.datetime = field(default_factory=utcnow)


class AgentAssist:
    """Reads what the panel and the order actions need."""

    def __init__(self, database: Database, transcripts: Transcripts) -> None:
        self.db = database
        self.transcripts = transcripts
        self.orders = CustomerOrders(database)

    async def context(self, ticket: HandoffTicket) -> Context:
        """The facts of the ticket's conversation and the orders to show beside it."""
        events = await self.transcripts.events(ticket.conversation_id, EVENT_TYPES)
        facts = read_facts(events)
        identity = Identity(ticket.channel, ticket.conversation_id)
        shown, missing = await self.orders.for_conversation(identity, facts.order_ids, facts.verified)
        return Context(facts, shown, missing)

    async def panel(
        self,
        ticket: HandoffTicket,
        canned: Sequence[tuple[Canned, str]],
        alpha: float,
        draft: str = "",
        confirm: str = "",
    ) -> Panel:
        """The panel; `draft` ("cancel_done-104523") and `confirm` ("104523") come from the page's link."""
        context = await self.context(ticket)
        now = utcnow()
        shareable = [o.order for o in context.orders if o.may_share]
        known = {o.order.id: o.order for o in context.orders}
        suggestions = rank(context.facts, shareable, canned, bot_responses.load(), now)
        pending = context.order(int(confirm)) if confirm.isdigit() else None
        return Panel(
            summary=summarize(context.facts, known, alpha),
            context=context,
            suggestions=suggestions,
            draft=self._draft(context, draft, now),
            confirm_cancel=pending if pending is not None and pending.can_cancel else None,
            now=now,
        )

    @staticmethod
    def _draft(context: Context, draft: str, now: dt.datetime) -> str | None:
        key, _, number = draft.rpartition("-")
        shown = context.order(int(number)) if number.isdigit() else None
        if key not in DRAFTS or shown is None or not shown.may_share:
            return None
        reply: Reply = DRAFTS[key](shown.order, now)
        return bot_responses.fill(bot_responses.load().get(reply.key, ""), reply.values)
