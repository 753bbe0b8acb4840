"""Image uploads standing in for Meta's CDN: types by magic bytes, the 8 MB limit, serving."""

from __future__ import annotations

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from yarl import URL

from bot.simulator.app import create_app
from bot.simulator.media import sniff_image_type

from .conftest import make_config

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
GIF = b"GIF89a" + b"\x00" * 64
WEBP = b"RIFF\x24\x00\x00\x00WEBPVP8 " + b"\x00" * 64
LIMIT = 8 * 1024 * 1024


def multipart(data: bytes, content_type: str = "image/png", name: str = "file") -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field(name, data, filename="photo", content_type=content_type)
    return form


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PNG, "image/png"),
        (JPEG, "image/jpeg"),
        (GIF, "image/gif"),
        (b"GIF87a" + b"\x00" * 8, "image/gif"),
        (WEBP, "image/webp"),
        (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
        (b"%PDF-1.7", None),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", None),
        (b"", None),
    ],
)
def test_sniffing(data: bytes, expected: str | None) -> None:
    assert sniff_image_type(data) == expected


@pytest.mark.parametrize(
    ("data", "declared"), [(PNG, "image/png"), (JPEG, "image/jpeg"), (WEBP, "image/webp")]
)
async def test_multipart_upload_then_serve(sim: TestClient, data: bytes, declared: str) -> None:
    response = await sim.post("/_sim/media", data=multipart(data, declared))
    assert response.status == 200
    answer = await response.json()
    url = URL(answer["url"])
    assert url.path.startswith("/_sim/media/")
    served = await sim.get(url.path)
    assert served.status == 200
    assert served.content_type == declared
    assert await served.read() == data


async def test_raw_upload_with_its_content_type(sim: TestClient) -> None:
    response = await sim.post("/_sim/media", data=JPEG, headers={"Content-Type": "image/jpeg"})
    assert response.status == 200
    assert (await response.json())["content_type"] == "image/jpeg"


async def test_raw_upload_of_unknown_type_is_sniffed(sim: TestClient) -> None:
    response = await sim.post("/_sim/media", data=GIF, headers={"Content-Type": "application/octet-stream"})
    answer = await response.json()
    assert answer["content_type"] == "image/gif"
    assert (await sim.get(URL(answer["url"]).path)).content_type == "image/gif"


async def test_upload_at_the_limit_is_accepted(sim: TestClient) -> None:
    data = PNG + b"\x00" * (LIMIT - len(PNG))
    response = await sim.post("/_sim/media", data=multipart(data))
    assert response.status == 200
    assert (await response.json())["size"] == LIMIT


@pytest.mark.parametrize("as_multipart", [True, False])
async def test_upload_over_the_limit_is_refused(sim: TestClient, as_multipart: bool) -> None:
    data = PNG + b"\x00" * (LIMIT + 1 - len(PNG))
    if as_multipart:
        response = await sim.post("/_sim/media", data=multipart(data))
    else:
        response = await sim.post("/_sim/media", data=data, headers={"Content-Type": "image/png"})
    assert response.status == 413
    assert "8 MB" in (await response.json())["error"]


@pytest.mark.parametrize(
    ("data", "declared"),
    [
        (b"hello, I am text", "text/plain"),
        (b"hello, I am text", "image/png"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "image/svg+xml"),
        (JPEG, "image/png"),
        (PNG, "text/html"),
    ],
)
async def test_non_images_and_mismatched_types_are_refused(
    sim: TestClient, data: bytes, declared: str
) -> None:
    response = await sim.post("/_sim/media", data=multipart(data, declared))
    assert response.status == 415
    assert "error" in await response.json()


async def test_empty_upload_is_refused(sim: TestClient) -> None:
    response = await sim.post("/_sim/media", data=b"", headers={"Content-Type": "image/png"})
    assert response.status == 400


async def test_multipart_without_a_file_field_is_refused(sim: TestClient) -> None:
    response = await sim.post("/_sim/media", data=multipart(PNG, name="photo"))
    assert response.status == 400
    assert "file" in (await response.json())["error"]


async def test_unknown_media_is_404(sim: TestClient) -> None:
    assert (await sim.get("/_sim/media/nope")).status == 404


async def test_public_url_builds_the_media_url() -> None:
    config = make_config("http://127.0.0.1:9/webhooks", public_url="http://sim.test:5080")
    client = TestClient(TestServer(create_app(config)))
    await client.start_server()
    try:
        answer = await (await client.post("/_sim/media", data=multipart(PNG))).json()
        assert answer["url"] == f"http://sim.test:5080/_sim/media/{answer['id']}"
    finally:
        await client.close()
