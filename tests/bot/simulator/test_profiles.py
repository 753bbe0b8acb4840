"""The fake User Profile API: Messenger's and Instagram's profile reads, checked as Meta checks them."""

from __future__ import annotations

import hashlib
import hmac
import io
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from PIL import Image
from yarl import URL

from bot.simulator.app import create_app
from bot.simulator.state import SimState

from .conftest import APP_SECRET, IG_TOKEN, PAGE_TOKEN, make_config


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def timed() -> AsyncIterator[tuple[TestClient, Clock]]:
    clock = Clock()
    client = TestClient(TestServer(create_app(make_config("http://127.0.0.1:9/webhooks"), SimState(clock))))
    await client.start_server()
    try:
        yield client, clock
    finally:
        await client.close()


async def messaged(sim: TestClient, platform: str, user_id: str) -> None:
    answer = await sim.post(
        "/_sim/customer_message", json={"platform": platform, "user_id": user_id, "text": "hi"}
    )
    assert answer.status in (200, 502)  # nobody listens to the webhook; the message counts all the same


async def read(sim: TestClient, user_id: str, fields: str | None, token: str | None, **query: str) -> Any:
    params = {**({"fields": fields} if fields is not None else {}), **query}
    if token is not None:
        params["access_token"] = token
    response = await sim.get(f"/v21.0/{user_id}", params=params)
    return response.status, await response.json()


async def test_a_messenger_profile_after_the_customer_wrote(sim: TestClient) -> None:
    await messaged(sim, "messenger", "psid-77")
    await sim.post("/_sim/profile", json={"platform": "messenger", "user_id": "psid-77", "first_name": "Ada"})
    status, body = await read(sim, "psid-77", "first_name,last_name,profile_pic", PAGE_TOKEN)
    assert status == 200 and list(body) == ["first_name", "last_name", "profile_pic", "id"]
    assert (body["first_name"], body["id"]) == ("Ada", "psid-77") and body["last_name"]
    picture = await sim.get(URL(body["profile_pic"]).path_qs)
    assert picture.status == 200 and picture.content_type == "image/png"
    with Image.open(io.BytesIO(await picture.read())) as image:
        assert image.size == (96, 96)
    status, body = await read(sim, "psid-77", None, PAGE_TOKEN)
    assert status == 200 and set(body) == {"name", "id"}  # Graph's default


async def test_an_instagram_profile_has_a_username_and_asks_for_consent(sim: TestClient) -> None:
    status, body = await read(sim, "igsid-9", "name,username,profile_pic", IG_TOKEN)
    assert status == 400 and body["error"]["code"] == 230  # never wrote to us
    assert body["error"]["message"] == "(#230) User consent is required to access user profile"
    await messaged(sim, "instagram", "igsid-9")
    await sim.post("/_sim/profile", json={"platform": "instagram", "user_id": "igsid-9", "username": "mia.r"})
    status, body = await read(sim, "igsid-9", "name,username,profile_pic", IG_TOKEN)
    assert status == 200 and body["username"] == "mia.r" and body["name"] and body["profile_pic"]
    await sim.post("/_sim/profile", json={"platform": "instagram", "user_id": "igsid-9", "consent": False})
    assert (await read(sim, "igsid-9", "name", IG_TOKEN))[1]["error"]["code"] == 230  # blocked us


async def test_tokens_decide_the_platform_and_are_required(sim: TestClient) -> None:
    await messaged(sim, "messenger", "psid-1")
    status, body = await read(sim, "psid-1", "first_name", None)
    assert status == 400 and body["error"]["code"] == 190
    assert (await read(sim, "psid-1", "first_name", "nope"))[1]["error"]["code"] == 190
    status, body = await read(sim, "psid-1", "name", IG_TOKEN)  # the Instagram token: not its user
    assert status == 400 and body["error"]["code"] == 230
    proof = hmac.new(APP_SECRET.encode(), PAGE_TOKEN.encode(), hashlib.sha256).hexdigest()
    assert (await read(sim, "psid-1", "first_name", PAGE_TOKEN, appsecret_proof=proof))[0] == 200
    status, body = await read(sim, "psid-1", "first_name", PAGE_TOKEN, appsecret_proof="00")
    assert status == 400 and "appsecret_proof" in body["error"]["message"]


async def test_unknown_users_and_fields_are_refused_like_graph(sim: TestClient) -> None:
    status, body = await read(sim, "psid-never", "first_name", PAGE_TOKEN)
    assert status == 400 and (body["error"]["code"], body["error"]["error_subcode"]) == (100, 33)
    await messaged(sim, "messenger", "psid-2")
    status, body = await read(sim, "psid-2", "first_name,username", PAGE_TOKEN)  # no username on Messenger
    assert status == 400 and "nonexisting field (username)" in body["error"]["message"]
    status, body = await read(sim, "psid-2", "first_name{", PAGE_TOKEN)
    assert status == 400 and body["error"]["code"] == 2500


async def test_injected_failures_apply_to_profile_reads(sim: TestClient) -> None:
    await messaged(sim, "messenger", "psid-3")
    rule = {"platform": "messenger", "recipient": "psid-3", "kind": "profile", "status": 500}
    assert (await sim.post("/_sim/fail", json=rule)).status == 200
    assert (await read(sim, "psid-3", "first_name", PAGE_TOKEN))[0] == 500
    assert (await read(sim, "psid-3", "first_name", PAGE_TOKEN))[0] == 200


async def test_pictures_expire_after_days_and_need_their_signature(timed) -> None:
    sim, clock = timed
    await messaged(sim, "messenger", "psid-4")
    url = URL((await read(sim, "psid-4", "profile_pic", PAGE_TOKEN))[1]["profile_pic"])
    assert (await sim.get(url.path_qs)).status == 200
    assert (await sim.get(url.with_query({**url.query, "oh": "0" * 32}).path_qs)).status == 403
    assert (await sim.get(url.with_query({**url.query, "oe": "ffffffff"}).path_qs)).status == 403
    assert (await sim.get(url.path)).status == 403
    clock.now += 4 * 24 * 3600
    assert (await sim.get(url.path_qs)).status == 403
    fresh = URL((await read(sim, "psid-4", "profile_pic", PAGE_TOKEN))[1]["profile_pic"])
    assert fresh != url and (await sim.get(fresh.path_qs)).status == 200


async def test_demo_customers_have_their_seeded_names(sim: TestClient) -> None:
    await messaged(sim, "instagram", "sim-amy-ig")
    assert (await read(sim, "sim-amy-ig", "name", IG_TOKEN))[1]["name"] == "Amy Clarke"


@pytest.mark.parametrize(
    "body",
    [
        {"platform": "twitter", "user_id": "1"},
        {"platform": "messenger"},
        {"platform": "messenger", "user_id": "p", "first_name": 3},
        {"platform": "messenger", "user_id": "p", "consent": "no"},
    ],
)
async def test_setting_a_profile_checks_its_description(sim: TestClient, body: dict[str, Any]) -> None:
    assert (await sim.post("/_sim/profile", json=body)).status == 400
