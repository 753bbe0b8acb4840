"""Helpers for the fake X's tests: an independent OAuth 1.0a signer, signed calls, waiting.

The signer follows X's "Creating a signature" steps and shares no code with the simulator's verifier.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from .conftest import X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET, X_CONSUMER_KEY, X_CONSUMER_SECRET, Receiver

UNRESERVED = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
PNG_1X1 = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


def enc(text: str) -> str:
    """Percent-encode byte by byte: unreserved bytes stay, the rest become %XX (upper-case hex)."""
    return "".join(chr(b) if b in UNRESERVED else f"%{b:02X}" for b in text.encode("utf-8"))


def sign(
    method: str,
    url: str,
    form: list[tuple[str, str]] | None = None,
    *,
    consumer_key: str = X_CONSUMER_KEY,
    consumer_secret: str = X_CONSUMER_SECRET,
    token: str = X_ACCESS_TOKEN,
    token_secret: str = X_ACCESS_TOKEN_SECRET,
    nonce: str | None = None,
    timestamp: int | None = None,
    **oauth_overrides: str,
) -> str:
    """An `Authorization: OAuth ...` header for `method url` (query included) and form parameters."""
    parts = urllib.parse.urlsplit(url)
    oauth = {
        "oauth_consumer_key": consumer_key,
        "oauth_nonce": nonce or secrets.token_hex(16),
        "oauth_signature_method": "HMAC-SHA1",
        "oauth_timestamp": str(int(time.time()) if timestamp is None else timestamp),
        "oauth_token": token,
        "oauth_version": "1.0",
        **oauth_overrides,
    }
    collected = (
        urllib.parse.parse_qsl(parts.query, keep_blank_values=True) + list(form or []) + list(oauth.items())
    )
    parameter_string = "&".join(f"{k}={v}" for k, v in sorted((enc(k), enc(v)) for k, v in collected))
    base_url = f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path}"
    base_string = f"{method.upper()}&{enc(base_url)}&{enc(parameter_string)}"
    key = f"{enc(consumer_secret)}&{enc(token_secret)}"
    signature = base64.b64encode(hmac.new(key.encode(), base_string.encode(), hashlib.sha1).digest()).decode()
    header = {**oauth, "oauth_signature": signature}
    return "OAuth " + ", ".join(f'{enc(k)}="{enc(v)}"' for k, v in sorted(header.items()))


async def x_call(
    client: TestClient,
    method: str,
    path: str,
    *,
    json: Any = None,
    data: Any = None,
    form: list[tuple[str, str]] | None = None,
    authorization: str | None = None,
    signed: bool = True,
    **sign_options: Any,
) -> aiohttp.ClientResponse:
    """Call the fake X, signed like our connector signs (unless `authorization` or `signed=False`)."""
    url = str(client.make_url(path))
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    elif signed:
        headers["Authorization"] = sign(method, url, form, **sign_options)
    if form is not None:
        data = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    return await client.request(method, path, json=json, data=data, headers=headers)


async def send_dm(client: TestClient, participant: str, body: Any, **options: Any) -> tuple[int, Any]:
    """POST a DM; (status, JSON answer)."""
    response = await x_call(
        client, "POST", f"/x/2/dm_conversations/with/{participant}/messages", json=body, **options
    )
    return response.status, await response.json()


def upload_form(data: bytes = PNG_1X1, category: str | None = "dm_image", **fields: str) -> aiohttp.FormData:
    """A v2 media upload body: the file in `media`, plus `media_category` and any other fields."""
    form = aiohttp.FormData()
    form.add_field("media", data, filename="photo.png", content_type="application/octet-stream")
    if category is not None:
        form.add_field("media_category", category)
    for name, value in fields.items():
        form.add_field(name, value)
    return form


async def upload(client: TestClient, data: bytes = PNG_1X1, category: str = "dm_image") -> str:
    """Upload an image to the fake X and return its media id."""
    response = await x_call(client, "POST", "/x/2/media/upload", data=upload_form(data, category))
    assert response.status == 200, await response.text()
    return (await response.json())["data"]["id"]


def x_signature(raw: bytes, secret: str = X_CONSUMER_SECRET) -> str:
    """What `x-twitter-webhooks-signature` must say for `raw` (computed here, not by the simulator)."""
    return "sha256=" + base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


async def wait_for(condition: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait for something a background task does (the echo)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def twitter_posts(receiver: Receiver) -> list[Any]:
    """What the simulator posted to our X webhook, in order."""
    return [r for r in receiver.requests if r.path == "/webhooks/twitter/webhook"]


def problem_of(answer: dict[str, Any], status: int) -> None:
    """Assert X's generic problem shape."""
    assert set(answer) == {"title", "detail", "type", "status"}
    assert (answer["type"], answer["status"]) == ("about:blank", status)
