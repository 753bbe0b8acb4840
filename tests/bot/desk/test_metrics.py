"""The desk's `GET /metrics`: Prometheus text without sign-in, counters that move, METRICS_TOKEN required."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator

import pytest
from aiohttp import ClientSession, web
from aiohttp.test_utils import TestServer
from prometheus_client.parser import text_string_to_metric_families

from bot.desk import app as desk_app
from bot.desk.app import create_app

from .test_app import client_for, csrf_of

EXPECTED = {
    "loom_desk_http_requests",
    "loom_desk_http_request_seconds",
    "loom_desk_sse_clients",
    "loom_desk_agent_replies",
    "loom_desk_tickets",
    "process_resident_memory_bytes",
}


TOKEN = "scrape-secret"


@pytest.fixture(autouse=True)
def metrics_token(monkeypatch) -> None:
    """/metrics is closed without METRICS_TOKEN: the desks below are built with this one."""
    monkeypatch.setenv("METRICS_TOKEN", TOKEN)


@pytest.fixture
async def rasa_stub() -> AsyncIterator[str]:
    """The connectors' agent_reply route, accepting every reply."""

    async def agent_reply(_: web.Request) -> web.Response:
        return web.json_response({"status": "sent", "message_ids": ["m_agent_1"]})

    stub = web.Application()
    stub.router.add_post("/webhooks/{channel}/agent_reply", agent_reply)
    async with TestServer(stub) as server:
        yield str(server.make_url("")).rstrip("/")


def desk(config, database, **changes) -> web.Application:
    return create_app(
        config.__class__(**{**config.__dict__, "poll_seconds": 0.05, **changes}), database, database
    )


@pytest.fixture
async def server(config, database, people) -> AsyncIterator[TestServer]:
    async with TestServer(desk(config, database)) as test_server:
        yield test_server


async def scrape(server: TestServer, token: str | None = TOKEN) -> tuple[int, str, dict]:
    """Status, content type and samples {(name, labels): value} of /metrics, fetched without a session."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        ClientSession() as session,
        session.get(server.make_url("/metrics"), headers=headers) as answer,
    ):
        text = await answer.text()
        if answer.status != 200:
            return answer.status, answer.headers.get("Content-Type", ""), {}
        found = {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }
        found["families"] = {family.name for family in text_string_to_metric_families(text)}
        return answer.status, answer.headers["Content-Type"], found


async def read(server: TestServer, name: str, **labels: str) -> float:
    status, _, found = await scrape(server)
    assert status == 200
    return found.get((name, frozenset(labels.items())), 0.0)


async def test_metrics_need_no_sign_in_and_are_prometheus_text(server):
    status, content_type, found = await scrape(server)
    assert status == 200
    assert content_type.startswith("text/plain") and "version=0.0.4" in content_type
    assert found["families"] >= EXPECTED, EXPECTED - found["families"]


async def test_requests_are_counted_by_route_and_status(server):
    queue = {"method": "GET", "route": "/queue", "status": "200"}
    redirected = {"method": "GET", "route": "/queue", "status": "303"}
    ticket = {"method": "GET", "route": r"/tickets/{ticket_id}", "status": "404"}
    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    before = {
        name: await read(server, "loom_desk_http_requests_total", **labels)
        for name, labels in (
            ("queue", queue),
            ("redirected", redirected),
            ("ticket", ticket),
            ("none", unmatched),
        )
    }
    timed = await read(server, "loom_desk_http_request_seconds_count", method="GET", route="/queue")
    client = await client_for(server, "ada")  # closing a test client stops the server: at the end
    anonymous = await client_for(server, None)
    try:
        assert (await client.get("/queue")).status == 200
        assert (await anonymous.get("/queue", allow_redirects=False)).status == 303
        assert (await client.get("/tickets/999999")).status == 404
        assert (await client.get("/no/such/page")).status == 404
        assert await read(server, "loom_desk_http_requests_total", **queue) == before["queue"] + 1
        assert await read(server, "loom_desk_http_requests_total", **redirected) == before["redirected"] + 1
        assert await read(server, "loom_desk_http_requests_total", **ticket) == before["ticket"] + 1
        assert await read(server, "loom_desk_http_requests_total", **unmatched) == before["none"] + 1
        timed_now = await read(server, "loom_desk_http_request_seconds_count", method="GET", route="/queue")
        assert timed_now == timed + 2
    finally:
        await client.close()
        await anonymous.close()


async def test_tickets_waiting_and_assigned(server, open_ticket):
    first, _ = await open_ticket("psid-1"), await open_ticket("psid-2")
    await open_ticket("psid-3")
    assert await read(server, "loom_desk_tickets", status="open") == 3
    assert await read(server, "loom_desk_tickets", status="assigned") == 0
    client = await client_for(server, "ada")
    try:
        page = await (await client.get("/queue")).text()
        assert (await client.post(f"/tickets/{first}/claim", data={"csrf": csrf_of(page)})).status == 200
        assert await read(server, "loom_desk_tickets", status="open") == 2
        assert await read(server, "loom_desk_tickets", status="assigned") == 1
    finally:
        await client.close()


async def test_live_update_clients_are_a_gauge(server, monkeypatch):
    monkeypatch.setattr(desk_app, "HEARTBEAT", 0.1)  # a closed stream is noticed at the next write
    before = await read(server, "loom_desk_sse_clients")
    client = await client_for(server, "ada")
    try:
        stream = await client.get("/stream")
        await stream.content.readuntil(b"\n\n")  # the stream is open
        assert await read(server, "loom_desk_sse_clients") == before + 1
        stream.close()
        deadline = time.monotonic() + 30
        while await read(server, "loom_desk_sse_clients") != before:
            assert time.monotonic() < deadline, "the closed stream is still counted"
            await asyncio.sleep(0.1)
    finally:
        await client.close()


async def reply(client, ticket_id: int, text: str) -> str:
    page = await (await client.get(f"/tickets/{ticket_id}")).text()
    if "Send reply" not in page:
        page = await (await client.post(f"/tickets/{ticket_id}/claim", data={"csrf": csrf_of(page)})).text()
    client_id = re.search(r'name="client_id" value="([^"]+)"', page).group(1)
    form = {"csrf": csrf_of(page), "client_id": client_id, "text": text}
    return await (await client.post(f"/tickets/{ticket_id}/reply", data=form)).text()


async def test_agent_replies_sent_and_failed(config, database, people, open_ticket, rasa_stub):
    async with (
        TestServer(desk(config, database)) as unreachable,  # Rasa on port 9: nothing answers
        TestServer(desk(config, database, rasa_url=rasa_stub)) as reachable,
    ):
        sent = await read(reachable, "loom_desk_agent_replies_total", result="sent")
        failed = await read(reachable, "loom_desk_agent_replies_total", result="failed")
        ticket_id = await open_ticket()
        ada, again = await client_for(unreachable, "ada"), await client_for(reachable, "ada")
        try:
            assert "did not answer" in await reply(ada, ticket_id, "Hello, I'm on it")
            await reply(again, ticket_id, "Found it: a refund is on its way")
            assert await read(reachable, "loom_desk_agent_replies_total", result="sent") == sent + 1
            assert await read(reachable, "loom_desk_agent_replies_total", result="failed") == failed + 1
        finally:
            await ada.close()
            await again.close()


async def test_the_token(config, database, people):
    async with TestServer(desk(config, database)) as protected:
        assert (await scrape(protected, token=None))[0] == 401
        assert (await scrape(protected, token="wrong"))[0] == 401
        status, _, found = await scrape(protected, token="scrape-secret")
        assert status == 200 and found["families"] >= EXPECTED
        async with ClientSession() as session, session.get(protected.make_url("/health")) as health:
            assert health.status == 200


async def test_without_a_token_the_metrics_are_closed(config, database, people, monkeypatch, caplog):
    monkeypatch.delenv("METRICS_TOKEN")
    async with TestServer(desk(config, database)) as closed:
        for token in (None, "anything"):
            status, _, found = await scrape(closed, token=token)
            assert status == 403 and found == {}
    assert "set METRICS_TOKEN" in caplog.text
