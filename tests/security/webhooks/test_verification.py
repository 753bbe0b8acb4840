"""Meta's verification handshake echoes only challenge-shaped values, even with the right token."""

from __future__ import annotations

import pytest


async def handshake(server, platform: str, challenge: str, token: str = "verify-token") -> tuple[int, str]:
    params = {"hub.mode": "subscribe", "hub.verify_token": token, "hub.challenge": challenge}
    async with server.http.get(server.url(platform), params=params) as answer:
        return answer.status, await answer.text()


@pytest.mark.parametrize("platform", ["messenger", "instagram"])
async def test_a_challenge_from_meta_is_echoed(server, platform):
    assert await handshake(server, platform, "1158201444") == (200, "1158201444")


@pytest.mark.parametrize(
    "challenge", ["<script>alert(1)</script>", '{"object": "page"}', "a b", "x" * 129, ""]
)
async def test_other_challenges_are_refused(server, challenge):
    assert (await handshake(server, "messenger", challenge))[0] == 403


async def test_a_wrong_token_is_refused(server):
    assert (await handshake(server, "instagram", "1158201444", token="guess"))[0] == 403
