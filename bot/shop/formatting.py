"""How money, dates and lists read in the assistant's replies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from decimal import Decimal

CURRENCY_SYMBOLS = {"GBP": "£", "EUR": "€", "USD": "$"}


def money(amount: Decimal, currency: str = "GBP") -> str:
    """£45.00, or 45.00 CHF for currencies without a symbol here."""
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{amount:.2f}" if symbol else f"{amount:.2f} {currency}"


def day(value: dt.date | dt.datetime) -> str:
    """Mon 24 Nov: short, unambiguous in both UK and US English."""
    return f"{value:%a} {value.day} {value:%b}"


def join_words(items: Sequence[str], last: str = "and") -> str:
    """'a', 'a and b', 'a, b and c'."""
    items = list(items)
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} {last} {items[-1]}"
