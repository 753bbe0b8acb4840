"""Customers' names and pictures in the desk, from the simulator's fake Graph API over real HTTP.

Names are customer content: escaped like any other. Pictures come through the desk's own bounded proxy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from PIL import Image
from sqlalchemy import update

from bot.customers.profiles import CustomerProfiles
from bot.desk.app import create_app
from bot.storage.models import CustomerProfile, utcnow

from ..customers.sim_profiles import FakeMeta, fake_meta
from .conftest import client_for, user_event

HOSTILE = "<img src=x onerror=alert(1)>"


@pytest.fixture
async def meta(monkeypatch) -> AsyncIterator[FakeMeta]:
    async with fake_meta() as fake:
        for name, value in fake.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("PHOTO_ALLOWED_HOSTS", fake.host)  # the simulator's pictures, as `make run` allows
        monkeypatch.delenv("SIM_PUBLIC_URL", raising=False)
        yield fake


@pytest.fixture
async def server(config, database, people, meta) -> AsyncIterator[TestServer]:
    async with TestServer(
        create_app(dataclasses.replace(config, poll_seconds=0.05), database, database)
    ) as test:
        yield test


async def set_picture(database, channel: str, user_id: str, url: str, older: dt.timedelta) -> None:
    async with database.sessions() as session, session.begin():
        await session.execute(
            update(CustomerProfile)
            .where(CustomerProfile.channel == channel, CustomerProfile.user_id == user_id)
            .values(picture_url=url, fetched_at=utcnow() - older)
        )


async def test_a_messenger_customer_is_shown_by_name_with_a_picture_from_the_desk(
    server, meta, open_ticket, store_event
):
    await meta.messaged("messenger", "2400510644654077")
    await meta.describe("messenger", "2400510644654077", first_name="Ada", last_name="Lovelace")
    ticket_id = await open_ticket("2400510644654077", customer_name=None)
    await store_event("2400510644654077", user_event("where is my parcel"))
    client = await client_for(server, "ada")
    try:
        queue = await (await client.get("/queue")).text()
        assert f'<a href="/tickets/{ticket_id}">Ada Lovelace</a>' in queue
        assert "2400510644654077" not in queue
        assert f'<img class="avatar" src="/customers/{ticket_id}/avatar"' in queue
        page = await (await client.get(f"/tickets/{ticket_id}")).text()
        assert re.search(r"<title>#\d+ Ada Lovelace", page)
        assert re.search(
            r'<h1 class="customer"><img class="avatar" src="/customers/\d+/avatar"[^>]*>Ada Lovelace', page
        )
        assert '<span class="author">Ada Lovelace</span>' in page
        assert meta.base not in page  # the platform's picture URL never reaches the browser
        avatar = await client.get(f"/customers/{ticket_id}/avatar")
        assert avatar.status == 200 and avatar.headers["Content-Type"] == "image/jpeg"
        with Image.open(io.BytesIO(await avatar.read())) as image:
            assert image.format == "JPEG" and image.size == (96, 96)
        assert meta.reads == ["2400510644654077"]  # three views, one profile call
    finally:
        await client.close()


async def test_a_hostile_name_is_escaped_everywhere(server, meta, open_ticket, store_event):
    await meta.messaged("messenger", "psid-evil")
    await meta.describe("messenger", "psid-evil", first_name=HOSTILE, last_name="")
    ticket_id = await open_ticket("psid-evil", customer_name=None)
    await store_event("psid-evil", user_event("hello"))
    client = await client_for(server, "ada")
    try:
        for path in (
            "/queue",
            "/fragments/queue",
            f"/tickets/{ticket_id}",
            f"/fragments/tickets/{ticket_id}",
        ):
            html = await (await client.get(path)).text()
            assert HOSTILE not in html, path
            assert "&lt;img src=x onerror=alert(1)&gt;" in html, path
    finally:
        await client.close()


async def test_a_refused_profile_falls_back_to_the_ticket_name_then_the_id(server, meta, open_ticket):
    named = await open_ticket("17841400999", channel="instagram", customer_name="Jo From Ticket")
    bare = await open_ticket("17841400998", channel="instagram", customer_name=None)  # never wrote: 230
    client = await client_for(server, "ada")
    try:
        queue = await (await client.get("/queue")).text()
        assert f'<a href="/tickets/{named}">Jo From Ticket</a>' in queue
        assert f'<a href="/tickets/{bare}">17841400998</a>' in queue
        assert "/avatar" not in queue
        assert (await client.get(f"/customers/{bare}/avatar")).status == 404
        assert sorted(meta.reads) == ["17841400998", "17841400999"]
        await client.get("/queue")
        assert len(meta.reads) == 2  # refusals are not asked again on every view
    finally:
        await client.close()


async def test_an_x_customer_is_named_from_the_webhook_with_a_fallback_to_the_handle(
    server, meta, open_ticket, database
):
    profiles = CustomerProfiles(database, None)
    await profiles.remember("twitter", "3000000042", None, "jordan_b")
    ticket_id = await open_ticket("3000000042", channel="twitter", customer_name=None)
    client = await client_for(server, "ada")
    try:
        page = await (await client.get(f"/tickets/{ticket_id}")).text()
        assert re.search(r'<h1 class="customer">@jordan_b', page)
        assert meta.reads == []
    finally:
        await client.close()


async def test_an_avatar_off_the_allowed_hosts_or_not_an_image_is_not_shown(
    server, meta, open_ticket, database
):
    profiles = CustomerProfiles(database, None)
    await profiles.remember("twitter", "3000000050", "Off Host", None, "https://evil.example/a.png")
    await profiles.remember("twitter", "3000000051", "Not Image", None, f"{meta.base}/_sim/health")
    off_host = await open_ticket("3000000050", channel="twitter")
    not_image = await open_ticket("3000000051", channel="twitter")
    client = await client_for(server, "ada")
    anonymous = await client_for(server, None)
    try:
        assert (await client.get(f"/customers/{off_host}/avatar")).status == 404
        assert (await client.get(f"/customers/{not_image}/avatar")).status == 404
        assert (await client.get(f"/customers/{not_image + 1000}/avatar")).status == 404
        answer = await anonymous.get(f"/customers/{off_host}/avatar", allow_redirects=False)
        assert answer.status in (303, 401)
    finally:
        await client.close()
        await anonymous.close()


async def test_an_expired_picture_url_is_renewed_from_the_profile(server, meta, open_ticket, database):
    await meta.messaged("messenger", "psid-pic")
    ticket_id = await open_ticket("psid-pic")
    client = await client_for(server, "ada")
    try:
        await client.get("/queue")  # fetches the profile
        assert meta.reads == ["psid-pic"]
        expired = f"{meta.base}/_sim/profile_pic/messenger/psid-pic.png?oe=1&oh=0"
        await set_picture(database, "messenger", "psid-pic", expired, dt.timedelta(minutes=30))
        avatar = await client.get(f"/customers/{ticket_id}/avatar")
        assert avatar.status == 200 and avatar.headers["Content-Type"] == "image/jpeg"
        assert meta.reads == ["psid-pic", "psid-pic"]  # asked for a fresh URL, once
    finally:
        await client.close()
