"""Structured filters in a product query: "blue linen shirt size M in stock" → colour, size, stock."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.catalog.availability import ProductInfo

LETTER_SIZES = ("XXS", "XS", "S", "M", "L", "XL", "XXL", "3XL")


@dataclass(frozen=True)
class Filters:
    """What the query asks for besides the product itself."""

    colors: frozenset[str] = frozenset()
    sizes: frozenset[str] = frozenset()
    in_stock: bool = False

    def allows(self, product: ProductInfo) -> bool:
        """Whether some variant of the product fits every filter."""
        for variant in product.variants:
            if self.colors and variant.color.lower() not in self.colors:
                continue
            if self.sizes and variant.size.upper() not in self.sizes:
                continue
            if self.in_stock and variant.stock <= 0:
                continue
            return True
        return False


def parse_filters(query: str, products: Sequence[ProductInfo]) -> Filters:
    """Colours named in the catalogue, sizes after "size"/"in" or in capitals, and "in stock"."""
    lowered = f" {query.lower()} "
    colors = {c.lower() for p in products for c in p.colors() if f" {c.lower()} " in lowered}
    sizes = {m.upper() for m in re.findall(r"\b(?:size|sz|in)\s+([a-z0-9]{1,3})\b", query, re.IGNORECASE)}
    sizes |= {word for word in re.findall(r"\b[A-Z0-9]{1,3}\b", query) if word in LETTER_SIZES}
    known_sizes = {s.upper() for p in products for s in p.sizes()}
    return Filters(frozenset(colors), frozenset(sizes & known_sizes), "in stock" in lowered)
