"""Physical stores: where they are and when they are open."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bot.shop.orders import Reply
from bot.storage.db import Database
from bot.storage.models import Store


@dataclass(frozen=True)
class StoreInfo:
    """A store as customers see it."""

    name: str
    city: str
    address: str
    phone: str
    opening_hours: str

    def line(self) -> str:
        """One line of a reply."""
        return f"📍 {self.name}, {self.address}. Open {self.opening_hours}. ☎️ {self.phone}"


def stores_reply(stores: list[StoreInfo], text: str) -> Reply:
    """The stores in the city the customer mentions, or all of them."""
    lowered = text.lower()
    mentioned = [s for s in stores if s.city.lower() in lowered]
    if mentioned:
        return Reply("store_detail", {"stores": "\n".join(s.line() for s in mentioned)})
    return Reply("store_list", {"stores": "\n".join(s.line() for s in stores)})


class StoreService:
    """Reads the stores table."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def all(self) -> list[StoreInfo]:
        """Every store, by city."""
        async with self._db.sessions() as session:
            rows = (await session.scalars(select(Store).order_by(Store.city))).all()
        return [StoreInfo(s.name, s.city, s.address, s.phone, s.opening_hours) for s in rows]
