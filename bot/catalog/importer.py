"""`bot catalog import <file.csv|file.json>`: load a catalogue with its photos.

Each row: sku, title, category, price, url (required); currency (GBP), description, colors and sizes
(lists, or `|`-separated in CSV), stock (per variant, default 0), images (local paths relative to the
file, or http(s) URLs on allowed hosts). Rows with errors are reported by row number and SKU and
skipped; the rest are upserted by SKU, so importing the same file twice changes nothing.
"""

from __future__ import annotations

import asyncio
import csv
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from bot.catalog.fetch import FetchPolicy, ImageFetchError, fetch_image
from bot.catalog.images import ImageStore, StoredImage
from bot.storage.models import Product, ProductImage, ProductVariant

REQUIRED = ("sku", "title", "category", "price", "url")


@dataclass(frozen=True)
class CatalogRow:
    """A validated catalogue row."""

    number: int
    sku: str
    title: str
    category: str
    price: Decimal
    url: str
    currency: str = "GBP"
    description: str = ""
    colors: tuple[str, ...] = ()
    sizes: tuple[str, ...] = ()
    stock: int = 0
    images: tuple[str, ...] = ()


@dataclass
class ImportReport:
    """What an import did, and what it refused."""

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    images_added: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"{self.added} added, {self.updated} updated, {self.unchanged} unchanged, "
            f"{self.images_added} images added, {len(self.errors)} rows with errors"
        )


def _list(value: Any) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    items = value if isinstance(value, list) else str(value).split("|")
    return tuple(str(item).strip() for item in items if str(item).strip())


def validate(number: int, raw: dict[str, Any]) -> CatalogRow:
    """One row, checked; ValueError naming the row and the problem."""
    label = f"row {number}" + (f" (sku {raw.get('sku')})" if raw.get("sku") else "")
    missing = [key for key in REQUIRED if not str(raw.get(key) or "").strip()]
    if missing:
        raise ValueError(f"{label}: missing {', '.join(missing)}")
    try:
        price = Decimal(str(raw["price"]).strip())
    except InvalidOperation:
        raise ValueError(f"{label}: price {raw['price']!r} is not a number") from None
    if price < 0:
        raise ValueError(f"{label}: price must not be negative")
    try:
        stock = int(str(raw.get("stock") or 0).strip())
    except ValueError:
        raise ValueError(f"{label}: stock {raw.get('stock')!r} is not a whole number") from None
    if stock < 0:
        raise ValueError(f"{label}: stock must not be negative")
    url = str(raw["url"]).strip()
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"{label}: url must start with http:// or https://")
    colors, sizes = _list(raw.get("colors")), _list(raw.get("sizes"))
    if not colors or not sizes:
        raise ValueError(f"{label}: needs at least one colour and one size")
    return CatalogRow(
        number=number,
        sku=str(raw["sku"]).strip(),
        title=str(raw["title"]).strip(),
        category=str(raw["category"]).strip(),
        price=price,
        url=url,
        currency=str(raw.get("currency") or "GBP").strip().upper(),
        description=str(raw.get("description") or "").strip(),
        colors=colors,
        sizes=sizes,
        stock=stock,
        images=_list(raw.get("images")),
    )


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a CSV (header line) or JSON (a list of objects) file."""
    if path.suffix.lower() == ".json":
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
            raise ValueError(f"{path}: a JSON catalogue is a list of objects")
        return data
    if path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8", newline="") as handle:
            return list(csv.DictReader(handle))
    raise ValueError(f"{path}: expected a .csv or .json file")


async def load_image(source: str, base: Path, policy: FetchPolicy, session: aiohttp.ClientSession) -> bytes:
    """The bytes of a local file (relative to the catalogue file) or an allowed URL."""
    if urlsplit(source).scheme in ("http", "https"):
        _, data = await fetch_image(session, source, policy)
        return data
    path = (base / source).resolve()
    if not path.is_file():
        raise ImageFetchError(f"no such file: {source}")
    if path.stat().st_size > policy.max_bytes:
        raise ImageFetchError(f"image file too big: {source}")
    return path.read_bytes()


def upsert(session: Session, row: CatalogRow, images: list[tuple[str, StoredImage]]) -> tuple[str, int]:
    """Create or update the product; ("added" | "updated" | "unchanged", images added)."""
    product = session.scalar(select(Product).where(Product.sku == row.sku))
    fields = {
        "title": row.title,
        "category": row.category,
        "price": row.price,
        "currency": row.currency,
        "url": row.url,
        "description": row.description,
    }
    if product is None:
        product = Product(sku=row.sku, **fields)
        session.add(product)
        state = "added"
    else:
        changed = any(getattr(product, k) != v for k, v in fields.items())
        for key, value in fields.items():
            setattr(product, key, value)
        state = "updated" if changed else "unchanged"
    variants = {(v.color, v.size): v for v in product.variants}
    for color in row.colors:
        for size in row.sizes:
            variant = variants.get((color, size))
            if variant is None:
                product.variants.append(ProductVariant(color=color, size=size, stock=row.stock))
                state = "updated" if state == "unchanged" else state
            elif variant.stock != row.stock:
                variant.stock = row.stock
                state = "updated" if state == "unchanged" else state
    have = {image.sha256: image for image in product.images}
    wanted = {stored.sha256 for _, stored in images}
    added = 0
    for position, (source, stored) in enumerate(images):
        if stored.sha256 in have:
            have[stored.sha256].position = position
            continue
        product.images.append(
            ProductImage(
                position=position,
                source=source,
                path=stored.path,
                sha256=stored.sha256,
                width=stored.width,
                height=stored.height,
            )
        )
        added += 1
    for sha, image in have.items():
        if sha not in wanted:
            product.images.remove(image)
    if added or len(have) != len(wanted & set(have)):
        state = "updated" if state == "unchanged" else state
    return state, added


async def import_catalog(
    path: Path,
    engine: Engine,
    catalog_dir: Path,
    policy: FetchPolicy,
    progress: Callable[[str], None] = print,
) -> ImportReport:
    """Validate every row, store the photos, upsert the products."""
    report = ImportReport()
    store = ImageStore(catalog_dir / "images")
    raw_rows = read_rows(path)
    async with aiohttp.ClientSession() as http:
        for number, raw in enumerate(raw_rows, start=2 if path.suffix.lower() == ".csv" else 1):
            try:
                row = validate(number, raw)
                images = [
                    (src, store.put(await load_image(src, path.parent, policy, http), policy))
                    for src in row.images
                ]
            except (ValueError, ImageFetchError) as err:
                message = (
                    str(err) if str(err).startswith("row ") else f"row {number} ({raw.get('sku')}): {err}"
                )
                report.errors.append(message)
                progress(f"  ! {message}")
                continue
            with Session(engine) as session, session.begin():
                state, added = upsert(session, row, images)
            setattr(report, state, getattr(report, state) + 1)
            report.images_added += added
            progress(f"  [{number - 1}/{len(raw_rows)}] {row.sku} {row.title}: {state}, {len(images)} images")
    return report


def run_import(path: Path, engine: Engine, catalog_dir: Path, policy: FetchPolicy) -> ImportReport:
    """Synchronous entry point for the command line."""
    return asyncio.run(import_catalog(path, engine, catalog_dir, policy))
