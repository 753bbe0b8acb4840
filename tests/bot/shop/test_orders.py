"""What the assistant says about an order, for every state an order can be in."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from bot.shop.orders import (
    OrderStatus,
    OrderSummary,
    RefundStatus,
    cancel_done_reply,
    cancel_reply,
    parse_order_id,
    refund_reply,
    return_reply,
    status_reply,
)

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.timezone.utc)


def order(status: str, **changes) -> OrderSummary:
    values = {
        "id": 104523,
        "status": status,
        "placed_at": NOW - dt.timedelta(days=3),
        "total": Decimal("45.00"),
        "currency": "GBP",
        "items": ("Linen Shirt (white, M)",),
    }
    return OrderSummary(**{**values, **changes})


@pytest.mark.parametrize(
    ("text", "expected"),
    [("104523", 104523), ("#104523", 104523), ("it's 104523 thx", 104523), ("order no.112930!", 112930)],
)
def test_order_numbers_are_found_in_text(text, expected):
    assert parse_order_id(text) == expected


@pytest.mark.parametrize("text", ["10452", "1045231", "204523", "", None, "call 07104523999"])
def test_anything_else_is_not_an_order_number(text):
    assert parse_order_id(text) is None


def test_processing_order():
    reply = status_reply(order(OrderStatus.PROCESSING))
    assert reply.key == "order_processing"
    assert reply.values["placed_on"] == "Sun 22 Nov"


def test_shipped_order_has_carrier_eta_and_tracking():
    shipped = order(
        OrderStatus.SHIPPED,
        shipped_at=NOW - dt.timedelta(days=2),
        estimated_delivery=dt.date(2026, 11, 26),
        carrier="Royal Mail",
        tracking_url="https://track.example/RM1",
    )
    reply = status_reply(shipped)
    assert reply.key == "order_shipped"
    assert reply.values == {
        "order_id": "104523",
        "shipped_on": "Mon 23 Nov",
        "carrier": "Royal Mail",
        "eta": "Thu 26 Nov",
        "tracking_url": "https://track.example/RM1",
    }


def test_delivered_and_cancelled_orders():
    delivered = order(OrderStatus.DELIVERED, delivered_at=NOW - dt.timedelta(days=1))
    assert status_reply(delivered).key == "order_delivered"
    cancelled = order(OrderStatus.CANCELLED, cancelled_at=NOW)
    assert status_reply(cancelled).key == "order_cancelled"


def test_only_unshipped_orders_can_be_cancelled():
    confirm = cancel_reply(order(OrderStatus.PROCESSING))
    assert confirm.key == "cancel_confirm"
    assert confirm.values["total"] == "£45.00"
    assert "Linen Shirt" in confirm.values["items"]
    assert cancel_reply(order(OrderStatus.SHIPPED)).key == "cancel_too_late"
    assert cancel_reply(order(OrderStatus.OUT_FOR_DELIVERY)).key == "cancel_too_late"
    assert cancel_reply(order(OrderStatus.CANCELLED)).key == "order_cancelled"
    assert cancel_done_reply(order(OrderStatus.CANCELLED)).values["total"] == "£45.00"


def test_returns_within_thirty_days_of_delivery():
    fresh = order(OrderStatus.DELIVERED, delivered_at=NOW - dt.timedelta(days=5))
    reply = return_reply(fresh, now=NOW)
    assert reply.key == "return_how"
    assert reply.values["return_by"] == "Sun 20 Dec"
    old = order(OrderStatus.DELIVERED, delivered_at=NOW - dt.timedelta(days=31))
    assert return_reply(old, now=NOW).key == "return_window_closed"
    assert return_reply(order(OrderStatus.SHIPPED), now=NOW).key == "return_not_delivered"
    assert return_reply(order(OrderStatus.CANCELLED), now=NOW).key == "return_cancelled"


def test_refund_states():
    issued = order(
        OrderStatus.DELIVERED,
        refund_status=RefundStatus.ISSUED,
        refund_amount=Decimal("20.00"),
        refund_issued_at=NOW,
    )
    assert refund_reply(issued).values == {
        "order_id": "104523",
        "refund_amount": "£20.00",
        "refund_date": "Wed 25 Nov",
    }
    requested = order(OrderStatus.DELIVERED, refund_status=RefundStatus.REQUESTED)
    assert refund_reply(requested).key == "refund_requested"
    assert refund_reply(order(OrderStatus.DELIVERED)).key == "refund_none"
    assert refund_reply(order(OrderStatus.CANCELLED, cancelled_at=NOW)).key == "order_cancelled"
