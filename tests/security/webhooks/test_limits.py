"""Body size, age and future limits of the webhooks (runtime A, real HTTP)."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from connectors.limits import DEFAULT_MAX_AGE_SECONDS, WebhookLimits
from connectors.metrics import value
from connectors.state import SEEN_TTL

from .conftest import fixtures, fresh, serve

HOUR_MS = 3600 * 1000
NAMES = {"messenger": "message__text", "instagram": "message__text", "twitter": "direct_message__text"}


def now_ms() -> int:
    return int(time.time() * 1000)


@pytest.mark.parametrize("platform", list(NAMES))
@pytest.mark.parametrize(
    ("offset_ms", "reason"),
    [(-(DEFAULT_MAX_AGE_SECONDS * 1000 + 60_000), "too_old"), (2 * HOUR_MS, "in_future")],
)
async def test_old_and_future_messages_are_refused_and_counted(server, platform, offset_ms, reason):
    body = fresh(fixtures(platform)[NAMES[platform]], now_ms() + offset_ms)
    before = value("webhook_rejected", platform, reason)
    assert (await server.post_json(platform, body))[0] == 200  # acknowledged: a retry would not help
    await server.settle()
    assert server.received == [] and server.api_calls == []
    assert value("webhook_rejected", platform, reason) == before + 1


@pytest.mark.parametrize("platform", list(NAMES))
async def test_a_message_within_the_limits_is_answered(server, platform):
    body = fresh(fixtures(platform)[NAMES[platform]], now_ms() - (DEFAULT_MAX_AGE_SECONDS * 1000 - 60_000))
    assert (await server.post_json(platform, body))[0] == 200
    await server.settle()
    assert len(server.received) == 1


async def test_an_old_mention_is_not_stored(server):
    body = fresh(fixtures("twitter")["tweet_create__mention"], now_ms() - 3 * 24 * HOUR_MS)
    assert (await server.post_json("twitter", body))[0] == 200
    await server.settle()
    assert server.mentions.saved == []
    assert (await server.post_json("twitter", fresh(body)))[0] == 200
    await server.settle()
    assert len(server.mentions.saved) == 1


async def test_an_old_handover_does_not_pause_the_bot(server):
    """A replayed take_thread_control would silence the bot: refused before it is handled."""
    body = fresh(fixtures("messenger")["handover__take_thread_control"], now_ms() - 3 * 24 * HOUR_MS)
    before = value("webhook_events", "messenger", "Handover")
    rejected = value("webhook_rejected", "messenger", "too_old")
    assert (await server.post_json("messenger", body))[0] == 200
    await server.settle()
    assert value("webhook_rejected", "messenger", "too_old") == rejected + 1
    assert value("webhook_events", "messenger", "Handover") == before


def test_the_age_limit_is_shorter_than_the_memory_of_seen_ids():
    """A signed body replayed later is either still a known duplicate or too old."""
    assert DEFAULT_MAX_AGE_SECONDS < SEEN_TTL
    assert WebhookLimits.from_env({"WEBHOOK_MAX_AGE_SECONDS": "3600"}).max_age_seconds == 3600
    for wrong in (str(SEEN_TTL), "0", "-5", "two days"):
        with pytest.raises(ValueError, match="WEBHOOK_MAX_AGE_SECONDS"):
            WebhookLimits.from_env({"WEBHOOK_MAX_AGE_SECONDS": wrong})


async def raw_request(url: str, head: str, body_parts: list[bytes]) -> tuple[int, int]:
    """Send a request's head and body parts on a plain socket; the status line's code, and body bytes sent.

    Stops sending as soon as the server has answered, so a server that refuses early is seen as such.
    """
    host, port = url.split("//")[1].split("/")[0].split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    sent = 0
    try:
        writer.write(head.encode())
        await writer.drain()
        for part in body_parts:
            if reader.at_eof() or len(reader._buffer):  # type: ignore[attr-defined]  # answered already
                break
            writer.write(part)
            try:
                await writer.drain()
            except ConnectionError:
                break
            sent += len(part)
        status_line = await asyncio.wait_for(reader.readline(), 30)  # a server that waits fails
        return int(status_line.split()[1]), sent
    finally:
        writer.close()


async def test_a_body_over_one_mebibyte_is_refused_before_it_is_read(server):
    """`Content-Length: 2 MB` is answered 413 without a byte of the body sent."""
    path = "/webhooks/messenger/webhook"
    head = (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"X-Hub-Signature-256: sha256={'0' * 64}\r\nContent-Length: {2 * 1024 * 1024}\r\n\r\n"
    )
    status, sent = await raw_request(server.base, head, [])
    assert (status, sent) == (413, 0)


async def test_a_chunked_body_is_cut_off_at_one_mebibyte(server):
    """A chunked body without an end: the server answers 413 once it passed the limit."""
    head = (
        "POST /webhooks/twitter/webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n"
    )
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b"[" * 64 * 1024)
    status, _ = await raw_request(server.base, head, [chunk] * 24)  # 1.5 MiB, never terminated
    assert status == 413
    assert server.received == []


async def test_just_under_the_limit_is_read(server):
    body = fresh(fixtures("messenger")["message__text"])
    body["padding"] = "x" * (1024 * 1024 - len(json.dumps(body)) - 20)
    raw = json.dumps(body).encode()
    assert len(raw) < 1024 * 1024
    assert (await server.post("messenger", raw))[0] == 200


async def test_the_limit_follows_webhook_max_bytes(monkeypatch):
    monkeypatch.setenv("WEBHOOK_MAX_BYTES", "4096")
    async for running in serve():
        body = fresh(fixtures("instagram")["message__text"])
        small = json.dumps(body).encode()
        body["padding"] = "x" * 5000
        big = json.dumps(body).encode()
        assert (await running.post("instagram", big))[0] == 413
        assert (await running.post("instagram", small))[0] == 200
        await running.settle()
        assert len(running.received) == 1
