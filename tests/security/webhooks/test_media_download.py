"""The X channel's image download reads chunked bodies whole and refuses oversize ones (runtime A).

A real aiohttp server sends the image in chunks, some time apart, as a CDN does: `content.read(n)`
returned only the first part of such a body, and never saw how big it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from connectors.state import ConnectorState, MemoryStore
from connectors.twitter import TwitterOutput
from connectors.x_client import MAX_MEDIA_BYTES

from .conftest import free_port

PNG_HEADER = b"\x89PNG\r\n\x1a\n"


def image(size: int) -> bytes:
    """`size` bytes starting like a PNG (the channel does not decode, it forwards)."""
    return PNG_HEADER + random.Random(size).randbytes(size - len(PNG_HEADER))


async def chunked(request: web.Request) -> web.StreamResponse:
    """`/{size}.{type}`: an image of `size` bytes sent in 256 KiB chunks, without a Content-Length."""
    size, kind = int(request.match_info["size"]), request.match_info["type"]
    answer = web.StreamResponse(headers={"Content-Type": f"image/{kind}"})
    answer.enable_chunked_encoding()
    await answer.prepare(request)
    data = image(size)
    for start in range(0, size, 256 * 1024):
        await answer.write(data[start : start + 256 * 1024])
        await asyncio.sleep(0.005)  # the next chunk is not in the client's buffer yet
    await answer.write_eof()
    return answer


@pytest.fixture
async def images() -> AsyncIterator[tuple[str, TwitterOutput]]:
    app = web.Application()
    app.router.add_get("/{size:\\d+}.{type}", chunked)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    session = aiohttp.ClientSession()

    async def session_factory() -> aiohttp.ClientSession:
        return session

    try:
        yield f"http://127.0.0.1:{port}", TwitterOutput(None, ConnectorState(MemoryStore()), session_factory)  # type: ignore[arg-type]
    finally:
        await session.close()
        await runner.cleanup()


@pytest.mark.parametrize("kind", ["png", "jpeg", "gif", "webp"])
async def test_a_multi_megabyte_chunked_image_arrives_whole(images, kind):
    base, output = images
    size = 3_600_000
    data, content_type = await output._download(f"{base}/{size}.{kind}")
    assert content_type == f"image/{kind}"
    assert hashlib.sha256(data).hexdigest() == hashlib.sha256(image(size)).hexdigest()


async def test_an_oversize_chunked_image_is_refused(images):
    base, output = images
    with pytest.raises(ValueError, match="larger than 5 MB"):
        await output._download(f"{base}/{MAX_MEDIA_BYTES + 300_000}.png")


@pytest.mark.parametrize("kind", ["tiff", "svg+xml", "x-eps"])
async def test_other_image_types_are_refused(images, kind):
    base, output = images
    with pytest.raises(ValueError, match="not sent"):
        await output._download(f"{base}/1000.{kind}")
