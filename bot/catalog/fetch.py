"""Fetching an image from a URL someone else gave us, with every bound in place.

Customer photos come as platform CDN URLs; catalogue imports may name URLs too. A fetch is allowed
only to the configured hosts (platform media hosts, the simulator), follows redirects only to allowed
hosts, gives up after a timeout, refuses non-images and anything over the size cap (counted as the body
streams in, so a chunked body cannot slip past it), and decodes only JPEG, PNG, GIF and WebP with a
pixel limit (decompression bombs), in a worker thread. Every way an image can fail to decode becomes
`ImageFetchError`, which callers turn into a polite reply or a refused import row.
"""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import aiohttp
from PIL import Image, UnidentifiedImageError

from bot.settings import Settings

MAX_BYTES = 8 * 1024 * 1024
MAX_PIXELS = 40_000_000
TIMEOUT = 5.0
MAX_REDIRECTS = 3
CHUNK = 64 * 1024
# Only what platforms send as photos. Naming the formats keeps Pillow from trying any other plugin:
# TIFF (a large, bug-prone parser) and EPS (which hands the file to Ghostscript) are never opened.
FORMATS = ("JPEG", "PNG", "GIF", "WEBP")
# Where Meta and X serve message media (suffix match); the simulator's host is added from the settings.
PLATFORM_MEDIA_HOSTS = (
    "fbcdn.net",
    "fbsbx.com",
    "cdninstagram.com",
    "twimg.com",
    "ton.twitter.com",
)


logger = logging.getLogger(__name__)


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
        try:
            parts = urlsplit(url)
            port = parts.port  # ValueError for a port that is not a number
        except ValueError:  # e.g. "http://[::1" or "http://host:x/"
            return False
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return False
        host = parts.hostname.lower()
        netloc = f"{host}:{port}" if port else host
        return any(
            netloc == allowed or host == allowed or host.endswith("." + allowed)
            for allowed in self.allowed_hosts
        )


def media_policy(env: Mapping[str, str] | None = None) -> FetchPolicy:
    """Platform media hosts, the simulator (SIM_PUBLIC_URL) and PHOTO_ALLOWED_HOSTS (comma-separated).

    The photo action and the desk's media proxy fetch customer media under this one policy.
    """
    return media_policy_for(Settings.from_env(env))


def media_policy_for(settings: Settings) -> FetchPolicy:
    """The platform media hosts plus the settings' `photo_allowed_hosts` and simulator."""
    extra = list(settings.photo_allowed_hosts)
    if settings.sim_public_url:
        extra.append(urlsplit(settings.sim_public_url).netloc)
    return FetchPolicy(allowed_hosts=PLATFORM_MEDIA_HOSTS).with_hosts(extra)


def _open(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data), formats=FORMATS)


def decode(data: bytes, policy: FetchPolicy) -> Image.Image:
    """Bytes to an RGB image, refusing other formats, corrupt files and oversized images."""
    try:
        with _open(data) as probe:
            width, height = probe.size
            if width * height > policy.max_pixels:
                raise ImageFetchError(f"image too large ({width}x{height} pixels)")
            probe.verify()
        with _open(data) as image:
            image.load()
            return image.convert("RGB")
    except ImageFetchError:
        raise
    except UnidentifiedImageError as err:
        raise ImageFetchError(f"not a readable image (only {', '.join(FORMATS)})") from err
    except Exception as err:  # the boundary to hostile bytes: see below
        # Pillow's parsers answer malformed input with whatever their code trips on: OSError,
        # SyntaxError, ValueError (GIF), struct.error, EOFError, IndexError, DecompressionBombError...
        # None of these may escape as a crash; each means "this is not an image we can read".
        logger.debug("image refused by the decoder", exc_info=True)
        raise ImageFetchError(f"not a readable image: {type(err).__name__}: {err}") from err


async def _read_bounded(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    """The whole body, refused as soon as the running total passes `max_bytes`."""
    chunks: list[bytes] = []
    total = 0
    async for chunk in response.content.iter_chunked(CHUNK):
        total += len(chunk)
        if total > max_bytes:
            raise ImageFetchError(f"image too big (over {max_bytes} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


async def fetch_image(
    session: aiohttp.ClientSession,
    url: str,
    policy: FetchPolicy,
    sign: Callable[[str], Mapping[str, str]] | None = None,
) -> tuple[Image.Image, bytes]:
    """Download and decode one image within the policy; ImageFetchError otherwise.

    `sign` gives the headers a URL needs (X serves its media only to requests signed by our account);
    it is asked again for each redirect, so a signature never travels to another URL.
    """
    for _ in range(MAX_REDIRECTS + 1):
        if not policy.allows(url):
            raise ImageFetchError(f"host not allowed: {url[:200]!r}")
        try:
            timeout = aiohttp.ClientTimeout(total=policy.timeout)
            headers = dict(sign(url)) if sign is not None else None
            async with session.get(url, allow_redirects=False, timeout=timeout, headers=headers) as response:
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
                # read(n) would return only what is buffered so far: a body arriving in chunks came
                # back truncated, and the cap never saw a chunked oversize body. Count every chunk.
                data = await _read_bounded(response, policy.max_bytes)
        except ImageFetchError:
            raise
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as err:  # ValueError: yarl, bad URL
            raise ImageFetchError(f"could not download: {type(err).__name__}") from err
        return await asyncio.to_thread(decode, data, policy), data
    raise ImageFetchError("too many redirects")
