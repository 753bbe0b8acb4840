"""How X signs webhooks and checks that our endpoint is ours (the CRC).

https://docs.x.com/x-api/webhooks/introduction: every POST carries
`x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256 of the raw body, keyed with the consumer
secret>`; the challenge-response check is `GET <webhook>?crc_token=...`, answered within three seconds
with `{"response_token": "sha256=<base64 HMAC-SHA256 of crc_token>"}`.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
from typing import Any

import aiohttp

from bot.simulator.const import X_CRC_TIMEOUT_SECONDS, X_SIGNATURE_HEADER


def x_signature(raw: bytes, consumer_secret: str) -> str:
    """`sha256=` and the base64 HMAC-SHA256 of `raw`."""
    digest = hmac.new(consumer_secret.encode(), raw, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def x_signature_headers(raw: bytes, consumer_secret: str, mode: str = "valid") -> dict[str, str]:
    """Headers of an X webhook; `mode` "invalid" signs with a wrong secret, "none" leaves the header out."""
    headers = {"Content-Type": "application/json"}
    if mode != "none":
        secret = consumer_secret if mode == "valid" else "not-" + consumer_secret
        headers[X_SIGNATURE_HEADER] = x_signature(raw, secret)
    return headers


def crc_response_token(crc_token: str, consumer_secret: str) -> str:
    """What our endpoint must answer to a CRC with `crc_token`."""
    return x_signature(crc_token.encode(), consumer_secret)


async def challenge(
    session: aiohttp.ClientSession, url: str, consumer_secret: str, crc_token: str | None = None
) -> dict[str, Any]:
    """Run a CRC against `url`: {ok, status, crc_token, response_token, expected, error?}."""
    token = crc_token or base64.urlsafe_b64encode(secrets.token_bytes(24)).decode()
    expected = crc_response_token(token, consumer_secret)
    answer: dict[str, Any] = {"ok": False, "status": None, "crc_token": token, "response_token": None}
    answer["expected"] = expected
    try:
        timeout = aiohttp.ClientTimeout(total=X_CRC_TIMEOUT_SECONDS)
        async with session.get(url, params={"crc_token": token}, timeout=timeout) as response:
            answer["status"] = response.status
            text = await response.text(errors="replace")
    except (aiohttp.ClientError, asyncio.TimeoutError) as err:
        answer["error"] = f"could not reach {url} within {X_CRC_TIMEOUT_SECONDS:g} s: {err!r}"
        return answer
    try:
        body = json.loads(text)
    except json.JSONDecodeError:
        answer["error"] = f"the answer is not JSON: {text[:200]!r}"
        return answer
    token_given = body.get("response_token") if isinstance(body, dict) else None
    answer["response_token"] = token_given
    answer["ok"] = (
        answer["status"] == 200
        and isinstance(token_given, str)
        and hmac.compare_digest(token_given.encode(), expected.encode())
    )
    return answer
