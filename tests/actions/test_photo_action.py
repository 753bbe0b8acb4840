"""The photo action against a real index, a real database and photos served over local HTTP."""

from __future__ import annotations

import io
import logging
import random
import uuid
from collections.abc import AsyncIterator

import numpy as np
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select
from yarl import URL

from actions import photos as photo_actions
from actions.photos import ActionPhotoLookup
from actions.services import services
from bench.logo_photos import busy, logo_photo
from bench.photo_queries import queries
from bot.catalog.demo_logo import draw_logo
from bot.catalog.encoders import EfficientNetLiteEncoder, text_encoder
from bot.catalog.images import ImageStore
from bot.catalog.indexing import build
from bot.platform_env import SIMULATOR_SECRETS
from bot.simulator.app import create_app
from bot.simulator.config import SimulatorConfig
from bot.storage import migrate
from bot.storage.db import create_sync_engine
from bot.storage.models import LogoSighting, PhotoLookup, Product
from bot.storage.seed import seed
from bot.x_oauth import X_ENV

from .conftest import rendered

pytestmark = pytest.mark.slow
SIM_X_CREDENTIALS = [SIMULATOR_SECRETS[name] for name in X_ENV]


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
    rng = random.Random(5)
    logo = logo_photo(draw_logo(), busy((800, 600), rng), rng)  # our logo on a busy scene, no product
    files = {
        "/tote.jpg": jpeg(tote),
        "/noise.jpg": jpeg(noise),
        "/logo.jpg": jpeg(logo),
        "/broken.jpg": b"\xff\xd8\xffnot a jpeg",
    }

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


def tracker(
    urls: list[str],
    intent: str = "share_photo",
    sender: str = "photo-user",
    sentiment: dict | None = None,
    **metadata,
) -> Tracker:
    latest = {
        "text": "",
        "intent": {"name": intent},
        "entities": [],
        "metadata": {"image_urls": urls, **metadata},
        "sentiment": sentiment or {"label": "neutral", "score": 0.0},
    }
    events = [{"event": "user", "text": "", "input_channel": "instagram", "parse_data": latest}]
    return Tracker(sender, {}, latest, events, False, None, {}, "action_listen")


async def lookups(sender: str) -> list[PhotoLookup]:
    """The photo lookups recorded for one conversation."""
    database = services().database
    async with database.sessions() as session:
        return list(await session.scalars(select(PhotoLookup).where(PhotoLookup.conversation_id == sender)))


async def run(t: Tracker):
    dispatcher = CollectingDispatcher()
    events = await ActionPhotoLookup().run(dispatcher, t, {})
    return rendered(dispatcher), {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


async def sightings(sender: str) -> list[LogoSighting]:
    """The logos seen in one conversation's photos."""
    async with services().database.sessions() as session:
        return list(await session.scalars(select(LogoSighting).where(LogoSighting.conversation_id == sender)))


async def test_a_photo_showing_our_logo_is_recorded_and_answered_as_ours(photos):
    sender = f"logo-{uuid.uuid4().hex[:8]}"
    praise = {"label": "positive", "score": 0.7}
    messages, slots = await run(tracker([f"{photos}/logo.jpg"], sender=sender, sentiment=praise))
    assert "I can see our logo" in messages[0]["text"]  # not "it may be from another brand"
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert "Thanks so much for sharing your Loom & Co" in messages[1]["text"] and len(messages) == 2
    [seen] = await sightings(sender)
    assert (seen.logo, seen.ours, seen.channel, seen.photo_url) == (
        "Loom & Co",
        True,
        "instagram",
        f"{photos}/logo.jpg",
    )
    assert (seen.sentiment_label, seen.sentiment_score) == ("positive", 0.7) and seen.inliers >= 15
    assert [x.outcome for x in await lookups(sender)] == ["none"] and slots == {"matched_products": []}
    # Without praise, no thank-you; a product photo without the logo records no sighting.
    calm = f"calm-{uuid.uuid4().hex[:8]}"
    messages, _ = await run(tracker([f"{photos}/logo.jpg"], sender=calm))
    assert len(messages) == 1 and "I can see our logo" in messages[0]["text"]
    tote = f"tote-{uuid.uuid4().hex[:8]}"
    await run(tracker([f"{photos}/tote.jpg"], sender=tote, sentiment=praise))
    assert await sightings(tote) == [] and len(await lookups(tote)) == 1


async def test_a_customers_photo_finds_the_product(photos):
    sender = f"tote-{uuid.uuid4().hex[:8]}"
    messages, slots = await run(tracker([f"{photos}/tote.jpg"], sender=sender))
    assert "Canvas Tote" in messages[0]["text"]
    [card] = messages[1]["elements"]
    assert card["title"] == "Canvas Tote" and card["buttons"][0]["url"].endswith("/canvas-tote")
    assert slots["product"] == "canvas tote" and len(slots["matched_products"]) == 1
    [lookup] = await lookups(sender)
    async with services().database.sessions() as session:
        tote = await session.scalar(select(Product.id).where(Product.sku == "BAG-002"))
    assert (lookup.channel, lookup.outcome, lookup.product_id) == ("instagram", "confident", tote)
    assert 0.5 < lookup.top_score <= 1.0


async def test_praise_with_a_photo_names_the_product(photos):
    messages, _ = await run(tracker([f"{photos}/tote.jpg"], intent="compliment"))
    assert "love your Canvas Tote" in messages[0]["text"]


async def test_nothing_close_is_said_honestly_with_a_person_offered(photos):
    sender = f"noise-{uuid.uuid4().hex[:8]}"
    messages, slots = await run(tracker([f"{photos}/noise.jpg"], sender=sender))
    assert "couldn't find that" in messages[0]["text"]
    assert messages[0]["buttons"][0]["payload"] == "/request_human"
    assert slots == {"matched_products": []}
    assert [(x.outcome, x.product_id, x.top_score) for x in await lookups(sender)] == [("none", None, None)]


@pytest.mark.parametrize(
    ("url", "reply"),
    [
        ("/broken.jpg", "couldn't open that photo"),
        ("http://not-allowed.example/x.jpg", "couldn't open that photo"),
    ],
)
async def test_bad_or_foreign_photos_get_a_friendly_reply(photos, url, reply):
    sender = f"bad-{uuid.uuid4().hex[:8]}"
    messages, _ = await run(tracker([url if url.startswith("http") else f"{photos}{url}"], sender=sender))
    assert reply in messages[0]["text"]
    assert [x.outcome for x in await lookups(sender)] == ["bad_image"]


async def test_no_photo_or_one_we_cannot_open(photos, monkeypatch):
    for name in X_ENV:
        monkeypatch.delenv(name, raising=False)
    services.cache_clear()  # no X credentials: an X photo cannot be downloaded
    sender = f"none-{uuid.uuid4().hex[:8]}"
    assert "attach the photo" in (await run(tracker([], sender=sender)))[0][0]["text"]
    messages, _ = await run(
        tracker(["https://ton.twitter.com/1.1/ton/data/dm/1/2/x.jpg"], sender=sender, image_auth="x_oauth1")
    )
    assert "can't open photos sent here" in messages[0]["text"]
    messages, _ = await run(tracker([f"{photos}/tote.jpg"], sender=sender, image_auth="some_other_scheme"))
    assert "can't open photos sent here" in messages[0]["text"]
    assert await lookups(sender) == []  # nothing was looked up


@pytest.fixture
async def fake_x(photos, catalogue, monkeypatch) -> AsyncIterator[tuple[TestClient, str]]:
    """The simulator (its fake X API checks OAuth 1.0a like X), holding the Canvas Tote photo as a DM's.

    Yields the simulator's client and the DM photo's `media_url_https`, as X's webhook carries it.
    """
    sim = TestClient(TestServer(create_app(SimulatorConfig(webhook_base="http://127.0.0.1:9/webhooks"))))
    await sim.start_server()
    upload = await sim.post("/_sim/media", data=jpeg(catalogue[1]), headers={"Content-Type": "image/jpeg"})
    assert upload.status == 200, await upload.text()
    answer = await sim.post(  # delivery to our (absent) webhook fails: the photo is published all the same
        "/_sim/customer_message",
        json={"platform": "twitter", "user_id": "3000000042", "image_urls": [(await upload.json())["url"]]},
    )
    [event] = (await answer.json())["webhook"]["direct_message_events"]
    url = event["message_create"]["message_data"]["attachment"]["media"]["media_url_https"]
    host = f"{sim.server.host}:{sim.server.port}"
    monkeypatch.setenv("PHOTO_ALLOWED_HOSTS", f"{photos.removeprefix('http://')},{host}")
    for name, value in zip(X_ENV, SIM_X_CREDENTIALS, strict=True):
        monkeypatch.setenv(name, value)
    services.cache_clear()
    try:
        yield sim, url
    finally:
        await sim.close()


async def x_downloads(sim: TestClient) -> list[int]:
    """The HTTP status of every X media download the fake X API answered."""
    records = await (await sim.get("/_sim/sends", params={"platform": "twitter"})).json()
    return [r["status"] for r in records if "/ton/data/dm/" in (r["endpoint"] or "")]


async def test_an_x_dm_photo_is_fetched_signed_and_gets_a_product_answer(fake_x):
    sim, url = fake_x
    assert (await sim.get(URL(url).path)).status == 401  # the fake X serves it to signed requests only
    sender = f"x-{uuid.uuid4().hex[:8]}"
    messages, slots = await run(tracker([url], sender=sender, image_auth="x_oauth1"))
    assert "Canvas Tote" in messages[0]["text"] and slots["product"] == "canvas tote"
    assert [x.outcome for x in await lookups(sender)] == ["confident"]
    assert await x_downloads(sim) == [401, 200]  # ours was the signed one


async def test_an_x_dm_photo_with_wrong_credentials_is_refused_and_answered_politely(fake_x, monkeypatch):
    sim, url = fake_x
    monkeypatch.setenv("X_CONSUMER_SECRET", "not-our-secret")
    services.cache_clear()
    sender = f"x-{uuid.uuid4().hex[:8]}"
    messages, _ = await run(tracker([url], sender=sender, image_auth="x_oauth1"))
    assert "couldn't open that photo" in messages[0]["text"]
    assert [x.outcome for x in await lookups(sender)] == ["bad_image"]
    assert await x_downloads(sim) == [401]


async def test_a_lookup_that_cannot_be_recorded_still_gets_its_answer(photos, monkeypatch, caplog):
    async def broken(*args, **kwargs):
        raise OSError("database unreachable")

    monkeypatch.setattr(photo_actions, "record_photo_lookup", broken)
    with caplog.at_level(logging.ERROR, logger="actions.photos"):
        messages, slots = await run(tracker([f"{photos}/tote.jpg"], sender="unrecorded"))
    assert "Canvas Tote" in messages[0]["text"] and slots["product"] == "canvas tote"
    assert "could not record the photo lookup of conversation unrecorded" in caplog.text
    assert await lookups("unrecorded") == []
