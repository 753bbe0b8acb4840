"""Spike alerts from recorded messages: stored with their messages, once per cooldown, nudged, posted."""

from __future__ import annotations

import asyncio
import dataclasses
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
from bot.monitoring import spikes
from bot.monitoring.alerts import AlertError, Alerts, lease_name, shown_scope
from bot.monitoring.config import BrandSettings, Keyword, MonitoringConfig, SpikeSettings, WebhookSettings
from bot.monitoring.monitor import Monitor
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


BRAND = BrandSettings(
    keywords=(
        Keyword("Loom & Co", "own", ("Loom & Co", "@loomandco")),
        Keyword("North Knit", "competitors", ("North Knit", "@northknit")),
    )
)


def post(at: dt.datetime, negative: bool, text: str, kind: str = "mention", channel: str = "twitter"):
    """A public post (or, with kind="dm", a DM) as monitoring records it."""
    n = next(numbers)
    return LoggedMessage(
        source=f"mention:{n}",
        kind=kind,
        channel=channel,
        conversation_id=f"c{n}" if kind == "dm" else None,
        author=f"@fan{n}",
        text=f"{text} #{n}",
        sentiment_label="negative" if negative else "neutral",
        sentiment_score=-0.7 if negative else 0.0,
        at=at,
    )


async def busy_twitter(database: Database, end: dt.datetime) -> None:
    """Six hours of X before `end`: every 15 minutes 6 negative posts and 10 friendly ones to @loomandco.

    So six negative posts in a window are nothing unusual for X, or overall.
    """
    found = []
    for window in range(1, 25):
        start = end - dt.timedelta(minutes=15 * (window + 1))
        for i in range(16):
            moment = start + dt.timedelta(seconds=50 * i + 5)
            found.append(post(moment, i < 6, "late again" if i < 6 else "hello @loomandco"))
    await add(database, found)


async def this_window(database: Database, end: dt.datetime, negative: int, text: str, **kw) -> list[int]:
    """`negative` angry posts naming `text` in the window before `end`, and X's usual 10 friendly ones."""
    angry = [post(end - dt.timedelta(seconds=40 * (i + 1)), True, text, **kw) for i in range(negative)]
    usual = [post(end - dt.timedelta(seconds=45 * (i + 1)), False, "hello @loomandco") for i in range(10)]
    await add(database, usual)
    return await add(database, angry)


@pytest.fixture
async def hook_seen() -> AsyncIterator[tuple[list[dict], asyncio.Event, str]]:
    """A receiver that keeps every signed alert and says when the first arrived."""
    received: list[dict] = []
    arrived = asyncio.Event()

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(request.headers.get("X-Loom-Signature-256", ""), expected):
            return web.Response(status=401)
        received.append(json.loads(body))
        arrived.set()
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/alerts", handle)
    async with TestServer(app) as server:
        yield received, arrived, str(server.make_url("/alerts"))


async def test_a_keyword_spike_alerts_for_that_keyword_and_nothing_else(database, hook_seen, down_rasa):
    received, arrived, url = hook_seen
    await busy_twitter(database, NOW)
    angry = await this_window(database, NOW, 6, "North Knit lost my parcel")
    config = MonitoringConfig.from_dict(
        {
            "spikes": {"baseline_hours": 6},
            "webhook": {"url": url, "secret": SECRET, "backoff_seconds": 0.01},
            "brand": {
                "own": [{"name": "Loom & Co", "terms": ["Loom & Co", "@loomandco"]}],
                "competitors": [{"name": "North Knit", "terms": ["North Knit", "@northknit"]}],
            },
        }
    )
    bus = Bus()
    monitor = Monitor(config, database, database, bus, down_rasa)  # one monitoring round, as the service
    try:
        async with bus.subscribe() as nudges:
            await monitor.tick(NOW)
            await asyncio.wait_for(arrived.wait(), 10)  # the alert reached the webhook ...
            await monitor.alerts.drain()  # ... and every delivery under way has finished
            kinds = [nudges.get_nowait()["kind"] for _ in range(nudges.qsize())]
    finally:
        await monitor.close()
    [alert] = await alerts_in(database)  # no channel, no "all", no Loom & Co
    assert alert.scope == "“North Knit”" and (alert.negative_count, alert.total_count) == (6, 6)
    assert alert.reason.startswith("Mentions of “North Knit” (competitors): 6 negative messages in 15 min")
    assert "; 6 mentions in 15 min, usually 0.0" in alert.reason  # a jump in volume as well
    view = await monitor.alerts.get(alert.id)
    assert sorted(m.id for m in view.messages) == sorted(angry)
    [payload] = received
    assert (payload["keyword"], payload["keyword_group"], payload["by_volume"]) == (
        "North Knit",
        "competitors",
        True,
    )
    assert payload["id"] == alert.id and len(payload["messages"]) == 6
    assert kinds == ["alert", "queue"]
    async with database.sessions() as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "alert_raised"))
    assert json.loads(entry.detail) == {"alert": alert.id, "scope": "keyword:North Knit"}


async def test_a_keyword_spikes_by_volume_alone_and_only_when_asked(database, bus):
    await busy_twitter(database, NOW)
    # Loom & Co's usual 10 friendly posts a window, then 30: not one of them negative.
    await this_window(database, NOW, 0, "x")
    await add(
        database, [post(NOW - dt.timedelta(seconds=20 * i + 1), False, "@loomandco ❤") for i in range(20)]
    )
    quiet = Alerts(database, SETTINGS, bus, brand=dataclasses.replace(BRAND, volume_alerts=False))
    assert await quiet.check(NOW) == []
    [alert] = await Alerts(database, SETTINGS, bus, brand=BRAND).check(NOW)
    assert alert.scope == "“Loom & Co”" and alert.negative_count == 0 and alert.total_count == 30
    assert alert.reason.startswith("Mentions of “Loom & Co” (own): 30 mentions in 15 min, usually 10.0 ± 0.0")
    assert len((await Alerts(database, SETTINGS, bus).get(alert.id)).messages) == 30  # every mention kept


async def test_each_keyword_has_its_own_cooldown(database, bus):
    await busy_twitter(database, NOW)
    await this_window(database, NOW, 6, "North Knit lost my parcel")
    alerts = Alerts(database, SETTINGS, bus, brand=dataclasses.replace(BRAND, volume_alerts=False))
    assert [a.scope for a in await alerts.check(NOW)] == ["“North Knit”"]
    later = NOW + dt.timedelta(minutes=20)
    await this_window(database, later, 8, "North Knit lost my parcel again")
    await add(
        database, [post(later - dt.timedelta(seconds=30), True, "@loomandco broke it") for _ in range(7)]
    )
    observations, since = await alerts.observations(later)
    verdicts = spikes.evaluate_all(observations, later, SETTINGS, since, ["Loom & Co", "North Knit"])
    spiking = [v.scope for v in verdicts if v.spike and spikes.keyword_of(v.scope)]
    assert spiking == ["keyword:Loom & Co", "keyword:North Knit"]  # both spike now ...
    assert [a.scope for a in await alerts.check(later)] == [
        "“Loom & Co”"
    ]  # ... North Knit alerted 20 min ago


async def test_dms_name_keywords_only_when_tracked(database, bus):
    await quiet_history(database, NOW)
    await add(
        database,
        [
            post(NOW - dt.timedelta(seconds=30 * (i + 1)), True, "North Knit", "dm", "messenger")
            for i in range(12)
        ],
    )
    public_only = Alerts(database, SETTINGS, bus, brand=BRAND)
    assert sorted(a.scope for a in await public_only.check(NOW)) == ["all", "messenger"]
    with_dms = Alerts(database, SETTINGS, Bus(), brand=dataclasses.replace(BRAND, include_dms=True))
    assert [a.scope for a in await with_dms.check(NOW)] == ["“North Knit”"]  # channels: in their cooldown


def test_scopes_and_cooldown_rows_of_long_keyword_names():
    grey, black = "keyword:Oversized Hoodie (grey)", "keyword:Oversized Hoodie (black)"
    assert shown_scope(grey) == shown_scope(black) == "“Oversized Hoodie…”"
    assert len(shown_scope("keyword:" + "x" * 30)) == 20 and shown_scope("keyword:Loom & Co") == "“Loom & Co”"
    assert lease_name(grey) != lease_name(black) and max(len(lease_name(grey)), len(lease_name(black))) <= 40
    assert lease_name("messenger") == "spike:messenger" and shown_scope("all") == "all"
