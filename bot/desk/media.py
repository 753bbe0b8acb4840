"""Customer media, shown to agents only through the desk: `GET /media/<ticket id>/<n>`.

A photo URL in a conversation is whatever a customer (or a spoofed channel) put in the message
metadata, and a product card's picture is whatever the catalogue named. An agent's browser never loads
such a URL itself (the CSP allows images from the desk only): the desk fetches the n-th media URL of a
conversation the agent may see, under the same fetch policy as the photo lookup (allowed hosts, size,
time, JPEG/PNG/GIF/WebP only), re-encodes it as a JPEG and serves that. There is no URL parameter, so
the route cannot be used as an open proxy.
"""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

import aiohttp
from PIL import Image

from bot.catalog.fetch import FetchPolicy, ImageFetchError, fetch_image
from bot.conversations.events import Line

logger = logging.getLogger(__name__)
MAX_SIDE = 1600  # enough to read a label on a photo
CACHE_BYTES = 32 * 1024 * 1024
CACHE_SECONDS = 600.0


def media_urls(lines: Iterable[Line]) -> list[str]:
    """Every distinct image URL of a transcript in order: photos, then each card's picture, line by line.

    New lines only add at the end, so an index stays valid while the conversation goes on.
    """
    seen: dict[str, None] = {}
    for line in lines:
        for url in (*line.image_urls, *(card.image_url for card in line.cards if card.image_url)):
            seen.setdefault(str(url), None)
    return list(seen)


def reencode(image: Image.Image) -> bytes:
    """A JPEG of the decoded image: nothing of the original file (metadata, polyglot tricks) survives."""
    copy = image.copy()
    copy.thumbnail((MAX_SIDE, MAX_SIDE))
    buffer = io.BytesIO()
    copy.convert("RGB").save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


class MediaProxy:
    """Fetches under the policy, re-encodes, and keeps recent results (agents' pages refresh live)."""

    def __init__(self, policy: FetchPolicy) -> None:
        self.policy = policy
        self._session: aiohttp.ClientSession | None = None
        self._cache: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._cached_bytes = 0

    async def get(self, url: str, sign: Callable[[str], Mapping[str, str]] | None = None) -> bytes:
        """The re-encoded image at `url`; ImageFetchError when it is not allowed or not an image.

        `sign`: the headers the URL needs (X's media are served only to our signed requests).
        """
        hit = self._cache.get(url)
        if hit is not None and hit[0] > time.monotonic():
            self._cache.move_to_end(url)
            return hit[1]
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession()
        image, _ = await fetch_image(self._session, url, self.policy, sign)
        body = await asyncio.to_thread(reencode, image)
        self._remember(url, body)
        return body

    def _remember(self, url: str, body: bytes) -> None:
        old = self._cache.pop(url, None)
        if old is not None:
            self._cached_bytes -= len(old[1])
        self._cache[url] = (time.monotonic() + CACHE_SECONDS, body)
        self._cached_bytes += len(body)
        while self._cached_bytes > CACHE_BYTES and self._cache:
            _, (_, dropped) = self._cache.popitem(last=False)
            self._cached_bytes -= len(dropped)

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None:
            await self._session.close()


__all__ = ["ImageFetchError", "MediaProxy", "media_urls"]
