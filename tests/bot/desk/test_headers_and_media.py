"""The desk's answers: HSTS, Secure cookies, no-store, a CSP without foreign images, the media proxy.

Customer media reach agents only through the desk's own bounded proxy (real HTTP, a local 'CDN').
"""

from __future__ import annotations

import dataclasses
import io
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from PIL import Image

from bot.catalog.logos import Sighting
from bot.catalog.lookup_log import record_logo_sightings
from bot.desk.app import CSP, create_app
from bot.desk.config import DeskConfig

from .conftest import PASSWORD, client_for, csrf_of, user_event


def png(size: tuple[int, int] = (64, 48), color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


class Cdn:
    """A platform media host: counts what it is asked for."""

    def __init__(self) -> None:
        self.requests: list[str] = []

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(request.path)
        if request.path == "/page.html":
            return web.Response(text="<script>alert(1)</script>", content_type="text/html")
        if request.path == "/lying.png":  # HTML served as an image: the decoder must refuse it
            return web.Response(body=b"<svg onload=alert(1)>", content_type="image/png")
        if request.path == "/product.png":
            return web.Response(body=png((80, 80), (10, 90, 200)), content_type="image/png")
        return web.Response(body=png(), content_type="image/png")


@pytest.fixture
async def cdn(monkeypatch) -> AsyncIterator[tuple[Cdn, str]]:
    fake = Cdn()
    app = web.Application()
    app.router.add_get("/{name}", fake.handle)
    async with TestServer(app, host="127.0.0.1") as server:
        host = f"127.0.0.1:{server.port}"
        monkeypatch.setenv("PHOTO_ALLOWED_HOSTS", host)  # as for the photo lookup
        monkeypatch.delenv("SIM_PUBLIC_URL", raising=False)
        yield fake, f"http://{host}"


def desk_server(config, database, **changes) -> TestServer:
    return TestServer(
        create_app(dataclasses.replace(config, poll_seconds=0.05, **changes), database, database)
    )


@pytest.fixture
async def server(config, database, people, cdn) -> AsyncIterator[TestServer]:
    async with desk_server(config, database) as test_server:
        yield test_server


@pytest.fixture
async def https_server(config, database, people, cdn) -> AsyncIterator[TestServer]:
    async with desk_server(config, database, public_url="https://desk.example") as test_server:
        yield test_server


def set_cookies(response) -> dict[str, str]:
    """Set-Cookie headers by cookie name (the raw header, attributes included)."""
    return {h.split("=", 1)[0]: h for h in response.headers.getall("Set-Cookie", [])}


async def test_every_page_forbids_foreign_images_and_caching(server, open_ticket):
    ticket_id = await open_ticket()
    client = await client_for(server, "ada")
    try:
        for path in (
            "/queue",
            "/fragments/queue",
            f"/tickets/{ticket_id}",
            f"/fragments/tickets/{ticket_id}",
        ):
            answer = await client.get(path)
            assert answer.status == 200, path
            policy = answer.headers["Content-Security-Policy"]
            assert "img-src 'self';" in policy and "http:" not in policy and "https:" not in policy, path
            assert "data:" not in policy
            assert answer.headers["Cache-Control"] == "no-store", path
            assert "Strict-Transport-Security" not in answer.headers  # plain http: HSTS would be ignored
        assert policy == CSP
    finally:
        await client.close()


async def test_over_https_hsts_is_sent_and_every_cookie_is_secure(https_server, open_ticket):
    ticket_id = await open_ticket()
    async with ClientSession() as http:
        page = await http.get(https_server.make_url("/login"))
        assert page.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        login_cookie = set_cookies(page)["loom_login_csrf"]
        token = re.search(r'name="login_csrf" value="([^"]+)"', await page.text()).group(1)
        signed = await http.post(
            https_server.make_url("/login"),
            data={"username": "ada", "password": PASSWORD, "login_csrf": token},
            headers={"Cookie": f"loom_login_csrf={token}"},
            allow_redirects=False,
        )
        assert signed.status == 303
        cookies = set_cookies(signed)
        session = re.match(r"loom_desk=([^;]+)", cookies["loom_desk"]).group(1)
        queue = await http.get(https_server.make_url("/queue"), headers={"Cookie": f"loom_desk={session}"})
        assert "Strict-Transport-Security" in queue.headers
        csrf = csrf_of(await queue.text())
        released = await http.post(  # claim, then release: the release says so with a flash cookie
            https_server.make_url(f"/tickets/{ticket_id}/claim"),
            data={"csrf": csrf},
            headers={"Cookie": f"loom_desk={session}"},
            allow_redirects=False,
        )
        released = await http.post(
            https_server.make_url(f"/tickets/{ticket_id}/release"),
            data={"csrf": csrf},
            headers={"Cookie": f"loom_desk={session}"},
            allow_redirects=False,
        )
        flash = set_cookies(released)["loom_flash"]
        shown = await http.get(
            https_server.make_url("/queue"), headers={"Cookie": f"loom_desk={session}; loom_flash=x"}
        )
        cleared = set_cookies(shown)["loom_flash"]
    for header in (login_cookie, cookies["loom_desk"], cookies["loom_login_csrf"], flash, cleared):
        attributes = [a.strip().lower() for a in header.split(";")]
        assert "secure" in attributes and "httponly" in attributes and "samesite=strict" in attributes, header


async def test_over_http_cookies_are_not_secure(server):
    async with ClientSession() as http:
        page = await http.get(server.make_url("/login"))
    assert "secure" not in set_cookies(page)["loom_login_csrf"].lower()


async def conversation_with_media(store_event, open_ticket, base: str) -> int:
    ticket_id = await open_ticket("psid-media")
    urls = [f"{base}/photo.png", "https://evil.example/track.png", f"{base}/page.html", f"{base}/lying.png"]
    await store_event("psid-media", user_event("this one", image_urls=urls))
    card = {"title": "Canvas Tote", "subtitle": "€39", "image_url": f"{base}/product.png"}
    await store_event("psid-media", {"event": "bot", "text": "Found it", "data": {"elements": [card]}})
    return ticket_id


async def test_media_is_shown_through_the_desk_only(server, cdn, open_ticket, store_event):
    fake, base = cdn
    ticket_id = await conversation_with_media(store_event, open_ticket, base)
    client = await client_for(server, "ada")
    try:
        html = await (await client.get(f"/tickets/{ticket_id}")).text()
        sources = re.findall(r'<img[^>]* src="([^"]+)"', html)
        assert sources == [f"/media/{ticket_id}/{n}" for n in range(5)]
        photo = await client.get(f"/media/{ticket_id}/0")
        assert photo.status == 200 and photo.headers["Content-Type"] == "image/jpeg"
        assert photo.headers["X-Content-Type-Options"] == "nosniff"
        assert photo.headers["Cache-Control"] == "private, no-store"
        with Image.open(io.BytesIO(await photo.read())) as image:
            assert image.format == "JPEG" and image.size == (64, 48)  # re-encoded, same picture
        product = await client.get(f"/media/{ticket_id}/4")
        with Image.open(io.BytesIO(await product.read())) as image:
            assert image.size == (80, 80)
        for n in (1, 2, 3, 5, 99):  # foreign host, not an image, a lie, nothing there
            assert (await client.get(f"/media/{ticket_id}/{n}")).status == 404, n
        assert "/track.png" not in fake.requests  # a host outside the policy is never contacted
        assert fake.requests.count("/photo.png") == 1
        again = await client.get(f"/media/{ticket_id}/0?url=https://evil.example/x")  # no open proxy
        assert again.status == 200 and fake.requests.count("/photo.png") == 1  # from the desk's cache
    finally:
        await client.close()


async def test_media_needs_a_session_and_a_ticket_the_agent_may_see(server, cdn, open_ticket, store_event):
    fake, base = cdn
    ticket_id = await conversation_with_media(store_event, open_ticket, base)
    anonymous = await client_for(server, None)
    ada, bob = await client_for(server, "ada"), await client_for(server, "bob")
    try:
        assert (await anonymous.get(f"/media/{ticket_id}/0", allow_redirects=False)).status in (303, 401)
        page = await (await ada.get(f"/tickets/{ticket_id}")).text()
        await ada.post(f"/tickets/{ticket_id}/claim", data={"csrf": csrf_of(page)})
        assert (await bob.get(f"/media/{ticket_id}/0")).status == 404  # another agent's conversation
        assert (await bob.get(f"/media/{ticket_id + 1000}/0")).status == 404
        assert fake.requests == []
    finally:
        for client in (anonymous, ada, bob):
            await client.close()


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("203.0.113.9", "198.51.100.1", (), "203.0.113.9"),  # no proxy trusted: the header is ignored
        ("203.0.113.9", "198.51.100.1", ("10.0.0.0/8",), "203.0.113.9"),  # a peer that is not our proxy
        ("10.0.0.2", "198.51.100.1", ("10.0.0.0/8",), "198.51.100.1"),
        ("10.0.0.2", "6.6.6.6, 198.51.100.1, 10.0.0.7", ("10.0.0.0/8",), "198.51.100.1"),  # spoofed first hop
    ],
)
def test_the_client_address_comes_from_trusted_proxies_only(peer, forwarded, trusted, expected):
    from unittest import mock

    from aiohttp.test_utils import make_mocked_request

    from bot.desk.app import client_address
    from bot.desk.config import networks

    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: (
        (peer, 1234) if name == "peername" else default
    )
    request = make_mocked_request(
        "POST", "/login", headers={"X-Forwarded-For": forwarded}, transport=transport
    )
    assert client_address(request, networks(",".join(trusted))) == expected


def test_a_mistyped_trusted_proxy_stops_the_desk_at_start():
    with pytest.raises(ValueError, match="DESK_TRUSTED_PROXIES"):
        DeskConfig.from_env({"DESK_TRUSTED_PROXIES": "10.0.0.0/8, nginx"})


async def test_a_logo_seen_in_a_photo_is_flagged_beside_it(server, cdn, open_ticket, store_event, database):
    _, base = cdn
    ticket_id = await conversation_with_media(store_event, open_ticket, base)
    seen = [Sighting("Loom & Co", True, 42), Sighting("<b>North</b> Knit", False, 20)]
    await record_logo_sightings(
        database, "psid-media", "messenger", f"{base}/photo.png", seen, ("positive", 0.5)
    )
    await record_logo_sightings(database, "psid-other", "messenger", f"{base}/lying.png", seen[:1])
    client = await client_for(server, "ada")
    try:
        html = await (await client.get(f"/tickets/{ticket_id}")).text()
    finally:
        await client.close()
    flags = re.findall(r'<span class="logo-seen( ours)?">([^<]*)</span>', html)
    assert flags == [
        (" ours", "shows our logo: Loom &amp; Co"),
        ("", "shows the &lt;b&gt;North&lt;/b&gt; Knit logo"),
    ]
    photo = html.index(f'src="/media/{ticket_id}/0"')
    assert (
        photo < html.index("shows our logo") < html.index(f'src="/media/{ticket_id}/1"')
    )  # beside its photo
