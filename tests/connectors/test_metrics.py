"""`GET /metrics` on the Rasa side: Prometheus text, and counters that move when things happen (runtime A).

Scraped over HTTP from channels served by a real Sanic app (the same harness as the route tests), so
what is checked is what Prometheus would read.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from sanic.server import AsyncioServer

from connectors.conversation_queue import ConversationQueue
from connectors.instagram import InstagramInput
from connectors.messenger import MessengerInput
from connectors.meta_input import MetaConfig
from connectors.meta_output import MESSENGER, MetaOutputChannel
from connectors.metrics import REGISTRY, value
from connectors.state import ConnectorState, MemoryStore

from .conftest import SECRET, Served, free_port, start_graph_stub
from .test_meta_output import FakeGraph, client, error
from .test_twitter import ServedX, fixture, mentions_db, served  # noqa: F401 (fixtures)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "messenger"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

EXPECTED = {
    "loom_webhook_events",
    "loom_messages_in",
    "loom_messages_out",
    "loom_webhook_rejected",
    "loom_webhook_duplicates",
    "loom_send_retries",
    "loom_agent_replies",
    "loom_webhook_seconds",
    "loom_processing_seconds",
    "loom_platform_send_seconds",
    "loom_queue_jobs",
    "loom_queue_conversations",
    "process_resident_memory_bytes",
}


TOKEN = "scrape-secret"


@pytest.fixture(autouse=True)
def metrics_token(monkeypatch) -> None:
    """/metrics is closed without METRICS_TOKEN: the channels below are built with this one."""
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)


async def scrape(base: str, token: str | None = TOKEN) -> tuple[int, str, str]:
    """Status, content type and body of `GET <base>/metrics` (with the test's token by default)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with aiohttp.ClientSession() as session, session.get(f"{base}/metrics", headers=headers) as answer:
        return answer.status, answer.headers.get("Content-Type", ""), await answer.text()


def samples(text: str) -> Samples:
    """Every sample of a Prometheus text exposition (the parser fails on anything malformed)."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def read(base: str, name: str, **labels: str) -> float:
    """One sample's value as scraped (0 when it does not exist yet)."""
    status, _, text = await scrape(base)
    assert status == 200, text
    return samples(text).get((name, frozenset(labels.items())), 0.0)


def root(harness: Served | ServedX) -> str:
    return harness.url.split("/webhooks/")[0]


def message(mid: str, sender: str = "2401234567890123") -> dict:
    body = json.loads((FIXTURES / "message__text.json").read_text())
    body["entry"][0]["messaging"][0]["message"]["mid"] = mid
    body["entry"][0]["messaging"][0]["sender"]["id"] = sender
    return body


async def test_metrics_are_prometheus_text_with_every_metric(messenger):
    status, content_type, text = await scrape(root(messenger))
    assert status == 200
    assert content_type.startswith("text/plain") and "version=0.0.4" in content_type
    names = {family.name for family in text_string_to_metric_families(text)}
    assert names >= EXPECTED, EXPECTED - names


async def test_a_customer_message_is_counted_in(messenger):
    base = root(messenger)
    events = ("loom_webhook_events_total", {"platform": "messenger", "type": "CustomerMessage"})
    before = {
        "events": await read(base, events[0], **events[1]),
        "in": await read(base, "loom_messages_in_total", platform="messenger", kind="text"),
        "acks": await read(base, "loom_webhook_seconds_count", platform="messenger"),
        "done": await read(base, "loom_processing_seconds_count", platform="messenger"),
    }
    assert await messenger.post(message(f"m_{uuid.uuid4().hex}")) == (200, "EVENT_RECEIVED")
    await messenger.settle()
    assert len(messenger.received) == 1
    assert await read(base, events[0], **events[1]) == before["events"] + 1
    assert await read(base, "loom_messages_in_total", platform="messenger", kind="text") == before["in"] + 1
    assert await read(base, "loom_webhook_seconds_count", platform="messenger") == before["acks"] + 1
    assert await read(base, "loom_processing_seconds_count", platform="messenger") == before["done"] + 1


async def test_rejections_and_redeliveries_are_counted(messenger):
    base = root(messenger)
    signature = ("loom_webhook_rejected_total", {"platform": "messenger", "reason": "signature"})
    malformed = ("loom_webhook_rejected_total", {"platform": "messenger", "reason": "malformed"})
    duplicates = ("loom_webhook_duplicates_total", {"platform": "messenger"})
    before = [await read(base, name, **labels) for name, labels in (signature, malformed, duplicates)]
    body = message(f"m_{uuid.uuid4().hex}")
    assert (await messenger.post(body, signature="sha256=" + "0" * 64))[0] == 403
    assert (await messenger.post(None, raw=b"{not json"))[0] == 400
    assert (await messenger.post(body))[0] == 200
    assert (await messenger.post(body))[0] == 200  # Meta redelivers
    await messenger.settle()
    after = [await read(base, name, **labels) for name, labels in (signature, malformed, duplicates)]
    assert after == [before[0] + 1, before[1] + 1, before[2] + 1]
    assert len(messenger.received) == 1


async def test_agent_reply_refusals_are_counted(messenger):
    base = root(messenger)
    before = await read(base, "loom_agent_replies_total", platform="messenger", result="disabled")
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{messenger.url}/agent_reply", json={}) as answer,
    ):
        assert answer.status == 503  # no DESK_API_TOKEN in this harness
    assert await read(base, "loom_agent_replies_total", platform="messenger", result="disabled") == before + 1


async def test_sends_are_counted_and_timed_with_their_retries(messenger):
    base = root(messenger)
    fake = FakeGraph()
    runner, url = await start_graph_stub(fake.handle)

    async def now() -> dict[str, float]:
        return {
            "sent": await read(base, "loom_messages_out_total", platform="messenger", result="sent"),
            "failed": await read(base, "loom_messages_out_total", platform="messenger", result="failed"),
            "retries": await read(base, "loom_send_retries_total", platform="messenger"),
            "timed": await read(base, "loom_platform_send_seconds_count", platform="messenger"),
            "lost": await read(base, "loom_replies_lost_total", platform="messenger"),
        }

    try:
        async with aiohttp.ClientSession() as session:
            state = ConnectorState(MemoryStore())
            output = MetaOutputChannel(MESSENGER, client(url, session, max_attempts=2), state)
            before = await now()
            fake.script = [(500, error(2))]  # one transient failure, then Meta accepts
            await output.send_text_message("u1", "your order shipped")
            fake.script = [(500, error(2)), (500, error(2))]  # fails on both attempts: given up
            await output.send_text_message("u1", "this one is lost")
    finally:
        await runner.cleanup()
    after = await now()
    assert after == {
        "sent": before["sent"] + 1,
        "failed": before["failed"] + 1,
        "retries": before["retries"] + 2,
        "timed": before["timed"] + 2,
        "lost": before["lost"] + 1,
    }


async def test_queue_length_and_processing_errors():
    queue = ConversationQueue("messenger")
    release = asyncio.Event()

    def gauges() -> tuple[float, float]:
        labels = {"platform": "messenger"}
        return (
            REGISTRY.get_sample_value("loom_queue_jobs", labels) or 0.0,
            REGISTRY.get_sample_value("loom_queue_conversations", labels) or 0.0,
        )

    async def blocked() -> None:
        await release.wait()

    async def failing() -> None:
        raise RuntimeError("the assistant fell over")

    jobs, conversations = gauges()
    errors = value("processing_errors", "messenger")
    queue.submit("c1", blocked)
    queue.submit("c1", failing)
    queue.submit("c2", blocked)
    await asyncio.sleep(0.01)
    assert gauges() == (jobs + 3, conversations + 2)
    release.set()
    await queue.drain()
    assert gauges() == (jobs, conversations)
    assert value("processing_errors", "messenger") == errors + 1


async def serve_meta_channels() -> tuple[str, AsyncioServer]:
    """Messenger and Instagram on one real Sanic server; its base URL and the server."""
    config = MetaConfig(SECRET, "verify", "token", graph_api_url="http://127.0.0.1:9/v21.0")

    async def on_new_message(_: UserMessage) -> None:
        return None

    Sanic.test_mode = True
    app = Sanic(f"metrics_{uuid.uuid4().hex[:8]}")
    for channel_class in (MessengerInput, InstagramInput):
        channel = channel_class(config, ConnectorState(MemoryStore()))
        app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.name()}")
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    await server.startup()
    return f"http://127.0.0.1:{port}", server


async def test_one_metrics_route_for_all_channels_and_the_token():
    """Several channels on one server share one /metrics, which wants METRICS_TOKEN's bearer."""
    base, server = await serve_meta_channels()
    try:
        status, _, _ = await scrape(base, token=None)
        assert status == 401
        assert (await scrape(base, token="wrong"))[0] == 401
        status, _, text = await scrape(base, token="scrape-secret")
        assert status == 200 and "loom_webhook_events" in text
        async with aiohttp.ClientSession() as session, session.get(f"{base}/webhooks/instagram/") as answer:
            assert answer.status == 200  # the channels' own routes stay open
    finally:
        server.close()
        await server.wait_closed()


async def test_metrics_are_closed_without_a_token(monkeypatch, caplog):
    """No METRICS_TOKEN: 403 for every scrape, with a log line saying what to set."""
    monkeypatch.delenv("METRICS_TOKEN")
    base, server = await serve_meta_channels()
    try:
        for token in (None, "", "anything"):
            status, _, text = await scrape(base, token=token)
            assert status == 403 and "METRICS_TOKEN" in text and "loom_" not in text
        assert "set METRICS_TOKEN" in caplog.text
    finally:
        server.close()
        await server.wait_closed()


async def test_x_direct_messages_are_counted(served):  # noqa: F811 (fixture)
    base = root(served)
    labels = {"platform": "twitter", "type": "DirectMessage"}
    before = await read(base, "loom_webhook_events_total", **labels)
    duplicates = await read(base, "loom_webhook_duplicates_total", platform="twitter")
    sent = await read(base, "loom_messages_out_total", platform="twitter", result="sent")
    for _ in range(2):
        assert await served.post(fixture("direct_message__text")) == 200
    await served.settle()
    await served.channel.get_output_channel().send_text_message("3001969357", "on its way")
    assert await read(base, "loom_webhook_events_total", **labels) == before + 1
    assert await read(base, "loom_webhook_duplicates_total", platform="twitter") == duplicates + 1
    assert await read(base, "loom_messages_out_total", platform="twitter", result="sent") == sent + 1
