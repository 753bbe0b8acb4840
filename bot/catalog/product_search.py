"""Product search for conversations and tools: vectors from `CatalogSearch`, facts from the database."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image

from bot.catalog.availability import CatalogService, ProductInfo
from bot.catalog.encoders import image_encoder_for
from bot.catalog.filters import parse_filters
from bot.catalog.photo_config import PhotoConfig
from bot.catalog.vector_search import CatalogSearch, Match, verdict
from bot.settings import Settings
from bot.storage.db import Database


@dataclass(frozen=True)
class ProductResult:
    """A product and how well it matched (photos: also its verification and calibrated confidence)."""

    product: ProductInfo
    score: float
    inliers: int = 0
    confidence: float | None = None


def product_search_for(
    settings: Settings, database: Database, photos: Callable[[], PhotoConfig]
) -> ProductSearch:
    """The search a service uses: the settings' encoders and index, photos.yml's thresholds as of now."""
    vectors = CatalogSearch(
        settings.catalog_dir, images=functools.partial(image_encoder_for, settings), config=photos
    )
    return ProductSearch(settings, database, vectors)


class ProductSearch:
    """Photo and text search returning products with their stock, price and link."""

    def __init__(self, settings: Settings, database: Database, search: CatalogSearch | None = None) -> None:
        self.catalog = CatalogService(database)
        self.vectors = search or CatalogSearch(settings.catalog_dir)

    async def _results(self, matches: list[Match]) -> list[ProductResult]:
        products = {p.id: p for p in await self.catalog.products()}
        return [
            ProductResult(products[m.product_id], m.score, m.inliers, m.confidence if m.photos else None)
            for m in matches
            if m.product_id in products
        ]

    async def photo(self, image: Image.Image, limit: int = 5) -> list[ProductResult]:
        """Products that look like the photo (the model runs in a worker thread)."""
        matches = await asyncio.to_thread(self.vectors.by_image, image, limit)
        return await self._results(matches)

    async def photo_verdict(self, image: Image.Image) -> tuple[str, list[ProductResult]]:
        """("confident" | "several" | "none", the products to show)."""
        config = self.vectors.config()  # photos.yml as it is now, read here (not in the worker thread)
        matches = await asyncio.to_thread(self.vectors.by_image, image, 10, config)
        judged = verdict(matches, config)
        return judged.kind, await self._results(list(judged.matches))

    async def text(self, query: str, limit: int = 5) -> list[ProductResult]:
        """Products for a description, filtered by the colours, sizes and stock it names."""
        products = await self.catalog.products()
        filters = parse_filters(query, products)
        allowed = {p.id for p in products if filters.allows(p)}
        matches = await asyncio.to_thread(self.vectors.by_text, query, limit, allowed)
        return await self._results(matches)
