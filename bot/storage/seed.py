"""Demo data: catalogue, stores, customers and orders from the YAML files in `seed/`.

Seeding is idempotent: rows that exist (by SKU, store name, e-mail, order number) are left alone, so it
runs at every start. `reset=True` re-creates the demo orders with times relative to now.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from bot.storage.models import (
    Customer,
    CustomerIdentity,
    Order,
    OrderItem,
    Product,
    ProductImage,
    ProductVariant,
    Store,
    utcnow,
)

SEED_DIR = Path(__file__).parent / "seed"
DELIVERY_HOUR = 14  # demo deliveries happen in the afternoon


@dataclass
class SeedReport:
    """How many rows each seeding step added."""

    products: int = 0
    variants: int = 0
    stores: int = 0
    customers: int = 0
    identities: int = 0
    orders: int = 0
    images: int = 0

    def __str__(self) -> str:
        added = [f"{count} {name}" for name, count in vars(self).items() if count]
        return ", ".join(added) if added else "nothing new (already present)"


def demo_stock(sku: str, color: str, size: str) -> int:
    """A stable, varied stock level (2–20) for a variant that is not sold out."""
    return 2 + zlib.crc32(f"{sku}|{color}|{size}".encode()) % 19


def load_yaml(name: str) -> dict[str, Any]:
    """Read one of the seed files."""
    with (SEED_DIR / name).open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def seed_catalog(session: Session, report: SeedReport) -> None:
    """Insert missing products and variants."""
    catalog = load_yaml("catalog.yml")
    existing = {p.sku: p for p in session.scalars(select(Product))}
    for item in catalog["products"]:
        product = existing.get(item["sku"])
        if product is None:
            slug = item["title"].lower().replace(" ", "-")
            product = Product(
                sku=item["sku"],
                title=item["title"],
                description=item.get("description", ""),
                category=item["category"],
                price=Decimal(item["price"]),
                url=f"{catalog['base_url']}/{slug}",
            )
            session.add(product)
            report.products += 1
        have = {(v.color, v.size) for v in product.variants}
        sold_out = {(str(c), str(s)) for c, s in item.get("sold_out", [])}
        for color in item["colors"]:
            for size in map(str, item["sizes"]):
                if (color, size) in have:
                    continue
                stock = 0 if (color, size) in sold_out else demo_stock(item["sku"], color, size)
                product.variants.append(ProductVariant(color=color, size=size, stock=stock))
                report.variants += 1


def seed_shop(session: Session, report: SeedReport, now: dt.datetime) -> None:
    """Insert missing stores, customers and orders."""
    shop = load_yaml("shop.yml")
    stores = set(session.scalars(select(Store.name)))
    for item in shop["stores"]:
        if item["name"] not in stores:
            session.add(Store(**item))
            report.stores += 1

    customers = {c.email: c for c in session.scalars(select(Customer))}
    by_key: dict[str, Customer] = {}
    for item in shop["customers"]:
        customer = customers.get(item["email"])
        if customer is None:
            customer = Customer(name=item["name"], email=item["email"])
            session.add(customer)
            report.customers += 1
        by_key[item["key"]] = customer
    session.flush()
    seed_identities(session, report, shop["customers"], by_key)

    orders = {o.id: o for o in session.scalars(select(Order))}
    variants = {
        (v.product.sku, v.color, v.size): v
        for v in session.scalars(select(ProductVariant).join(ProductVariant.product))
    }
    postcodes = {item["key"]: item.get("postcode") for item in shop["customers"]}
    for item in shop["orders"]:
        postcode = item.get("postcode") or postcodes[item["customer"]]
        existing = orders.get(item["id"])
        if existing is None:
            order = build_order(item, by_key[item["customer"]], variants, now)
            order.shipping_postcode = postcode
            session.add(order)
            report.orders += 1
        elif existing.shipping_postcode is None:
            existing.shipping_postcode = postcode  # demo orders seeded before postcodes existed


def seed_identities(
    session: Session, report: SeedReport, customers: list[dict[str, Any]], by_key: dict[str, Customer]
) -> None:
    """Link the demo customers' simulator user ids to them (an id linked elsewhere is left alone)."""
    linked = {(i.channel, i.external_id) for i in session.scalars(select(CustomerIdentity))}
    for item in customers:
        for channel, external_id in (item.get("identities") or {}).items():
            if (channel, str(external_id)) not in linked:
                session.add(
                    CustomerIdentity(
                        channel=channel, external_id=str(external_id), customer_id=by_key[item["key"]].id
                    )
                )
                report.identities += 1


def build_order(
    item: dict[str, Any],
    customer: Customer,
    variants: dict[tuple[str, str, str], ProductVariant],
    now: dt.datetime,
) -> Order:
    """An order from its seed description, its times counted back from `now`."""

    def days_ago(key: str) -> dt.datetime | None:
        return now - dt.timedelta(days=item[key]) if key in item else None

    items = []
    for sku, color, size, quantity in item["items"]:
        variant = variants[(sku, color, str(size))]
        items.append(OrderItem(variant=variant, quantity=quantity, unit_price=variant.product.price))
    total = sum((line.unit_price * line.quantity for line in items), Decimal("0.00"))
    shipped_at = days_ago("shipped_days_ago")
    delivered_at = days_ago("delivered_days_ago")
    if delivered_at is not None:
        delivered_at = delivered_at.replace(hour=DELIVERY_HOUR, minute=0, second=0, microsecond=0)
    eta = None
    if shipped_at is not None:
        eta = (now + dt.timedelta(days=item.get("eta_days", 0))).date()
    refund = item.get("refund", "none")
    carrier, tracking = item.get("carrier"), item.get("tracking")
    return Order(
        id=item["id"],
        customer=customer,
        status=item["status"],
        placed_at=days_ago("placed_days_ago") or now,
        shipped_at=shipped_at,
        estimated_delivery=eta,
        delivered_at=delivered_at,
        cancelled_at=days_ago("cancelled_days_ago"),
        carrier=carrier,
        tracking_url=f"https://track.loomandco.example/{tracking}" if tracking else None,
        total=total,
        refund_status=refund,
        refund_amount=total if refund != "none" else None,
        refund_issued_at=days_ago("refund_days_ago") if refund == "issued" else None,
        items=items,
    )


def seed_images(
    session: Session, report: SeedReport, catalog_dir: Path, progress: Callable[[str], None] = lambda _: None
) -> None:
    """Demo photos for catalogue products that have none, cut from bot/catalog/demo_images.py's photos."""
    from bot.catalog.demo_images import write_catalog_images
    from bot.catalog.images import ImageStore

    without = [p for p in session.scalars(select(Product)) if not p.images]
    if not without:
        return
    items = {item["sku"]: item for item in load_yaml("catalog.yml")["products"]}
    specs = [items[p.sku] for p in without if p.sku in items]
    photos = sum(len(spec.get("colors") or [None]) for spec in specs)
    progress(f"making {photos} demo photos for {len(specs)} products ...")
    store = ImageStore(catalog_dir / "images")
    with tempfile.TemporaryDirectory() as scratch:
        written = write_catalog_images(specs, Path(scratch))
        for product in without:
            for position, (color, path) in enumerate(
                zip(items.get(product.sku, {}).get("colors", []), written.get(product.sku, []), strict=False)
            ):
                stored = store.put(path.read_bytes())
                product.images.append(
                    ProductImage(
                        position=position,
                        color=color,
                        source=f"demo:{path.name}",
                        path=stored.path,
                        sha256=stored.sha256,
                        width=stored.width,
                        height=stored.height,
                    )
                )
                report.images += 1


def seed(
    engine: Engine,
    reset: bool = False,
    now: dt.datetime | None = None,
    catalog_dir: Path | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> SeedReport:
    """Insert whatever demo data is missing; with `reset`, re-create the demo orders first.

    With `catalog_dir`, catalogue products without photos also get the demo photos. `progress` hears
    what a long step is doing.
    """
    report = SeedReport()
    now = now or utcnow()
    with Session(engine) as session, session.begin():
        if reset:
            ids = [item["id"] for item in load_yaml("shop.yml")["orders"]]
            session.execute(delete(OrderItem).where(OrderItem.order_id.in_(ids)))
            session.execute(delete(Order).where(Order.id.in_(ids)))
        seed_catalog(session, report)
        session.flush()
        seed_shop(session, report, now)
        if catalog_dir is not None:
            seed_images(session, report, catalog_dir, progress)
    return report
