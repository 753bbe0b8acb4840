"""The product and the logos in a public item's photo: the same index, thresholds and detector as in DMs.

Loaded on first use (the image model takes seconds and memory: a service that never sees a photo never
loads it) and warmed in the background when the worker starts. Photos are fetched under the same policy as
DM photos (bot/catalog/fetch.py: allowed hosts, size, time, type); X's are signed with our credentials.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import aiohttp

from bot.catalog.fetch import ImageFetchError, fetch_image, media_policy_for
from bot.catalog.logos import ConfiguredLogos, Sighting
from bot.catalog.photo_config import PhotoConfig
from bot.catalog.product_search import ProductSearch, product_search_for
from bot.monitoring.engagement.classify import ProductSeen
from bot.settings import Settings
from bot.storage.db import Database
from bot.x_oauth import OAuth1Credentials, x_signer

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PhotoFindings:
    """What one photo showed: the product (None: no match good enough to name) and our logos."""

    product: ProductSeen | None = None
    sightings: tuple[Sighting, ...] = ()  # every configured logo seen (ours and others')
    unreadable: str = ""  # why the photo could not be used, if it could not

    @property
    def logos(self) -> tuple[str, ...]:
        """The names of our own logos in the photo."""
        return tuple(s.name for s in self.sightings if s.ours)


class PhotoLookup:
    """Fetch, then look for the product and the logos at once (each in a worker thread)."""

    def __init__(self, settings: Settings, database: Database, x: OAuth1Credentials | None = None) -> None:
        self._settings = settings
        self._database = database
        self._photos = PhotoConfig.watch()
        self._logos = ConfiguredLogos(lambda: self._photos.value)
        self._policy = media_policy_for(settings)
        self._x = x
        self._search: ProductSearch | None = None
        self._warming: asyncio.Task[None] | None = None

    def _product_search(self) -> ProductSearch:
        if self._search is None:
            self._search = product_search_for(self._settings, self._database, lambda: self._photos.value)
        return self._search

    def warm(self) -> None:
        """Load the models in the background, so the first photo comment is answered as fast as the rest."""
        if self._warming is None:
            self._warming = asyncio.create_task(asyncio.to_thread(self._load))

    def _load(self) -> None:
        try:
            vectors = self._product_search().vectors
            if vectors.index() is None:  # no catalogue index (yet): nothing to search, nothing to load
                return
            vectors.image_encoder()
            self._logos.detector()
        except Exception:  # a missing index shows itself at the first photo, with its own message
            logger.warning("photo lookup could not be warmed", exc_info=True)

    async def look(self, channel: str, url: str) -> PhotoFindings:
        """The findings for one photo; one that cannot be fetched or read is `unreadable`, never raised."""
        try:
            async with aiohttp.ClientSession() as session:
                sign = x_signer(self._x) if channel == "twitter" else None
                image, _ = await fetch_image(session, url, self._policy, sign)
        except ImageFetchError as err:
            logger.info("public photo %s not usable: %s", url[:200], err)
            return PhotoFindings(unreadable=str(err))
        search = self._product_search()
        (kind, results), sightings = await asyncio.gather(
            search.photo_verdict(image), asyncio.to_thread(self._logos.detector().detect, image)
        )
        seen = tuple(sightings)
        if kind == "none" or not results:
            return PhotoFindings(sightings=seen)
        best = results[0]
        product = ProductSeen(
            best.product.id,
            best.product.title,
            best.product.price,
            best.product.url,
            best.confidence if best.confidence is not None else best.score,
        )
        return PhotoFindings(product, seen)
