"""A webhook whose events cannot be stored is not acknowledged: 503, and the platform delivers it again."""

from __future__ import annotations

import pytest

from connectors.metrics import value

from .conftest import PLATFORMS, fixtures, fresh, serve

UNREACHABLE = {"REDIS_URL": "redis://127.0.0.1:1/0"}  # nothing listens on port 1
FIRST_MESSAGE = {
    "messenger": "message__text",
    "instagram": "message__text",
    "twitter": "direct_message__text",
}


@pytest.mark.parametrize("platform", PLATFORMS)
async def test_inbox_down_means_503_and_nothing_handled(platform):
    before = value("webhook_rejected", platform, "inbox_unavailable")
    async for server in serve(inbox_env=UNREACHABLE):
        status, body = await server.post_json(platform, fresh(fixtures(platform)[FIRST_MESSAGE[platform]]))
        assert (status, body) == (503, "inbox unavailable, retry later")
        assert value("webhook_rejected", platform, "inbox_unavailable") == before + 1
        assert server.received == [] and server.api_calls == []


async def test_a_signature_failure_is_still_403_when_the_inbox_is_down():
    async for server in serve(inbox_env=UNREACHABLE):
        raw = b'{"object": "page", "entry": []}'
        assert (await server.post("messenger", raw, signed=False))[0] == 403
