"""Demo customers for end-to-end tests: linking a platform user to one, as `bot customers link` does.

Orders are shown only to their customer (bot/shop/order_access.py): a platform user linked to the customer, or
a conversation that gave the order's e-mail or delivery postcode (REST conversations always must).
"""

from __future__ import annotations

import asyncio

from bot.devtools.devstack import Stack
from bot.settings import Settings
from bot.shop.order_access import OrderAccess
from bot.storage.db import Database

# Seeded customers (bot/storage/seed/shop.yml): e-mail, delivery postcode, their demo orders.
AMY = "amy.clarke@example.com"  # N1 9GU: 104523 shipped (Royal Mail); 112930 delivered (to EC2A 4NE)
JORDAN = "jordan.p@example.com"  # M4 5JD: 100871 being packed; 108812 delivered 48 days ago
SAM = "sam.oneill@example.com"  # BS1 4DJ: 101010 being packed; 105678 cancelled, refunded
MIA = "mia.rossi@example.com"  # EH3 9DR: 103344 out for delivery (DPD); 109901 refund requested
LEO = "leo.martin@example.com"  # LS1 5DL: 111222 shipped (DPD); 110245 refund issued


def database_url(stack: Stack) -> str:
    """The stack's database."""
    return Settings.from_env({k: v for k, v in stack.env.items() if v}).database_url


def link(stack: Stack, channel: str, user: str, email: str) -> str:
    """Link a platform user (messenger, instagram, twitter) to the customer with this e-mail; the user."""

    async def run() -> None:
        database = Database(database_url(stack))
        try:
            await OrderAccess(database).link(channel, user, email)
        finally:
            await database.close()

    asyncio.run(run())
    return user
