"""Is it in stock? Finding the product a customer names and answering for a colour and size."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from bot.shop.const import PRODUCT_WORD_SYNONYMS
from bot.shop.formatting import join_words, money
from bot.shop.orders import Reply
from bot.storage.db import Database
from bot.storage.models import Product


@dataclass(frozen=True)
class Variant:
    """One colour and size of a product, with its stock."""

    color: str
    size: str
    stock: int


@dataclass(frozen=True)
class ProductInfo:
    """A product with everything an availability answer needs."""

    id: int
    title: str
    category: str
    price: str
    url: str
    variants: tuple[Variant, ...]
    image_url: str | None = None  # a public photo for cards, when the catalogue has one

    def colors(self, in_stock_only: bool = False) -> list[str]:
        """Colours in catalogue order, without repeats."""
        return _unique(v.color for v in self.variants if v.stock > 0 or not in_stock_only)

    def sizes(self, in_stock_only: bool = False) -> list[str]:
        """Sizes in catalogue order, without repeats."""
        return _unique(v.size for v in self.variants if v.stock > 0 or not in_stock_only)


def _unique(values: object) -> list[str]:
    return list(dict.fromkeys(values))  # type: ignore[call-overload]


def _words(text: str) -> list[str]:
    """Lower-case words with plural 's' dropped and customer words mapped to catalogue words."""
    words = []
    for word in re.findall(r"[a-z0-9-]+", text.lower()):
        word = PRODUCT_WORD_SYNONYMS.get(word, word)
        if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
            word = word[:-1]
        words.append(word)
    return words


def match_products(query: str, products: list[ProductInfo]) -> list[ProductInfo]:
    """Products whose title (or, failing that, category) contains every word of the query.

    An exact title wins outright; "boots" finds both kinds of boots, "chelsea boots" only one.
    """
    wanted = _words(query)
    if not wanted:
        return []
    exact = [p for p in products if _words(p.title) == wanted]
    if exact:
        return exact
    by_title = [p for p in products if set(wanted) <= set(_words(p.title))]
    if by_title:
        return by_title
    return [p for p in products if set(wanted) <= set(_words(p.category))]


def _same(a: str, b: str) -> bool:
    return a.strip().lower() == b.strip().lower()


def availability_reply(product: ProductInfo, color: str | None, size: str | None) -> Reply:
    """What to tell a customer asking for `product` in `color` and `size` (either may be None)."""
    base = {"title": product.title, "price": product.price, "url": product.url}
    if color and not any(_same(color, c) for c in product.colors()):
        return Reply("color_not_offered", {**base, "color": color, "colors": join_words(product.colors())})
    if size and not any(_same(size, s) for s in product.sizes()):
        return Reply("size_not_offered", {**base, "size": size, "sizes": join_words(product.sizes())})
    if not color and not size:
        if not product.colors(in_stock_only=True):
            return Reply("out_of_stock", {**base, "variant": "", "alternatives": "We restock regularly!"})
        return Reply(
            "product_options",
            {
                **base,
                "colors": join_words(product.colors(in_stock_only=True)),
                "sizes": join_words(product.sizes(in_stock_only=True)),
            },
        )
    matching = [
        v
        for v in product.variants
        if (not color or _same(color, v.color)) and (not size or _same(size, v.size))
    ]
    variant = describe_variant(color, size)
    if any(v.stock > 0 for v in matching):
        return Reply("in_stock", {**base, "variant": variant})
    return Reply(
        "out_of_stock", {**base, "variant": variant, "alternatives": alternatives(product, color, size)}
    )


def describe_variant(color: str | None, size: str | None) -> str:
    """'in navy, size M' / 'in navy' / 'in size M'."""
    if color and size:
        return f"in {color}, size {size}"
    if color:
        return f"in {color}"
    return f"in size {size}" if size else ""


def alternatives(product: ProductInfo, color: str | None, size: str | None) -> str:
    """Suggest what is in stock nearest to what was asked for."""
    if color:
        sizes = [v.size for v in product.variants if _same(color, v.color) and v.stock > 0]
        if sizes:
            return f"In {color} we still have {join_words(sizes)}."
    if size:
        colors = [v.color for v in product.variants if _same(size, v.size) and v.stock > 0]
        if colors:
            return f"In {size} it's available in {join_words(colors)}."
    return "It's sold out for now, but we restock regularly!"


class CatalogService:
    """Reads the catalogue."""

    def __init__(self, database: Database) -> None:
        self._db = database

    async def products(self) -> list[ProductInfo]:
        """Every product with its variants."""
        query = (
            select(Product)
            .options(selectinload(Product.variants), selectinload(Product.images))
            .order_by(Product.id)
        )
        async with self._db.sessions() as session:
            rows = (await session.scalars(query)).all()
        return [
            ProductInfo(
                id=p.id,
                title=p.title,
                category=p.category,
                price=money(p.price, p.currency),
                url=p.url,
                variants=tuple(Variant(v.color, v.size, v.stock) for v in p.variants),
                image_url=next(
                    (i.source for i in p.images if i.source.startswith(("http://", "https://"))), None
                ),
            )
            for p in rows
        ]

    async def find(self, query: str) -> list[ProductInfo]:
        """Products matching what the customer called it."""
        return match_products(query, await self.products())
