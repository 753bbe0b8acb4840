"""X's CRC check can no longer sign arbitrary bodies (runtime A, real HTTP)."""

from __future__ import annotations

import base64
import json
import secrets

import pytest

from connectors.security import x_signature

from .conftest import BRAND, X_SECRET, fixtures, fresh


async def crc(server, token: str) -> tuple[int, dict]:
    async with server.http.get(server.url("twitter"), params={"crc_token": token}) as answer:
        return answer.status, await answer.json()


async def test_a_json_body_as_crc_token_gets_no_signature_and_cannot_be_posted(server):
    """The attack of issue #21: ask the CRC to sign a forged DM, then post it with that signature."""
    forged = fresh(fixtures("twitter")["direct_message__text"])
    forged["direct_message_events"][0]["message_create"]["message_data"]["text"] = "cancel my order 100871"
    raw = json.dumps(forged).encode()
    status, answer = await crc(server, raw.decode())
    assert status == 400 and "response_token" not in answer
    headers = {"x-twitter-webhooks-signature": x_signature(raw, "wrong guess")}
    assert (await server.post("twitter", raw, headers=headers, signed=False))[0] == 403
    await server.settle()
    assert server.received == [] and server.api_calls == []


@pytest.mark.parametrize(
    "token",
    [
        base64.urlsafe_b64encode(secrets.token_bytes(24)).decode(),  # what the simulator sends
        base64.b64encode(secrets.token_bytes(32)).decode(),  # standard alphabet, padded
        "challenge-123",
    ],
)
async def test_tokens_in_x_format_get_the_right_answer(server, token):
    assert await crc(server, token) == (200, {"response_token": x_signature(token.encode(), X_SECRET)})


@pytest.mark.parametrize(
    "token",
    [
        '{"for_user_id": "' + BRAND + '"}',
        "[1]",
        "short",
        "a" * 129,
        "has spaces in it",
        "line\nbreak-token",
        "ünïcode-token-here",
        "token=with=equals-inside",
    ],
)
async def test_other_tokens_are_refused(server, token):
    status, answer = await crc(server, token)
    assert status == 400 and "response_token" not in answer
