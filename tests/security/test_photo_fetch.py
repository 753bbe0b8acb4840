"""Customer photos over real HTTP: multi-megabyte bodies in chunks, oversize chunked bodies, formats.

A local aiohttp server plays the platform CDN. It streams with chunked transfer encoding (no
Content-Length), in small chunks with pauses, as a CDN under load does: a reader that takes only what
is buffered gets a truncated file, and a size cap that trusts Content-Length never sees the body.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import aiohttp
import numpy as np
import pytest
from aiohttp import web
from PIL import Image

from bot.catalog.fetch import FetchPolicy, ImageFetchError, fetch_image

from ..actions.responses import render  # the reply as Rasa renders it from domain.yml

MB = 1024 * 1024


def noise(width: int, height: int, seed: int = 0) -> Image.Image:
    """Random pixels: compress badly, so a modest image is megabytes."""
    pixels = np.random.default_rng(seed).integers(0, 255, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def save(image: Image.Image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


BIG_PNG = save(noise(1100, 1100), "PNG")  # about 3.6 MB, like the customer photo in the issue
BIG_JPEG = save(noise(1400, 1400, seed=1), "JPEG", quality=95)  # about 2.5 MB
BIG_WEBP = save(noise(1000, 1000, seed=2), "WEBP", lossless=True)
GIF = save(noise(200, 150, seed=3).convert("P"), "GIF")
TIFF = save(noise(64, 48), "TIFF")
EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\nshowpage\n"
MALFORMED_GIF = bytearray(save(Image.new("RGB", (40, 30)), "GIF"))
MALFORMED_GIF[30] = 0  # zeroed image descriptor: Pillow raises ValueError
BOMB = save(Image.new("1", (20_000, 20_000)), "PNG")  # 400 Mpx in a few kB


class Cdn:
    """Serves `/<name>` from `files`, chunked, `chunk` bytes at a time with a pause between chunks."""

    def __init__(self) -> None:
        self.files: dict[str, tuple[bytes, str]] = {
            "big.png": (BIG_PNG, "image/png"),
            "big.jpg": (BIG_JPEG, "image/jpeg"),
            "big.webp": (BIG_WEBP, "image/webp"),
            "small.gif": (GIF, "image/gif"),
            "photo.tiff": (TIFF, "image/png"),  # a lying Content-Type: the bytes decide
            "photo.eps": (EPS, "image/jpeg"),
            "malformed.gif": (bytes(MALFORMED_GIF), "image/gif"),
            "bomb.png": (BOMB, "image/png"),
        }
        self.sent: dict[str, int] = {}

    async def chunked(self, request: web.Request) -> web.StreamResponse:
        chunk, pause = int(request.query.get("chunk", 16 * 1024)), float(request.query.get("pause", 0.001))
        body, content_type = self.files[request.match_info["name"]]
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for start in range(0, len(body), chunk):
            await response.write(body[start : start + chunk])
            await asyncio.sleep(pause)
        await response.write_eof()
        return response

    async def endless(self, request: web.Request) -> web.StreamResponse:
        """A PNG that never ends, chunked: only a running total can stop it."""
        response = web.StreamResponse(headers={"Content-Type": "image/png"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        self.sent["endless"] = 0
        block = BIG_PNG[: 64 * 1024]
        try:
            while self.sent["endless"] < 200 * MB:
                await response.write(block)
                self.sent["endless"] += len(block)
                await asyncio.sleep(0.001)
        except (ConnectionResetError, ConnectionError):
            pass
        return response


@pytest.fixture
async def cdn() -> AsyncIterator[tuple[Cdn, str]]:
    server = Cdn()
    app = web.Application()
    app.router.add_get("/chunked/{name}", server.chunked)
    app.router.add_get("/endless.png", server.endless)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host = f"127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    yield server, host
    await runner.cleanup()


def policy(host: str, **overrides) -> FetchPolicy:
    return FetchPolicy(allowed_hosts=(host,), timeout=60.0, **overrides)


async def fetch(url: str, limits: FetchPolicy):
    async with aiohttp.ClientSession() as session:
        return await fetch_image(session, url, limits)


@pytest.mark.parametrize(
    ("name", "original", "size"),
    [
        ("big.png", BIG_PNG, (1100, 1100)),
        ("big.jpg", BIG_JPEG, (1400, 1400)),
        ("big.webp", BIG_WEBP, (1000, 1000)),
    ],
)
async def test_multi_megabyte_photos_in_small_chunks_arrive_whole(cdn, name, original, size):
    _, host = cdn
    assert len(original) > 1 * MB
    image, data = await fetch(f"http://{host}/chunked/{name}?chunk=8192&pause=0.0005", policy(host))
    assert data == original and image.size == size and image.mode == "RGB"


async def test_a_3_6_mb_png_in_slow_chunks_is_not_truncated(cdn):
    _, host = cdn
    assert 3 * MB < len(BIG_PNG) < 4 * MB
    image, data = await fetch(f"http://{host}/chunked/big.png?chunk=65536&pause=0.01", policy(host))
    assert len(data) == len(BIG_PNG) and image.size == (1100, 1100)


async def test_an_oversize_chunked_body_is_refused_as_it_streams(cdn):
    server, host = cdn
    with pytest.raises(ImageFetchError, match="too big"):
        await fetch(f"http://{host}/endless.png", policy(host, max_bytes=2 * MB))
    # the reader stopped at the cap: far less than the 200 MB the server would have sent
    assert server.sent["endless"] < 50 * MB


async def test_an_oversize_chunked_image_is_refused_at_the_cap(cdn):
    _, host = cdn
    with pytest.raises(ImageFetchError, match="too big"):
        await fetch(f"http://{host}/chunked/big.png", policy(host, max_bytes=1 * MB))


async def test_gif_is_a_photo_format(cdn):
    _, host = cdn
    image, _ = await fetch(f"http://{host}/chunked/small.gif", policy(host))
    assert image.size == (200, 150)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("photo.tiff", "only JPEG, PNG, GIF, WEBP"),
        ("photo.eps", "only JPEG, PNG, GIF, WEBP"),
        ("malformed.gif", "not a readable image"),
        ("bomb.png", "too large|DecompressionBomb"),
    ],
)
async def test_other_formats_and_hostile_files_are_refused(cdn, name, message, monkeypatch):
    from PIL import EpsImagePlugin

    ghostscript: list[object] = []
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", lambda *args, **kwargs: ghostscript.append(args))
    _, host = cdn
    with pytest.raises(ImageFetchError, match=message):
        await fetch(f"http://{host}/chunked/{name}", policy(host))
    assert ghostscript == []


# The photo action: whatever the photo does, the customer gets the polite "could not open" reply.


@pytest.fixture
async def photo_action(cdn, postgres_url, monkeypatch, tmp_path) -> AsyncIterator[str]:
    """The action's services on a migrated database, with the local CDN as a platform media host."""
    from actions.services import services
    from bot.storage import migrate

    _, host = cdn
    migrate.downgrade(postgres_url, "base")
    migrate.upgrade(postgres_url)
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    monkeypatch.setenv("PHOTO_ALLOWED_HOSTS", host)
    services.cache_clear()
    try:
        yield f"http://{host}"
    finally:
        await services().database.close()
        services.cache_clear()
        migrate.downgrade(postgres_url, "base")


async def run_photo_action(metadata: dict) -> list[str]:
    from rasa_sdk import Tracker
    from rasa_sdk.executor import CollectingDispatcher

    from actions.photos import ActionPhotoLookup

    latest = {"text": "", "intent": {"name": "share_photo"}, "entities": [], "metadata": metadata}
    events = [{"event": "user", "text": "", "input_channel": "messenger", "parse_data": latest}]
    dispatcher = CollectingDispatcher()
    await ActionPhotoLookup().run(
        dispatcher, Tracker("photo-sec", {}, latest, events, False, None, {}, "action_listen"), {}
    )
    return [message.get("text") or "" for message in map(render, dispatcher.messages)]


@pytest.mark.parametrize(
    "path",
    [
        "/chunked/photo.tiff",
        "/chunked/photo.eps",
        "/chunked/malformed.gif",  # Pillow's ValueError used to escape the action
        "/chunked/bomb.png",
        "/endless.png",
        "/nothing-here.png",
    ],
)
async def test_the_photo_action_answers_politely_whatever_the_photo(photo_action, path):
    messages = await run_photo_action({"image_urls": [f"{photo_action}{path}"]})
    assert len(messages) == 1 and "couldn't open that photo" in messages[0]


@pytest.mark.parametrize(
    "urls",
    [{"a": 1}, 5, "http://example.com/x.png", [None], ["http://[::1"], ["http://fbcdn.net:port/x.png"]],
)
async def test_odd_image_url_metadata_gets_a_reply_not_a_crash(photo_action, urls):
    messages = await run_photo_action({"image_urls": urls})
    assert len(messages) == 1 and (
        "attach the photo" in messages[0] or "couldn't open that photo" in messages[0]
    )
