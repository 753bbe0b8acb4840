"""Helpers for the public-engagement tests: customers' comments, Graph calls, what reached our webhooks.

Signatures are computed here with the secrets from conftest, never by the simulator's own code.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from aiohttp.test_utils import TestClient

from .conftest import APP_SECRET, IG_ID, IG_TOKEN, PAGE_ID, PAGE_TOKEN, Captured, Receiver, graph_error
from .x_support import PNG_1X1

FB_POST = f"{PAGE_ID}_122100000000000001"
FB_POST_2 = f"{PAGE_ID}_122100000000000002"
IG_MEDIA = "17900000000000001"
IG_MEDIA_2 = "17900000000000002"
X_POST = "1700000000000000001"
FB_CUSTOMER = "sim-0042"
IG_CUSTOMER = "6100000000000042"
X_CUSTOMER = "3000000042"
WEBHOOK_PATHS = {
    "facebook": "/webhooks/messenger/webhook",
    "instagram": "/webhooks/instagram/webhook",
    "twitter": "/webhooks/twitter/webhook",
}
CUSTOMERS = {"facebook": FB_CUSTOMER, "instagram": IG_CUSTOMER, "twitter": X_CUSTOMER}


def meta_signature(raw: bytes, secret: str = APP_SECRET) -> str:
    """What `X-Hub-Signature-256` must say for `raw`."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def posted(receiver: Receiver, platform: str) -> list[Captured]:
    """What the simulator posted to our webhook for `platform` (facebook means the Messenger one)."""
    return [r for r in receiver.requests if r.path == WEBHOOK_PATHS[platform]]


def signed_meta_body(captured: Captured) -> dict[str, Any]:
    """The body of a Meta webhook, after checking its signature with the app secret."""
    assert hmac.compare_digest(captured.headers["X-Hub-Signature-256"], meta_signature(captured.raw))
    return json.loads(captured.raw)


async def public_comment(sim: TestClient, platform: str, **fields: Any) -> dict[str, Any]:
    """A customer's comment through `/_sim/public_comment`, which must succeed."""
    body = {"platform": platform, "user_id": CUSTOMERS[platform], "text": "is this in stock?", **fields}
    response = await sim.post("/_sim/public_comment", json=body)
    assert response.status == 200, await response.text()
    return await response.json()


async def uploaded_image(sim: TestClient) -> str:
    """The URL of a PNG uploaded to the simulator."""
    response = await sim.post("/_sim/media", data=PNG_1X1, headers={"Content-Type": "image/png"})
    assert response.status == 200
    return (await response.json())["url"]


async def graph_post(
    sim: TestClient, path: str, token: str | None = PAGE_TOKEN, **fields: str
) -> tuple[int, dict[str, Any]]:
    """POST form fields to a Graph path with the token in the query, as our Graph client does."""
    params = {"access_token": token} if token is not None else {}
    response = await sim.post(f"/v21.0/{path}", data=fields, params=params)
    return response.status, await response.json()


async def actions(sim: TestClient, **query: str) -> list[dict[str, Any]]:
    """`GET /_sim/public_actions`."""
    response = await sim.get("/_sim/public_actions", params=query)
    assert response.status == 200
    return await response.json()


async def listed(sim: TestClient, item_id: str) -> dict[str, Any]:
    """One item of `GET /_sim/public`, wherever it is in the threads."""
    posts = (await (await sim.get("/_sim/public")).json())["posts"]
    stack = list(posts)
    while stack:
        item = stack.pop()
        if item["id"] == item_id:
            return item
        stack.extend(item["replies"])
    raise AssertionError(f"{item_id} is not listed")


async def ig_mention(sim: TestClient, mention: str, **fields: Any) -> dict[str, Any]:
    """A customer's Instagram mention (`caption` or `comment`) through `/_sim/public_comment`."""
    body = {"platform": "instagram", "mention": mention, "user_id": IG_CUSTOMER, "text": "love it", **fields}
    response = await sim.post("/_sim/public_comment", json=body)
    assert response.status == 200, await response.text()
    return await response.json()


async def graph_get(
    sim: TestClient, fields: str | None, token: str | None = IG_TOKEN, node: str = IG_ID, **query: str
) -> tuple[int, dict[str, Any]]:
    """GET a Graph node with `fields` and the token in the query, as our Graph client reads mentions."""
    params = {**({"access_token": token} if token is not None else {}), **query}
    if fields is not None:
        params["fields"] = fields
    response = await sim.get(f"/v21.0/{node}", params=params)
    return response.status, await response.json()


async def caption_mention(sim: TestClient, **fields: Any) -> dict[str, Any]:
    """A customer's photo post mentioning the brand (with an uploaded photo)."""
    return await ig_mention(sim, "caption", image_urls=[await uploaded_image(sim)], **fields)


def unsupported_request(answer: dict[str, Any], node: str, method: str = "get") -> None:
    """Graph's 100/33 for a node that does not exist or is out of reach."""
    error = graph_error(answer)
    assert (error["code"], error["error_subcode"]) == (100, 33)
    assert error["message"].startswith(
        f"Unsupported {method} request. Object with ID '{node}' does not exist"
    )
