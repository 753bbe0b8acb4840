"""The photo action against a real index, a real database and photos served over local HTTP."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator

import numpy as np
import pytest
from aiohttp import web
from PIL import Image
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.photos import ActionPhotoLookup
from actions.services import services
from bench.photo_queries import queries
from bot.catalog.encoders import EfficientNetLiteEncoder, text_encoder
from bot.catalog.images import ImageStore
from bot.catalog.indexer import build
from bot.storage import migrate
from bot.storage.db import create_sync_engine
from bot.storage.seed import seed


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def catalogue(postgres_url, tmp_path_factory):
    """The demo shop with photos, indexed; returns (var dir, a changed photo of the Canvas Tote)."""
    var = tmp_path_factory.mktemp("var")
    migrate.downgrade(postgres_url, "base")
    migrate.upgrade(postgres_url)
    engine = create_sync_engine(postgres_url)
    seed(engine, catalog_dir=var / "catalog")
    build(engine, var / "catalog", EfficientNetLiteEncoder(), text_encoder())
    with engine.connect() as connection:
        path = connection.exec_driver_sql(
            "SELECT i.path FROM product_images i JOIN products p ON p.id = i.product_id "
            "WHERE p.sku = 'BAG-002' ORDER BY i.position LIMIT 1"
        ).scalar_one()
    engine.dispose()
    _, changed = queries(ImageStore(var / "catalog" / "images").open(path), seed=3, per_image=1)[0]
    return var, changed


@pytest.fixture
async def photos(catalogue, postgres_url, monkeypatch) -> AsyncIterator[str]:
    """A local 'CDN' serving the photos; the action may fetch from it."""
    var, tote = catalogue
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 255, (256, 256, 3), dtype=np.uint8))
    files = {"/tote.jpg": jpeg(tote), "/noise.jpg": jpeg(noise), "/broken.jpg": b"\xff\xd8\xffnot a jpeg"}

    async def serve(request: web.Request) -> web.Response:
        return web.Response(body=files[request.path], content_type="image/jpeg")

    app = web.Application()
    for path in files:
        app.router.add_get(path, serve)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host = f"127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    monkeypatch.setenv("DATABASE_URL", postgres_url)
    monkeypatch.setenv("VAR_DIR", str(var))
    monkeypatch.setenv("PHOTO_ALLOWED_HOSTS", host)
    services.cache_clear()
    yield f"http://{host}"
    services.cache_clear()
    await runner.cleanup()


def tracker(urls: list[str], intent: str = "share_photo", **metadata) -> Tracker:
    latest = {
        "text": "",
        "intent": {"name": intent},
        "entities": [],
        "metadata": {"image_urls": urls, **metadata},
    }
    return Tracker("photo-user", {}, latest, [], False, None, {}, "action_listen")


async def run(t: Tracker):
    dispatcher = CollectingDispatcher()
    events = await ActionPhotoLookup().run(dispatcher, t, {})
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def test_a_customers_photo_finds_the_product(photos):
    messages, slots = await run(tracker([f"{photos}/tote.jpg"]))
    assert "Canvas Tote" in messages[0]["text"]
    [card] = messages[1]["elements"]
    assert card["title"] == "Canvas Tote" and card["buttons"][0]["url"].endswith("/canvas-tote")
    assert slots["product"] == "canvas tote" and len(slots["matched_products"]) == 1


async def test_praise_with_a_photo_names_the_product(photos):
    messages, _ = await run(tracker([f"{photos}/tote.jpg"], intent="compliment"))
    assert "love your Canvas Tote" in messages[0]["text"]


async def test_nothing_close_is_said_honestly_with_a_person_offered(photos):
    messages, slots = await run(tracker([f"{photos}/noise.jpg"]))
    assert "couldn't find that" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert slots == {"matched_products": []}


@pytest.mark.parametrize(
    ("url", "reply"),
    [
        ("/broken.jpg", "couldn't open that photo"),
        ("http://not-allowed.example/x.jpg", "couldn't open that photo"),
    ],
)
async def test_bad_or_foreign_photos_get_a_friendly_reply(photos, url, reply):
    messages, _ = await run(tracker([url if url.startswith("http") else f"{photos}{url}"]))
    assert reply in messages[0]["text"]


async def test_no_photo_or_one_we_cannot_open(photos):
    assert "attach the photo" in (await run(tracker([])))[0][0]["text"]
    messages, _ = await run(
        tracker(["https://ton.twitter.com/1.1/ton/data/dm/1/2/x.jpg"], image_auth="x_oauth1")
    )
    assert "can't open photos sent here" in messages[0]["text"]
