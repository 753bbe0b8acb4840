r"""What Meta sends us: webhook bodies built from a simple description, signed and posted like Meta does.

Signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>` (and the
legacy SHA-1 header). https://developers.facebook.com/docs/messenger-platform/webhooks#validate-payloads
Meta's bodies are compact JSON with non-ASCII characters and slashes escaped (as `\u` and `\/`), so a
connector that re-serialises the parsed body before checking the signature fails here as it would live.
Event shapes: https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages
and .../messaging_postbacks; Instagram uses the same `messaging` items under `"object": "instagram"`.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.simulator.const import (
    LEGACY_SIGNATURE_HEADER,
    LIKE_STICKER_ID,
    MESSENGER,
    META_PLATFORMS,
    SIGNATURE_HEADER,
    WEBHOOK_OBJECT,
)

SIGN_MODES = ("valid", "invalid", "none")


class InvalidDescription(ValueError):
    """A customer-message description the simulator cannot turn into a webhook."""


@dataclass(frozen=True)
class Postback:
    """A pressed postback button."""

    title: str
    payload: str


@dataclass(frozen=True)
class CustomerMessage:
    """What the customer does, in simple terms; `build_customer_webhook` makes Meta's shape of it."""

    platform: str
    user_id: str
    text: str | None = None
    quick_reply_payload: str | None = None
    postback: Postback | None = None
    image_urls: tuple[str, ...] = ()
    sticker: bool = False
    mid: str | None = None

    @classmethod
    def from_json(cls, data: Any) -> CustomerMessage:
        """Parse and check a `/_sim/customer_message` body; raises `InvalidDescription`."""
        if not isinstance(data, Mapping):
            raise InvalidDescription("body must be a JSON object")
        platform = _platform(data.get("platform"))
        user_id = data.get("user_id")
        if not isinstance(user_id, str | int) or isinstance(user_id, bool) or str(user_id) == "":
            raise InvalidDescription("user_id is required")
        text = _optional_str(data, "text")
        quick_reply = _optional_str(data, "quick_reply_payload")
        mid = _optional_str(data, "mid")
        postback = _postback(data.get("postback"))
        image_urls = _image_urls(data.get("image_urls"))
        sticker = data.get("sticker", False)
        if not isinstance(sticker, bool):
            raise InvalidDescription("sticker must be true or false")
        message = cls(platform, str(user_id), text, quick_reply, postback, image_urls, sticker, mid)
        message._check_combination()
        return message

    def _check_combination(self) -> None:
        parts = [bool(self.text), bool(self.image_urls), self.sticker, self.postback is not None]
        if sum(parts) != 1:
            raise InvalidDescription(
                "give exactly one of text, image_urls, sticker or postback (Meta sends separate events)"
            )
        if self.quick_reply_payload is not None and not self.text:
            raise InvalidDescription("quick_reply_payload needs text (the title of the pressed quick reply)")
        if self.sticker and self.platform != MESSENGER:
            raise InvalidDescription("the like sticker is a Messenger feature")


def _platform(value: Any) -> str:
    if value not in META_PLATFORMS:
        raise InvalidDescription(f"platform must be one of {', '.join(META_PLATFORMS)}")
    return str(value)


def _optional_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is not None and not isinstance(value, str):
        raise InvalidDescription(f"{key} must be a string")
    return value


def _postback(value: Any) -> Postback | None:
    if value is None:
        return None
    if not isinstance(value, Mapping) or not isinstance(value.get("payload"), str):
        raise InvalidDescription("postback must be an object with a string payload")
    title = value.get("title", value["payload"])
    if not isinstance(title, str):
        raise InvalidDescription("postback title must be a string")
    return Postback(title=title, payload=value["payload"])


def _image_urls(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(
        isinstance(url, str) and url.startswith(("http://", "https://")) for url in value
    ):
        raise InvalidDescription("image_urls must be a list of http(s) URLs")
    return tuple(value)


def new_mid() -> str:
    """An inbound message id in Meta's `m_...` form."""
    return "m_" + secrets.token_urlsafe(32)


def build_customer_webhook(
    message: CustomerMessage, account_id: str, now_ms: int, sticker_url: str
) -> tuple[dict[str, Any], str]:
    """Meta's webhook body for `message` sent to `account_id` (Page or IG account), and the event's mid."""
    mid = message.mid or new_mid()
    event: dict[str, Any] = {
        "sender": {"id": message.user_id},
        "recipient": {"id": account_id},
        "timestamp": now_ms,
    }
    if message.postback is not None:
        event["postback"] = {"title": message.postback.title, "payload": message.postback.payload, "mid": mid}
    else:
        body: dict[str, Any] = {"mid": mid}
        if message.text:
            body["text"] = message.text
        if message.quick_reply_payload is not None:
            body["quick_reply"] = {"payload": message.quick_reply_payload}
        if message.image_urls:
            body["attachments"] = [{"type": "image", "payload": {"url": url}} for url in message.image_urls]
        if message.sticker:
            # Messenger's like button: an image attachment plus sticker_id (also inside the payload).
            body["sticker_id"] = LIKE_STICKER_ID
            body["attachments"] = [
                {"type": "image", "payload": {"url": sticker_url, "sticker_id": LIKE_STICKER_ID}}
            ]
        event["message"] = body
    webhook = {
        "object": WEBHOOK_OBJECT[message.platform],
        "entry": [{"id": account_id, "time": now_ms, "messaging": [event]}],
    }
    return webhook, mid


def encode(body: Any) -> bytes:
    """Serialise like Meta: compact, ASCII-only, with `/` escaped."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=True).replace("/", "\\/").encode()


def signature_headers(raw: bytes, secret: str, mode: str = "valid") -> dict[str, str]:
    """Headers Meta sends with a webhook; `mode` "invalid" signs with a wrong secret, "none" omits them."""
    headers = {"Content-Type": "application/json", "User-Agent": "facebookexternalua"}
    if mode == "none":
        return headers
    key = (secret if mode == "valid" else "not-" + secret).encode()
    headers[SIGNATURE_HEADER] = "sha256=" + hmac.new(key, raw, hashlib.sha256).hexdigest()
    headers[LEGACY_SIGNATURE_HEADER] = "sha1=" + hmac.new(key, raw, hashlib.sha1).hexdigest()
    return headers


def inbound_senders(body: Any, account_id: str) -> list[str]:
    """Users who wrote to us in a webhook body (messages and postbacks, echoes excluded), in order."""
    senders: list[str] = []
    entries = body.get("entry") if isinstance(body, Mapping) else None
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, Mapping):
            continue
        for key in ("messaging", "standby"):
            items = entry.get(key)
            for item in items if isinstance(items, list) else []:
                sender = _customer_sender(item, account_id)
                if sender is not None and sender not in senders:
                    senders.append(sender)
    return senders


def _customer_sender(item: Any, account_id: str) -> str | None:
    if not isinstance(item, Mapping) or not isinstance(item.get("sender"), Mapping):
        return None
    sender = item["sender"].get("id")
    message = item.get("message")
    is_echo = isinstance(message, Mapping) and bool(message.get("is_echo"))
    if sender is None or str(sender) == account_id or is_echo:
        return None
    return str(sender) if ("message" in item or "postback" in item) else None


@dataclass(frozen=True)
class Delivery:
    """What our connector answered (status and text), or why it could not be reached."""

    status: int | None
    body: str | None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The delivery part of a `/_sim/webhook` or `/_sim/customer_message` answer."""
        answer: dict[str, Any] = {"status": self.status, "body": self.body}
        if self.error is not None:
            answer["error"] = self.error
        return answer


async def deliver(
    session: aiohttp.ClientSession, url: str, raw: bytes, headers: Mapping[str, str], timeout: float
) -> Delivery:
    """POST a webhook to our connector."""
    try:
        async with session.post(
            url, data=raw, headers=dict(headers), timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            return Delivery(status=response.status, body=await response.text(errors="replace"))
    except (aiohttp.ClientError, asyncio.TimeoutError) as err:
        return Delivery(status=None, body=None, error=f"could not deliver to {url}: {err!r}")


async def verify(
    session: aiohttp.ClientSession, url: str, verify_token: str, timeout: float
) -> dict[str, Any]:
    """Meta's subscription check: GET with hub.mode, hub.verify_token and hub.challenge."""
    challenge = str(secrets.randbelow(10**9))
    params = {"hub.mode": "subscribe", "hub.verify_token": verify_token, "hub.challenge": challenge}
    try:
        async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=timeout)) as response:
            text = await response.text(errors="replace")
            ok = response.status == 200 and text == challenge
            return {"status": response.status, "body": text, "ok": ok}
    except (aiohttp.ClientError, asyncio.TimeoutError) as err:
        return {"status": None, "body": None, "ok": False, "error": f"could not reach {url}: {err!r}"}


async def deliver_meta(
    session: aiohttp.ClientSession, url: str, body: Any, secret: str, timeout: float
) -> Delivery:
    """Serialise `body` like Meta, sign it with the app secret and post it to our connector."""
    raw = encode(body)
    return await deliver(session, url, raw, signature_headers(raw, secret), timeout)
