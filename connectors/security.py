"""Webhook signature checks: on the raw body, in constant time, failing closed."""

from __future__ import annotations

import base64
import hashlib
import hmac


def hub_signature(body: bytes, secret: str) -> str:
    """Meta's `X-Hub-Signature-256` value for a body: `sha256=` + hex HMAC-SHA256 with the app secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_hub_signature(body: bytes, header: str | None, secret: str) -> bool:
    """Whether `header` is the right `X-Hub-Signature-256` for `body`.

    https://developers.facebook.com/docs/messenger-platform/webhooks#validate-payloads
    A missing secret never validates anything (fail closed).
    """
    if not secret or not header:
        return False
    return hmac.compare_digest(header.strip().lower().encode(), hub_signature(body, secret).encode())


def constant_time_equal(a: str, b: str) -> bool:
    """String comparison that takes the same time wherever the strings differ (for tokens)."""
    return hmac.compare_digest(str(a).encode(), str(b).encode())


def x_signature(body: bytes, consumer_secret: str) -> str:
    """X's webhook signature and CRC answer: `sha256=` + base64 HMAC-SHA256 with the consumer secret."""
    digest = hmac.new(consumer_secret.encode(), body, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def verify_x_signature(body: bytes, header: str | None, consumer_secret: str) -> bool:
    """Whether `header` is the right `x-twitter-webhooks-signature` for `body`.

    https://docs.x.com/x-api/webhooks/introduction (securing webhooks)
    """
    if not consumer_secret or not header:
        return False
    return hmac.compare_digest(header.strip().encode(), x_signature(body, consumer_secret).encode())
