"""One-click order actions in the desk: cancel an order, start a return, with the bot's own rules.

Who may: the agent who may act on the ticket (`can_act`: its owner, or a supervisor), and only on an
order the bot itself could change in this conversation (linked to the customer's platform identity,
or verified with its second factor here; bot/desk/customer_orders.py). What is allowed: exactly what
the bot allows, through the same code (bot/shop/orders.py): an order is cancelled by the same
conditional UPDATE, so a shipped order never is; a return needs a delivered order inside the return
window, and is started the way the shop starts every return, with the returns link for that order.

Every attempt that reaches the shop is audited: who, which ticket, which order, the outcome.

The customer is told by the agent, not behind their back: the outcome's reply (the bot's own words
for it, filled with the order) is put in the reply box, and the agent sends it, edited or not, through
the desk's one reply path. A person is in the conversation; the message should read as theirs, can add
what the agent knows (an apology, the refund date they promised), and goes out only once they have seen
what happened: a refused cancellation needs a different answer than a done one. Nothing is lost if they
do not: the audit row says what was done, and the unanswered customer keeps the SLA timer running.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from bot.desk.assist_panel import AgentAssist, Context
from bot.desk.customer_orders import ShownOrder
from bot.desk.ownership import NotFound, OwnershipError, can_act, can_view
from bot.shop.orders import OrderService, OrderSummary, Reply, cancel_done_reply, cancel_reply, return_reply
from bot.storage import audit
from bot.storage.models import Agent, HandoffTicket, utcnow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What an order action did, and what to tell the customer."""

    done: bool
    order: OrderSummary
    reply: Reply  # the bot's response for this outcome, with the order's values
    by_owner: bool = True  # False: a supervisor acted on another agent's ticket (no reply box of theirs)

    @property
    def draft(self) -> str:
        """The link's `draft` value that puts the reply in the agent's reply box."""
        return f"{self.reply.key}-{self.order.id}"


class OrderActions:
    """Cancel and return for the desk, audited."""

    def __init__(self, assist: AgentAssist) -> None:
        self.assist = assist
        self.shop = OrderService(assist.db)

    async def _allowed(self, agent: Agent, ticket_id: int, order_id: int) -> tuple[HandoffTicket, ShownOrder]:
        async with self.assist.db.sessions() as session:
            ticket = await session.get(HandoffTicket, ticket_id)
        if ticket is None or not can_view(agent, ticket):
            raise NotFound(f"no ticket #{ticket_id} for you")
        if not can_act(agent, ticket):
            raise OwnershipError(f"claim ticket #{ticket_id} before changing its orders")
        context: Context = await self.assist.context(ticket)
        shown = context.order(order_id)
        if shown is None or not shown.may_share:
            raise OwnershipError(
                f"order #{order_id} is not linked to this customer nor verified in this conversation:"
                " ask them for the e-mail address or postcode on it first"
            )
        return ticket, shown

    async def _audit(self, agent: Agent, ticket_id: int, action: str, outcome: Outcome) -> None:
        async with self.assist.db.sessions() as session, session.begin():
            audit.record(
                session, agent, action, ticket_id, order_id=outcome.order.id, outcome=outcome.reply.key
            )

    async def cancel(self, agent: Agent, ticket_id: int, order_id: int, confirmed: bool) -> Outcome:
        """Cancel the order if it has not shipped (the agent confirmed first)."""
        if not confirmed:
            raise OwnershipError(f"confirm the cancellation of order #{order_id} first")
        ticket, _ = await self._allowed(agent, ticket_id, order_id)
        owner = ticket.assignee_id == agent.id
        cancelled = await self.shop.cancel(order_id)
        if cancelled is not None:
            outcome = Outcome(True, cancelled, cancel_done_reply(cancelled), owner)
        else:  # shipped or cancelled meanwhile: the same conditional UPDATE the bot relies on said no
            order = await self.shop.get(order_id)
            if order is None:
                raise OwnershipError(f"order #{order_id} no longer exists")
            outcome = Outcome(False, order, cancel_reply(order), owner)
        await self._audit(
            agent, ticket_id, "order_cancelled" if outcome.done else "order_cancel_refused", outcome
        )
        logger.info(
            "desk: %s cancel order %s on ticket #%s: %s",
            agent.username,
            order_id,
            ticket_id,
            outcome.reply.key,
        )
        return outcome

    async def start_return(
        self, agent: Agent, ticket_id: int, order_id: int, now: dt.datetime | None = None
    ) -> Outcome:
        """Start a return if the order was delivered within the return window."""
        ticket, shown = await self._allowed(agent, ticket_id, order_id)
        reply = return_reply(shown.order, now or utcnow())
        outcome = Outcome(reply.key == "return_how", shown.order, reply, ticket.assignee_id == agent.id)
        await self._audit(agent, ticket_id, "return_started" if outcome.done else "return_refused", outcome)
        logger.info(
            "desk: %s return order %s on ticket #%s: %s", agent.username, order_id, ticket_id, reply.key
        )
        return outcome
