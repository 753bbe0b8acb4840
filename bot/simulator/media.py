"""A stand-in for Meta's CDN: customers' photos are uploaded here and their URLs go into webhooks.

Only images (JPEG, PNG, GIF, WebP) up to 8 MB are taken, recognised by their first bytes, because the
declared content type of an upload proves nothing.
"""

from __future__ import annotations

import struct
from collections.abc import Awaitable, Callable

from aiohttp import BodyPartReader, web

from bot.simulator.const import MEDIA_MAX_BYTES, MEDIA_TYPES
from bot.simulator.errors import sim_error
from bot.simulator.keys import CONFIG_KEY, STATE_KEY

GENERIC_TYPES = ("", "application/octet-stream")
ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg"}


def sniff_image_type(data: bytes) -> str | None:
    """The image type `data` starts like, or None if it is not one we take."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from an image's header (JPEG, PNG, GIF, WebP), or None if it cannot be read."""
    try:
        kind = sniff_image_type(data)
        if kind == "image/png" and data[12:16] == b"IHDR":
            return struct.unpack(">II", data[16:24])
        if kind == "image/gif":
            return struct.unpack("<HH", data[6:10])
        if kind == "image/webp":
            return _webp_size(data)
        if kind == "image/jpeg":
            return _jpeg_size(data)
    except struct.error:
        return None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        return width, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    """Walk the JPEG segments to the first start-of-frame marker, which holds the size."""
    offset = 2
    while offset + 9 < len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", data[offset + 5 : offset + 9])
            return width, height
        (length,) = struct.unpack(">H", data[offset + 2 : offset + 4])
        offset += 2 + length
    return None


async def _read_limited(read_chunk: Callable[[], Awaitable[bytes]]) -> bytes:
    """Read a stream to its end, refusing it as soon as it passes the upload limit."""
    chunks: list[bytes] = []
    size = 0
    while chunk := await read_chunk():
        size += len(chunk)
        if size > MEDIA_MAX_BYTES:
            raise sim_error(413, f"uploads are limited to {MEDIA_MAX_BYTES // (1024 * 1024)} MB")
        chunks.append(chunk)
    return b"".join(chunks)


async def _read_upload(request: web.Request) -> tuple[bytes, str]:
    """The uploaded bytes and their declared content type (multipart field `file`, or the raw body)."""
    if request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        async for part in reader:
            if isinstance(part, BodyPartReader) and part.name == "file":
                declared = part.headers.get("Content-Type", "").split(";")[0].strip().lower()
                return await _read_limited(part.read_chunk), declared
        raise sim_error(400, "multipart upload needs a field named file")
    return await _read_limited(lambda: request.content.read(64 * 1024)), request.content_type.lower()


async def upload_media(request: web.Request) -> web.Response:
    """`POST /_sim/media`: store an image, answer its URL."""
    data, declared = await _read_upload(request)
    if not data:
        raise sim_error(400, "the upload is empty")
    actual = sniff_image_type(data)
    if actual is None:
        raise sim_error(415, f"only {', '.join(MEDIA_TYPES)} images are accepted")
    declared = ALIASES.get(declared, declared)
    if declared not in GENERIC_TYPES and declared != actual:
        raise sim_error(415, f"declared {declared} but the file is {actual}")
    media_id = request.app[STATE_KEY].put_media(actual, data)
    base = request.app[CONFIG_KEY].public_url or f"{request.scheme}://{request.host}"
    return web.json_response(
        {"url": f"{base}/_sim/media/{media_id}", "id": media_id, "content_type": actual, "size": len(data)}
    )


async def get_media(request: web.Request) -> web.Response:
    """`GET /_sim/media/{id}`: serve a stored image with its content type."""
    media = request.app[STATE_KEY].get_media(request.match_info["media_id"])
    if media is None:
        raise sim_error(404, "no such media (uploads are kept in memory until the simulator restarts)")
    return web.Response(
        body=media.data,
        content_type=media.content_type,
        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
