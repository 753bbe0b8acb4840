"""Orders: reading and cancelling them, and deciding what to tell the customer about one.

The decisions are pure functions from an `OrderSummary` to a `Reply` (the key of a response
`utter_<key>` in domain.yml plus the values of its placeholders), so they are easy to test.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from bot.shop.const import ORDER_ID_PATTERN, RETURN_WINDOW_DAYS
from bot.shop.formatting import day, join_words, money
from bot.storage.db import Database
from bot.storage.models import Order, OrderItem, ProductVariant, utcnow


class OrderStatus:
    """Values of `orders.status`."""

    PROCESSING = "processing"
    SHIPPED = "shipped"
    OUT_FOR_DELIVERY = "out_for_delivery"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


class RefundStatus:
    """Values of `orders.refund_status`."""

    NONE = "none"
    REQUESTED = "requested"
    ISSUED = "issued"


@dataclass(frozen=True)
class Reply:
    """What to say: the key of a domain.yml response (`utter_<key>`) and the values of its placeholders."""

    key: str
    values: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OrderSummary:
    """The facts about an order that replies are made of."""

    id: int
    status: str
    placed_at: dt.datetime
    total: Decimal
    currency: str
    items: tuple[str, ...]
    shipped_at: dt.datetime | None = None
    estimated_delivery: dt.date | None = None
    delivered_at: dt.datetime | None = None
    cancelled_at: dt.datetime | None = None
    carrier: str | None = None
    tracking_url: str | None = None
    refund_status: str = RefundStatus.NONE
    refund_amount: Decimal | None = None
    refund_issued_at: dt.datetime | None = None

    @classmethod
    def from_row(cls, order: Order) -> OrderSummary:
        """Snapshot an `Order` loaded with its items, variants and products."""
        items = tuple(
            f"{line.quantity} × {line.variant.product.title} ({line.variant.color}, {line.variant.size})"
            if line.quantity > 1
            else f"{line.variant.product.title} ({line.variant.color}, {line.variant.size})"
            for line in order.items
        )
        return cls(
            id=order.id,
            status=order.status,
            placed_at=order.placed_at,
            total=order.total,
            currency=order.currency,
            items=items,
            shipped_at=order.shipped_at,
            estimated_delivery=order.estimated_delivery,
            delivered_at=order.delivered_at,
            cancelled_at=order.cancelled_at,
            carrier=order.carrier,
            tracking_url=order.tracking_url,
            refund_status=order.refund_status,
            refund_amount=order.refund_amount,
            refund_issued_at=order.refund_issued_at,
        )


def parse_order_id(text: object) -> int | None:
    """The order number in a customer's text ("#104523", "it's 104523 thx"), if there is one."""
    match = ORDER_ID_PATTERN.search(str(text or ""))
    return int(match.group(0)) if match else None


def status_reply(order: OrderSummary) -> Reply:
    """Where the order is."""
    values = {"order_id": str(order.id)}
    if order.status == OrderStatus.PROCESSING:
        return Reply("order_processing", {**values, "placed_on": day(order.placed_at)})
    if order.status == OrderStatus.SHIPPED:
        eta = day(order.estimated_delivery) if order.estimated_delivery else "in 2–4 working days"
        return Reply(
            "order_shipped",
            {
                **values,
                "shipped_on": day(order.shipped_at or order.placed_at),
                "carrier": order.carrier or "our courier",
                "eta": eta,
                "tracking_url": order.tracking_url or "(link in your shipping email)",
            },
        )
    if order.status == OrderStatus.OUT_FOR_DELIVERY:
        return Reply(
            "order_out_for_delivery",
            {
                **values,
                "carrier": order.carrier or "our courier",
                "tracking_url": order.tracking_url or "(link in your shipping email)",
            },
        )
    if order.status == OrderStatus.DELIVERED and order.delivered_at:
        return Reply("order_delivered", {**values, "delivered_on": day(order.delivered_at)})
    return cancelled_reply(order)


def cancelled_reply(order: OrderSummary) -> Reply:
    """The order is cancelled (the money goes back automatically)."""
    cancelled_on = day(order.cancelled_at or order.placed_at)
    return Reply("order_cancelled", {"order_id": str(order.id), "cancelled_on": cancelled_on})


def cancel_reply(order: OrderSummary) -> Reply:
    """Ask to confirm a cancellation, or explain why it cannot be done."""
    if order.status == OrderStatus.PROCESSING:
        return Reply(
            "cancel_confirm",
            {
                "order_id": str(order.id),
                "items": join_words(order.items),
                "total": money(order.total, order.currency),
            },
        )
    if order.status == OrderStatus.CANCELLED:
        return cancelled_reply(order)
    return Reply("cancel_too_late", {"order_id": str(order.id)})


def cancel_done_reply(order: OrderSummary) -> Reply:
    """The order has just been cancelled."""
    return Reply("cancel_done", {"order_id": str(order.id), "total": money(order.total, order.currency)})


def return_reply(order: OrderSummary, now: dt.datetime | None = None) -> Reply:
    """How to send the order back, or why it cannot be."""
    now = now or utcnow()
    values = {"order_id": str(order.id)}
    if order.status == OrderStatus.CANCELLED:
        return Reply("return_cancelled", values)
    if order.status != OrderStatus.DELIVERED or order.delivered_at is None:
        return Reply("return_not_delivered", values)
    return_by = order.delivered_at + dt.timedelta(days=RETURN_WINDOW_DAYS)
    if now > return_by:
        return Reply("return_window_closed", {**values, "delivered_on": day(order.delivered_at)})
    return Reply(
        "return_how",
        {
            **values,
            "return_by": day(return_by),
            "returns_url": f"https://loomandco.example/returns?order={order.id}",
        },
    )


def refund_reply(order: OrderSummary) -> Reply:
    """Where the customer's money is."""
    values = {"order_id": str(order.id)}
    amount = money(order.refund_amount or order.total, order.currency)
    if order.refund_status == RefundStatus.ISSUED:
        issued = day(order.refund_issued_at) if order.refund_issued_at else "recently"
        return Reply("refund_issued", {**values, "refund_amount": amount, "refund_date": issued})
    if order.refund_status == RefundStatus.REQUESTED:
        return Reply("refund_requested", {**values, "refund_amount": amount})
    if order.status == OrderStatus.CANCELLED:
        return cancelled_reply(order)
    return Reply("refund_none", values)


class OrderService:
    """Reads and changes orders in the database."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def get(self, order_id: int) -> OrderSummary | None:
        """The order with this number, or None."""
        return (await self.many([order_id])).get(order_id)

    async def many(self, order_ids: Iterable[int]) -> dict[int, OrderSummary]:
        """The orders with these numbers that exist, by number, in one query."""
        wanted = sorted(set(order_ids))
        if not wanted:
            return {}
        query = (
            select(Order)
            .where(Order.id.in_(wanted))
            .options(
                selectinload(Order.items).selectinload(OrderItem.variant).selectinload(ProductVariant.product)
            )
        )
        async with self._db.sessions() as session:
            return {order.id: OrderSummary.from_row(order) for order in await session.scalars(query)}

    async def cancel(self, order_id: int, now: dt.datetime | None = None) -> OrderSummary | None:
        """Cancel the order if it has not shipped; the cancelled order if this call cancelled it.

        One conditional UPDATE, so two simultaneous requests (or a warehouse update racing a
        customer) can never both succeed or cancel a shipped order.
        """
        now = now or utcnow()
        statement = (
            update(Order)
            .where(Order.id == order_id, Order.status == OrderStatus.PROCESSING)
            .values(status=OrderStatus.CANCELLED, cancelled_at=now)
        )
        async with self._db.sessions() as session, session.begin():
            result = await session.execute(statement)
        return await self.get(order_id) if result.rowcount == 1 else None
