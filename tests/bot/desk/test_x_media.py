"""X's DM photos in the desk: fetched with our OAuth 1.0a signature from the simulator's fake X API."""

from __future__ import annotations

import dataclasses
import io
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.desk.app import create_app

from ..customers.sim_profiles import FakeMeta, fake_meta
from .conftest import client_for, user_event
from .test_headers_and_media import png


@pytest.fixture
async def x(monkeypatch) -> AsyncIterator[tuple[FakeMeta, str]]:
    """The simulator with a customer's photo DM; the desk has the X channel's credentials."""
    async with fake_meta() as fake:
        for name, value in fake.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PHOTO_ALLOWED_HOSTS", fake.host)
        monkeypatch.delenv("SIM_PUBLIC_URL", raising=False)
        upload = await fake.client.post(
            "/_sim/media", data=png((40, 30)), headers={"Content-Type": "image/png"}
        )
        answer = await fake.client.post(
            "/_sim/customer_message",
            json={
                "platform": "twitter",
                "user_id": "3000000042",
                "image_urls": [(await upload.json())["url"]],
            },
        )
        [event] = (await answer.json())["webhook"]["direct_message_events"]
        yield fake, event["message_create"]["message_data"]["attachment"]["media"]["media_url_https"]


async def downloads(fake: FakeMeta) -> list[int]:
    sends = await (await fake.client.get("/_sim/sends", params={"platform": "twitter"})).json()
    return [s["status"] for s in sends if "/ton/data/dm/" in (s["endpoint"] or "")]


async def test_an_x_dm_photo_is_shown_to_the_agent_through_a_signed_fetch(
    config, database, people, x, open_ticket, store_event
):
    fake, url = x
    x_ticket = await open_ticket("3000000042", channel="twitter")
    await store_event("3000000042", user_event("", image_urls=[url], image_auth="x_oauth1"))
    meta_ticket = await open_ticket("psid-copy")  # the same URL in a Messenger conversation: not signed
    await store_event("psid-copy", user_event("", image_urls=[url]))
    app = create_app(dataclasses.replace(config, poll_seconds=0.05), database, database)
    async with TestServer(app) as server:
        client = await client_for(server, "ada")
        try:
            assert (await client.get(f"/media/{meta_ticket}/0")).status == 404  # first: the proxy caches
            photo = await client.get(f"/media/{x_ticket}/0")
            assert photo.status == 200 and photo.headers["Content-Type"] == "image/jpeg"
            with Image.open(io.BytesIO(await photo.read())) as image:
                assert image.size == (40, 30)
        finally:
            await client.close()
    assert await downloads(fake) == [401, 200]  # the unsigned one refused; ours signed
