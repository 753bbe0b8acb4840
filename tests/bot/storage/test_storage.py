"""Migrations, demo data and order queries on both supported databases (real PostgreSQL and SQLite)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, inspect, select, update
from sqlalchemy.orm import Session

from bot.shop.orders import OrderService, OrderStatus
from bot.storage import migrate
from bot.storage.db import Database, UnsupportedDatabaseError, async_url, create_sync_engine, sync_url
from bot.storage.models import Order, Product, ProductVariant, Store
from bot.storage.seed import seed


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request, tmp_path) -> str:
    """Each test runs once on PostgreSQL and once on a SQLite file, from an empty schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/loom.db"
    url = request.getfixturevalue("postgres_url")
    migrate.downgrade(url, "base")
    return url


def test_driver_selection():
    assert async_url("postgresql://u@h/d") == "postgresql+psycopg://u@h/d"
    assert sync_url("sqlite:///x.db") == "sqlite:///x.db"
    assert async_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    with pytest.raises(UnsupportedDatabaseError):
        sync_url("mysql://u@h/d")


def test_migrations_up_and_down(database_url):
    migrate.upgrade(database_url)
    engine = create_sync_engine(database_url)
    tables = set(inspect(engine).get_table_names())
    assert {"customers", "products", "product_variants", "orders", "order_items", "stores"} <= tables
    assert {"customer_identities", "order_check_failures"} <= tables
    assert "shipping_postcode" in {c["name"] for c in inspect(engine).get_columns("orders")}
    assert "language" in {c["name"] for c in inspect(engine).get_columns("handoff_tickets")}
    languages = {c["name"]: c for c in inspect(engine).get_columns("agents")}["languages"]
    assert not languages["nullable"] and "en" in str(languages["default"])
    migrate.downgrade(database_url, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    engine.dispose()


def test_seed_is_idempotent(database_url):
    migrate.upgrade(database_url)
    engine = create_sync_engine(database_url)
    first = seed(engine)
    assert (first.products, first.stores, first.orders, first.identities) == (38, 4, 10, 15)
    second = seed(engine)
    assert (second.products, second.variants, second.orders, second.identities) == (0, 0, 0, 0)
    # Demo orders seeded before postcodes existed get theirs (the order's second factor) on the next seed.
    with Session(engine) as session, session.begin():
        session.execute(update(Order).values(shipping_postcode=None))
    seed(engine)
    with Session(engine) as session:
        assert session.get(Order, 104523).shipping_postcode == "N1 9GU"
        assert session.scalar(select(func.count()).where(Order.shipping_postcode.is_(None))) == 0
    again = seed(engine, reset=True)
    assert again.orders == 10
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(Order)) == 10
        assert session.scalar(select(func.count()).select_from(Store)) == 4
        sold_out = session.scalar(
            select(ProductVariant.stock)
            .join(Product)
            .where(Product.sku == "TOP-001", ProductVariant.color == "navy", ProductVariant.size == "M")
        )
        assert sold_out == 0
    engine.dispose()


async def test_order_service_reads_and_cancels_once(database_url):
    migrate.upgrade(database_url)
    engine = create_sync_engine(database_url)
    seed(engine)
    engine.dispose()
    database = Database(database_url)
    orders = OrderService(database)
    try:
        shipped = await orders.get(104523)
        assert shipped.status == OrderStatus.SHIPPED
        assert shipped.carrier == "Royal Mail"
        assert shipped.placed_at.tzinfo is not None
        assert await orders.get(199999) is None

        # Two customers (or two replicas) confirming the same cancellation at once: exactly one wins.
        results = await asyncio.gather(*(orders.cancel(100871) for _ in range(5)))
        assert sum(r is not None for r in results) == 1
        assert (await orders.get(100871)).status == OrderStatus.CANCELLED
        assert await orders.cancel(104523) is None  # shipped orders cannot be cancelled
    finally:
        await database.close()
