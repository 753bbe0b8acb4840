"""The orders beside a conversation in the desk, and what an agent may do with them.

Only two kinds of order are ever shown: those mentioned in the conversation, and those of the shop
customer the conversation's platform identity is linked to (bot/shop/order_access.py). An agent sees a
mentioned order even when it is not the customer's (they need to know what was asked about), marked
as such; its details may be shared with the customer, and it may be changed, only when the bot could
too: the order is linked to this identity, or the customer gave its second factor in this conversation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from bot.shop.const import RETURN_WINDOW_DAYS
from bot.shop.formatting import money
from bot.shop.order_access import Identity
from bot.shop.orders import OrderService, OrderStatus, OrderSummary, RefundStatus, return_reply
from bot.storage.db import Database
from bot.storage.models import CustomerIdentity, Order

MAX_LINKED = 8  # the customer's latest orders; older ones are a search away in the shop's back office
MAX_MENTIONED = 8


@dataclass(frozen=True)
class ShownOrder:
    """An order beside the transcript, and why it is there."""

    order: OrderSummary
    mentioned: bool
    linked: bool
    verified: bool  # the customer gave its e-mail or postcode in this conversation
    in_question: bool  # the order mentioned last

    @property
    def total(self) -> str:
        """£45.00."""
        return money(self.order.total, self.order.currency)

    @property
    def refund(self) -> str | None:
        """The refund in a few words (Refund issued (£45.00)); None when there is none."""
        order = self.order
        if order.refund_status == RefundStatus.NONE:
            return None
        amount = money(order.refund_amount or order.total, order.currency)
        return f"Refund {order.refund_status} ({amount})"

    @property
    def tracking_link(self) -> str | None:
        """The carrier's tracking page, only when it is a web address."""
        url = self.order.tracking_url
        return url if url and url.startswith(("https://", "http://")) else None

    @property
    def may_share(self) -> bool:
        """Whether its details may go to this customer and it may be changed for them."""
        return self.linked or self.verified

    @property
    def can_cancel(self) -> bool:
        """The bot's rule: only an order that has not shipped can be cancelled."""
        return self.may_share and self.order.status == OrderStatus.PROCESSING

    def can_return(self, now: dt.datetime | None = None) -> bool:
        """The bot's rule: a delivered order, within the return window."""
        return self.may_share and return_reply(self.order, now).key == "return_how"

    def return_by(self) -> dt.datetime | None:
        """The last day of the return window, for a delivered order."""
        delivered = self.order.delivered_at
        return delivered + dt.timedelta(days=RETURN_WINDOW_DAYS) if delivered else None


def select_orders(
    mentioned: Sequence[int],
    verified: Iterable[int],
    linked: Sequence[OrderSummary],
    found: Mapping[int, OrderSummary],
) -> tuple[list[ShownOrder], list[int]]:
    """(orders to show, mentioned numbers that are no order), in the order an agent wants them.

    The one in question first, then the other mentioned ones (latest mention first), then the
    customer's other orders (newest first).

    `found` may hold more orders than that (a loader's cache): only mentioned or linked ones are shown.
    """
    linked_ids = {o.id for o in linked}
    verified_ids = set(verified)
    in_question = mentioned[-1] if mentioned else None
    shown: list[ShownOrder] = []
    missing: list[int] = []
    for order_id in reversed(mentioned[-MAX_MENTIONED:]):
        order = found.get(order_id)
        if order is None:
            missing.append(order_id)
            continue
        shown.append(
            ShownOrder(order, True, order_id in linked_ids, order_id in verified_ids, order_id == in_question)
        )
    mentioned_ids = set(mentioned)
    for order in sorted(linked, key=lambda o: o.placed_at, reverse=True):
        if order.id not in mentioned_ids:
            shown.append(ShownOrder(order, False, True, order.id in verified_ids, False))
    return shown, missing


class CustomerOrders:
    """Loads the orders of a conversation from the shop's tables."""

    def __init__(self, database: Database) -> None:
        self._db = database
        self._shop = OrderService(database)

    async def linked(self, identity: Identity, limit: int = MAX_LINKED) -> list[OrderSummary]:
        """The latest orders of the customer this platform identity is linked to (none if it is not)."""
        if not identity.linkable:
            return []
        ids = (
            select(Order.id)
            .join(CustomerIdentity, CustomerIdentity.customer_id == Order.customer_id)
            .where(
                CustomerIdentity.channel == identity.channel,
                CustomerIdentity.external_id == identity.sender_id,
            )
            .order_by(Order.placed_at.desc())
            .limit(limit)
        )
        async with self._db.sessions() as session:
            found = list(await session.scalars(ids))
        return list((await self.many(found)).values())

    async def many(self, order_ids: Iterable[int]) -> dict[int, OrderSummary]:
        """The orders with these numbers that exist, by number (the shop's own loader)."""
        return await self._shop.many(order_ids)

    async def for_conversation(
        self, identity: Identity, mentioned: Sequence[int], verified: Iterable[int]
    ) -> tuple[list[ShownOrder], list[int]]:
        """The orders to show beside this conversation, and mentioned numbers that are no order."""
        linked = await self.linked(identity)
        found = await self.many(mentioned[-MAX_MENTIONED:])
        return select_orders(mentioned, verified, linked, found)
