"""Spike alerts from recorded messages: stored with their messages, once per cooldown, nudged, posted."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import itertools
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.live_bus import Bus
from bot.monitoring.alerts import AlertError, Alerts
from bot.monitoring.config import SpikeSettings, WebhookSettings
from bot.monitoring.webhook import WebhookClient
from bot.storage.db import Database
from bot.storage.models import Alert, AuditEntry, LoggedMessage

NOW = dt.datetime(2026, 3, 4, 12, 0, tzinfo=dt.timezone.utc)
SETTINGS = SpikeSettings(baseline_hours=6)
SECRET = "alerts-hook-secret"
numbers = itertools.count(1)


def message(at: dt.datetime, negative: bool, channel: str = "messenger", text: str = "meh") -> LoggedMessage:
    n = next(numbers)
    return LoggedMessage(
        source=f"event:{n}",
        kind="dm",
        channel=channel,
        conversation_id=f"c{n}",
        text=text,
        intent="request_refund" if negative else "greet",
        sentiment_label="negative" if negative else "neutral",
        sentiment_score=-0.6 if negative else 0.0,
        at=at,
    )


async def add(database: Database, messages: list[LoggedMessage]) -> list[int]:
    async with database.sessions() as session, session.begin():
        session.add_all(messages)
    return [m.id for m in messages]


async def quiet_history(database: Database, end: dt.datetime, channel: str = "messenger") -> None:
    """Six hours before `end`: 2 negative and 8 other messages every 15 minutes."""
    found = []
    for window in range(1, 25):
        start = end - dt.timedelta(minutes=15 * (window + 1))
        for i in range(10):
            found.append(message(start + dt.timedelta(seconds=80 * i + 5), negative=i < 2, channel=channel))
    await add(database, found)


async def burst(
    database: Database, end: dt.datetime, negative: int = 12, text: str = "still no refund"
) -> list[int]:
    """`negative` angry messages in the 15 minutes before `end`."""
    return await add(
        database,
        [
            message(end - dt.timedelta(seconds=30 * (i + 1)), True, text=f"{text} {i}")
            for i in range(negative)
        ],
    )


async def alerts_in(database: Database) -> list[Alert]:
    async with database.sessions() as session:
        return list(await session.scalars(select(Alert).order_by(Alert.id)))


@pytest.fixture
async def bus() -> AsyncIterator[Bus]:
    local = Bus()
    yield local


async def test_a_spike_becomes_an_alert_with_its_messages_and_a_nudge(database, bus):
    await quiet_history(database, NOW)
    angry = await burst(database, NOW)
    alerts = Alerts(database, SETTINGS, bus)
    async with bus.subscribe() as nudges:
        made = await alerts.check(NOW)
        kinds = [nudges.get_nowait()["kind"] for _ in range(nudges.qsize())]
    assert sorted(a.scope for a in made) == ["all", "messenger"]
    assert kinds.count("alert") == 2 and kinds.count("queue") == 2
    view = await alerts.get(made[0].id)
    assert sorted(m.id for m in view.messages) == sorted(angry)
    alert = view.alert
    assert (alert.negative_count, alert.total_count, alert.status, alert.webhook_status) == (
        12,
        12,
        "open",
        "disabled",
    )
    assert alert.baseline_count == pytest.approx(2.0) and alert.baseline_share == pytest.approx(0.2)
    assert alert.window_end == NOW and alert.window_start == NOW - dt.timedelta(minutes=15)
    assert "12 negative messages in 15 min" in alert.reason
    assert await alerts.open_count() == 2


async def test_quiet_times_raise_nothing(database, bus):
    await quiet_history(database, NOW)
    await add(database, [message(NOW - dt.timedelta(minutes=3), True) for _ in range(2)])
    assert await Alerts(database, SETTINGS, bus).check(NOW) == []
    assert await alerts_in(database) == []


async def test_a_scope_alerts_once_per_cooldown(database, bus):
    await quiet_history(database, NOW)
    await burst(database, NOW)
    alerts = Alerts(database, SETTINGS, bus)
    assert len(await alerts.check(NOW)) == 2
    await burst(database, NOW + dt.timedelta(minutes=10))
    assert await alerts.check(NOW + dt.timedelta(minutes=10)) == []  # the spike goes on: no repeat
    later = NOW + dt.timedelta(minutes=75)
    await burst(database, later, negative=20)
    assert sorted(a.scope for a in await alerts.check(later)) == ["all", "messenger"]
    assert len(await alerts_in(database)) == 4


async def test_two_desk_replicas_raise_one_alert(database, bus):
    await quiet_history(database, NOW)
    await burst(database, NOW)
    other = Database(database.url)
    try:
        made = await asyncio.gather(
            Alerts(database, SETTINGS, bus).check(NOW), Alerts(other, SETTINGS, Bus()).check(NOW)
        )
    finally:
        await other.close()
    assert sorted(a.scope for found in made for a in found) == ["all", "messenger"]
    assert len(await alerts_in(database)) == 2


async def test_acknowledging(database, bus, people):
    await quiet_history(database, NOW)
    await burst(database, NOW)
    alerts = Alerts(database, SETTINGS, bus)
    first, _ = await alerts.check(NOW)
    await alerts.acknowledge(people["sam"], first.id)
    with pytest.raises(AlertError, match="already acknowledged"):
        await alerts.acknowledge(people["ada"], first.id)
    with pytest.raises(AlertError, match="no alert"):
        await alerts.acknowledge(people["ada"], 99999)
    open_, done = await alerts.recent()
    assert [v.alert.id for v in done] == [first.id] and done[0].acknowledged_by == "Sam"
    assert len(open_) == 1 and await alerts.open_count() == 1
    async with database.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "alert_acknowledged"))
    assert entry.actor == "sam" and json.loads(entry.detail) == {"alert": first.id}


@pytest.fixture
async def hook() -> AsyncIterator[tuple[list[dict], str]]:
    """A receiver that checks the signature and refuses the first delivery with a 503."""
    received: list[dict] = []
    calls = itertools.count()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Loom-Signature-256", ""), expected):
            return web.Response(status=401)
        if next(calls) == 0:
            return web.Response(status=503)
        received.append(json.loads(body))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/alerts", handle)
    async with TestServer(app) as server:
        yield received, str(server.make_url("/alerts"))


async def test_alerts_are_posted_to_the_webhook_and_the_outcome_is_kept(database, bus, hook):
    received, url = hook
    await quiet_history(database, NOW)
    await burst(database, NOW, text="<b>awful</b>")
    settings = WebhookSettings(url=url, secret=SECRET, attempts=3, backoff_seconds=0.01)
    webhook = WebhookClient(settings)
    alerts = Alerts(database, SETTINGS, bus, webhook, desk_url="https://desk.example")
    try:
        made = await alerts.check(NOW)
        assert {a.webhook_status for a in made} == {"pending"}
        await alerts.drain()
    finally:
        await webhook.close()
    stored = await alerts_in(database)
    assert [(a.webhook_status, a.webhook_attempts) for a in stored].count(("sent", 1)) == 1
    assert [(a.webhook_status, a.webhook_attempts) for a in stored].count(("sent", 2)) == 1  # got the 503
    assert sorted(p["scope"] for p in received) == ["all", "messenger"]
    payload = received[0]
    assert payload["url"] == f"https://desk.example/monitoring/alerts#alert-{payload['id']}"
    assert payload["negative_count"] == 12 and len(payload["messages"]) == 12
    assert payload["messages"][0]["text"].startswith("<b>awful</b>")  # JSON: the receiver escapes
