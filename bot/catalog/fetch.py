"""Fetching an image from a URL someone else gave us, with every bound in place.

Customer photos come as platform CDN URLs; catalogue imports may name URLs too. A fetch is allowed
only to the configured hosts (platform media hosts, the simulator), follows redirects only to allowed
hosts, gives up after a timeout, refuses non-images and anything over the size cap, and decodes the
image with a pixel limit (decompression bombs).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp
from PIL import Image, UnidentifiedImageError

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
TIMEOUT = 5.0
MAX_REDIRECTS = 3
# Where Meta and X serve message media (suffix match); the simulator's host is added from the settings.
PLATFORM_MEDIA_HOSTS = (
    "fbcdn.net",
    "fbsbx.com",
    "cdninstagram.com",
    "twimg.com",
    "ton.twitter.com",
)


class ImageFetchError(ValueError):
    """The image could not be fetched or is not an acceptable image (the message says why)."""


@dataclass(frozen=True)
class FetchPolicy:
    """Which hosts, how big, how long."""

    allowed_hosts: tuple[str, ...] = PLATFORM_MEDIA_HOSTS
    max_bytes: int = MAX_BYTES
    max_pixels: int = MAX_PIXELS
    timeout: float = TIMEOUT
    content_types: frozenset[str] = field(
        default_factory=lambda: frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
    )

    def with_hosts(self, hosts: Iterable[str]) -> FetchPolicy:
        """The same policy with more allowed hosts (e.g. the simulator's `127.0.0.1:5080`)."""
        return FetchPolicy(
            (*self.allowed_hosts, *hosts), self.max_bytes, self.max_pixels, self.timeout, self.content_types
        )

    def allows(self, url: str) -> bool:
        """Whether `url` is http(s) on an allowed host (exact `host[:port]` or a domain suffix)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        host = parts.hostname.lower()
        netloc = f"{host}:{parts.port}" if parts.port else host
        return any(
            netloc == allowed or host == allowed or host.endswith("." + allowed)
            for allowed in self.allowed_hosts
        )


def decode(data: bytes, policy: FetchPolicy) -> Image.Image:
    """Bytes to an RGB image, refusing corrupt files and oversized images before decoding them fully."""
    try:
        with Image.open(io.BytesIO(data)) as probe:
            width, height = probe.size
            if width * height > policy.max_pixels:
                raise ImageFetchError(f"image too large ({width}x{height} pixels)")
            probe.verify()
        image = Image.open(io.BytesIO(data))
        image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise ImageFetchError(f"not a readable image: {err}") from err
    return image.convert("RGB")


async def fetch_image(
    session: aiohttp.ClientSession, url: str, policy: FetchPolicy
) -> tuple[Image.Image, bytes]:
    """Download and decode one image within the policy; ImageFetchError otherwise."""
    for _ in range(MAX_REDIRECTS + 1):
        if not policy.allows(url):
            raise ImageFetchError(f"host not allowed: {urlsplit(url).netloc or url!r}")
        try:
            timeout = aiohttp.ClientTimeout(total=policy.timeout)
            async with session.get(url, allow_redirects=False, timeout=timeout) as response:
                if response.status in (301, 302, 303, 307, 308) and response.headers.get("Location"):
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status != 200:
                    raise ImageFetchError(f"HTTP {response.status}")
                content_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if content_type not in policy.content_types:
                    raise ImageFetchError(f"not an image type: {content_type or 'none'}")
                declared = response.content_length
                if declared is not None and declared > policy.max_bytes:
                    raise ImageFetchError(f"image too big ({declared} bytes)")
                data = await response.content.read(policy.max_bytes + 1)
                if len(data) > policy.max_bytes:
                    raise ImageFetchError(f"image too big (over {policy.max_bytes} bytes)")
        except (aiohttp.ClientError, asyncio.TimeoutError) as err:
            raise ImageFetchError(f"could not download: {type(err).__name__}") from err
        return decode(data, policy), data
    raise ImageFetchError("too many redirects")
