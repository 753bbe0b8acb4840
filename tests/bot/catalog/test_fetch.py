"""Fetching customer photos: only allowed hosts, bounded in size, time and type (real local HTTP)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web
from PIL import Image

from bot.catalog.fetch import FetchPolicy, ImageFetchError, decode, fetch_image


def png(width: int = 32, height: int = 24) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


@pytest.fixture
async def server() -> AsyncIterator[str]:
    async def image(_: web.Request) -> web.Response:
        return web.Response(body=png(), content_type="image/png")

    async def html(_: web.Request) -> web.Response:
        return web.Response(text="<html>", content_type="text/html")

    async def huge(_: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG" + b"0" * (2 * 1024 * 1024), content_type="image/png")

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.Response(body=png(), content_type="image/png")

    async def redirect_out(_: web.Request) -> web.Response:
        raise web.HTTPFound("http://evil.example/x.png")

    async def redirect_in(request: web.Request) -> web.Response:
        raise web.HTTPFound("/img.png")

    async def corrupt(_: web.Request) -> web.Response:
        return web.Response(body=b"\x89PNG\r\n\x1a\nnot really", content_type="image/png")

    app = web.Application()
    for path, handler in {
        "/img.png": image, "/page": html, "/huge.png": huge, "/slow.png": slow,
        "/away": redirect_out, "/here": redirect_in, "/corrupt.png": corrupt,
    }.items():  # fmt: skip
        app.router.add_get(path, handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"127.0.0.1:{port}"
    await runner.cleanup()


async def get(url: str, policy: FetchPolicy):
    async with aiohttp.ClientSession() as session:
        return await fetch_image(session, url, policy)


async def test_an_allowed_image_is_fetched_and_decoded(server):
    image, data = await get(f"http://{server}/img.png", FetchPolicy(allowed_hosts=(server,)))
    assert image.size == (32, 24) and image.mode == "RGB" and data.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/page", "not an image type"),
        ("/huge.png", "too big"),
        ("/slow.png", "could not download"),
        ("/away", "host not allowed"),
        ("/corrupt.png", "not a readable image"),
    ],
)
async def test_everything_else_is_refused(server, path, message):
    policy = FetchPolicy(allowed_hosts=(server,), max_bytes=1024 * 1024, timeout=0.5)
    with pytest.raises(ImageFetchError, match=message):
        await get(f"http://{server}{path}", policy)


async def test_redirects_within_allowed_hosts_are_followed(server):
    image, _ = await get(f"http://{server}/here", FetchPolicy(allowed_hosts=(server,)))
    assert image.size == (32, 24)


async def test_other_hosts_are_never_contacted():
    with pytest.raises(ImageFetchError, match="host not allowed"):
        await get("http://169.254.169.254/latest/meta-data", FetchPolicy())


def test_host_rules():
    policy = FetchPolicy()
    assert policy.allows("https://scontent.xx.fbcdn.net/v/a.jpg")
    assert policy.allows("https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1")
    assert not policy.allows("https://fbcdn.net.evil.example/a.jpg")
    assert not policy.allows("file:///etc/passwd")
    assert policy.with_hosts(["127.0.0.1:5080"]).allows("http://127.0.0.1:5080/_sim/media/1")
    assert not policy.with_hosts(["127.0.0.1:5080"]).allows("http://127.0.0.1:5081/x")


def test_decompression_bombs_are_refused_before_decoding():
    with pytest.raises(ImageFetchError, match="too large"):
        decode(png(4000, 3000), FetchPolicy(max_pixels=1_000_000))


def encoded(fmt: str, size: tuple[int, int] = (40, 30), **options) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 120, 200)).save(buffer, fmt, **options)
    return buffer.getvalue()


def malformed_gif() -> bytes:
    """A GIF whose image descriptor is zeroed: Pillow raises ValueError ("tile cannot extend outside")."""
    data = bytearray(encoded("GIF"))
    data[30] = 0
    return bytes(data)


EPS = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nnewpath 0 0 moveto 10 10 lineto stroke\nshowpage\n"


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "GIF", "WEBP"])
def test_the_photo_formats_decode(fmt):
    assert decode(encoded(fmt), FetchPolicy()).size == (40, 30)


@pytest.mark.parametrize("fmt", ["TIFF", "BMP", "PPM", "ICO"])
def test_other_formats_are_refused(fmt):
    with pytest.raises(ImageFetchError, match="only JPEG, PNG, GIF, WEBP"):
        decode(encoded(fmt), FetchPolicy())


def test_eps_never_reaches_ghostscript(monkeypatch):
    from PIL import EpsImagePlugin

    calls: list[object] = []
    fake = lambda *args, **kwargs: calls.append(args) or Image.new("L", (1, 1))  # noqa: E731
    monkeypatch.setattr(EpsImagePlugin, "Ghostscript", fake)
    with pytest.raises(ImageFetchError):
        decode(EPS, FetchPolicy())
    assert calls == []


@pytest.mark.parametrize(
    "data",
    [
        malformed_gif(),  # ValueError
        encoded("PNG")[:60],  # truncated: OSError / SyntaxError
        encoded("JPEG")[:200],  # truncated JPEG
        b"GIF89a" + b"\xff" * 20,  # EOFError / struct errors on a header with nothing behind it
        b"RIFF\x10\x00\x00\x00WEBPVP8 " + b"\x00" * 8,  # a WebP with an empty frame
        b"",
    ],
    ids=["gif-valueerror", "png-truncated", "jpeg-truncated", "gif-header-only", "webp-empty", "empty"],
)
def test_every_decoder_error_is_an_image_fetch_error(data):
    with pytest.raises(ImageFetchError, match="not a readable image"):
        decode(data, FetchPolicy())


def test_pillows_own_bomb_limit_is_an_image_fetch_error_too():
    bomb = io.BytesIO()
    Image.new("1", (20_000, 20_000)).save(bomb, "PNG")  # 400 Mpx, a few kB compressed
    with pytest.raises(ImageFetchError, match=r"too large|DecompressionBomb"):
        decode(bomb.getvalue(), FetchPolicy(max_pixels=10**12))  # our limit off: Pillow's must hold


def test_malformed_urls_are_not_allowed():
    policy = FetchPolicy(allowed_hosts=("fbcdn.net",))
    assert not policy.allows("http://[::1")
    assert not policy.allows("https://fbcdn.net:notaport/a.jpg")


async def test_decoding_runs_off_the_event_loop(server, monkeypatch):
    import threading

    from bot.catalog import fetch as fetch_module

    threads: list[int] = []
    real = fetch_module.decode

    def recording(data: bytes, policy: FetchPolicy) -> Image.Image:
        threads.append(threading.get_ident())
        return real(data, policy)

    monkeypatch.setattr(fetch_module, "decode", recording)
    await get(f"http://{server}/img.png", FetchPolicy(allowed_hosts=(server,)))
    assert threads and threads[0] != threading.get_ident()
