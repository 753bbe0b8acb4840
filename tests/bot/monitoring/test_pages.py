"""The monitoring pages over HTTP: supervisors only, CSRF, escaping, review and mute, the header's count.

The desk only shows what the monitoring service stored: tests drive that service's rounds themselves
(`Monitor.tick`), on the same database.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.conversations.rasa_api import RasaClient
from bot.customers.profiles import CustomerProfiles
from bot.desk.app import create_app
from bot.desk.monitoring_pages import OPEN_ALERTS
from bot.desk.web import DESK
from bot.live_bus import Bus
from bot.monitoring.config import MonitoringConfig
from bot.monitoring.monitor import Monitor
from bot.storage.db import Database
from bot.storage.models import Alert, LoggedMessage, ModerationFlag, MutedAuthor

from ..desk.conftest import client_for, csrf_of
from .conftest import RASA_TOKEN, user_event

HOSTILE = '<img src=x onerror="alert(1)"><script>alert(2)</script>'
numbers = itertools.count(1)


def monitoring_yml(tmp_path: Path, interval: float) -> Path:
    path = tmp_path / "monitoring.yml"
    path.write_text(f"interval_seconds: {interval}\nmoderation:\n  block_list: [idiot]\n")
    return path


async def start(config, database, monkeypatch, tmp_path, rasa_url: str, interval: float = 2) -> TestServer:
    monkeypatch.setenv("MONITORING_CONFIG", str(monitoring_yml(tmp_path, interval)))
    config = dataclasses.replace(config, rasa_url=rasa_url, rasa_token=RASA_TOKEN, poll_seconds=0.05)
    server = TestServer(create_app(config, database, database))
    await server.start_server()
    return server


@pytest.fixture
async def server(config, database, people, fake_rasa, monkeypatch, tmp_path) -> AsyncIterator[TestServer]:
    """The desk with Rasa's API faked."""
    test_server = await start(config, database, monkeypatch, tmp_path, fake_rasa.url)
    yield test_server
    await test_server.close()


@pytest.fixture
async def monitor(database, fake_rasa, tmp_path) -> AsyncIterator[Monitor]:
    """The monitoring service's rounds, on the desk's database, driven by the tests."""
    config = MonitoringConfig.from_env({"MONITORING_CONFIG": str(monitoring_yml(tmp_path, 2))})
    rasa = RasaClient(fake_rasa.url, RASA_TOKEN, "desk-token")
    worker = Monitor(config, database, database, Bus(), rasa)
    yield worker
    await worker.close()
    await rasa.close()


async def logged(
    database: Database, text: str, negative: bool = True, minutes_ago: float = 1, **kw
) -> LoggedMessage:
    n = next(numbers)
    values = {
        "source": f"event:{n}",
        "kind": "dm",
        "channel": "messenger",
        "conversation_id": "psid-7",
        "text": text,
        "intent": "insult",
        "sentiment_label": "negative" if negative else "neutral",
        "sentiment_score": -0.8 if negative else 0.0,
        "at": dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=minutes_ago),
        **kw,
    }
    async with database.sessions() as session, session.begin():
        message = LoggedMessage(**values)
        session.add(message)
    return message


async def spike(
    server: TestServer, monitor: Monitor, database: Database, text: str = "still no refund"
) -> list[Alert]:
    """Six angry messages out of nowhere, then a monitoring round: alerts for messenger and all."""
    for i in range(6):
        await logged(database, f"{text} {i}", author=HOSTILE, link="https://x.com/a/status/1")
    await monitor.tick()
    await server.app[OPEN_ALERTS].refresh()  # what the desk does every ALERT_POLL_SECONDS
    async with database.sessions() as session:
        return list(await session.scalars(select(Alert).order_by(Alert.id)))


async def test_monitoring_is_for_supervisors(server):
    nobody, ada, sam = (
        await client_for(server, None),
        await client_for(server, "ada"),
        await client_for(server, "sam"),
    )
    try:
        answer = await nobody.get("/monitoring/alerts", allow_redirects=False)
        assert answer.status == 303 and answer.headers["Location"] == "/login"
        token = csrf_of(await (await ada.get("/queue")).text())
        for path in (
            "/monitoring/alerts",
            "/monitoring/moderation",
            "/monitoring/fragments/alerts",
            "/monitoring",
        ):
            assert (await ada.get(path)).status == 403, path
            assert (await sam.get(path)).status == 200, path
        for path in ("/monitoring/alerts/1/acknowledge", "/monitoring/flags/1/dismiss", "/monitoring/mute"):
            assert (
                await ada.post(path, data={"csrf": token, "channel": "messenger", "author_id": "x"})
            ).status == 403
        assert "/monitoring/alerts" in await (await sam.get("/queue")).text()
        assert "/monitoring/alerts" not in await (await ada.get("/queue")).text()
    finally:
        for client in (nobody, ada, sam):
            await client.close()


async def test_alerts_are_listed_with_their_messages_and_acknowledged(server, monitor, database):
    alerts = await spike(server, monitor, database)
    assert len(alerts) == 2
    sam, ada = await client_for(server, "sam"), await client_for(server, "ada")
    try:
        queue = await (await sam.get("/queue")).text()
        assert "2 open alerts" in queue  # in the header, for supervisors ...
        assert "open alert" not in await (await ada.get("/queue")).text()  # ... only
        page = await (await sam.get("/monitoring/alerts")).text()
        assert page.count("still no refund 3") == 2 and "Acknowledge" in page
        forged = await sam.post(f"/monitoring/alerts/{alerts[0].id}/acknowledge", data={"csrf": "forged"})
        assert forged.status == 403
        done = await sam.post(f"/monitoring/alerts/{alerts[0].id}/acknowledge", data={"csrf": csrf_of(page)})
        text = await done.text()
        assert done.status == 200 and f"Alert #{alerts[0].id} acknowledged." in text
        assert "1 open alert<" in text and "Acknowledged by Sam" in text
        again = await sam.post(f"/monitoring/alerts/{alerts[0].id}/acknowledge", data={"csrf": csrf_of(page)})
        assert "already acknowledged" in await again.text()
    finally:
        await sam.close()
        await ada.close()


async def test_customer_content_is_escaped_on_every_monitoring_page(server, monitor, database):
    await spike(server, monitor, database, text=HOSTILE)
    message = await logged(database, f"you idiot {HOSTILE}", author=HOSTILE)
    await monitor.moderation.screen(message, HOSTILE)
    sam = await client_for(server, "sam")
    try:
        for path in ("/monitoring/alerts", "/monitoring/fragments/alerts", "/monitoring/moderation"):
            html = await (await sam.get(path)).text()
            assert "<script>alert" not in html and '<img src=x onerror="alert(1)">' not in html, path
            assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html, path
        page = await sam.get("/monitoring/alerts")
        assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
        assert "<script>" not in (await page.text()).replace(
            '<script src="/static/desk.js" defer></script>', ""
        )
    finally:
        await sam.close()


async def test_reviewing_flags_and_muting_over_http(server, monitor, database, fake_rasa):
    message = await logged(database, "you idiot", author="Jo")
    [flag] = await monitor.moderation.screen(message, "psid-7")
    sam = await client_for(server, "sam")
    try:
        page = await (await sam.get("/monitoring/moderation")).text()
        assert "you idiot" in page and "insult, block list" in page and "Jo" in page
        token = csrf_of(page)
        dismissed = await sam.post(
            f"/monitoring/flags/{flag.id}/dismiss", data={"csrf": token, "status": "open"}
        )
        assert f"Flag #{flag.id} dismissed." in await dismissed.text() and str(dismissed.url).endswith(
            "status=open"
        )
        shown = await (await sam.get("/monitoring/moderation?status=dismissed")).text()
        assert f'id="flag-{flag.id}"' in shown
        await sam.post(f"/monitoring/flags/{flag.id}/reopen", data={"csrf": token})
        confirmed = await sam.post(f"/monitoring/flags/{flag.id}/confirm", data={"csrf": token})
        assert f"Flag #{flag.id} confirmed." in await confirmed.text()
        muted = await sam.post(
            "/monitoring/mute",
            data={"csrf": token, "channel": "messenger", "author_id": "psid-7", "reason": "abuse"},
        )
        text = await muted.text()
        assert "psid-7 on messenger is muted" in text and "Unmute" in text
        assert fake_rasa.sent_to("psid-7") == [{"event": "pause"}]
        unmuted = await sam.post(
            "/monitoring/unmute", data={"csrf": token, "channel": "messenger", "author_id": "psid-7"}
        )
        assert "the assistant answers again" in await unmuted.text()
        assert fake_rasa.sent_to("psid-7")[-1][0] == {"event": "resume"}
    finally:
        await sam.close()
    async with database.sessions() as session:
        assert (await session.get(ModerationFlag, flag.id)).status == "confirmed"
        assert not (await session.scalar(select(MutedAuthor))).active


async def test_a_flagged_customer_is_named_from_the_profile_cache(server, monitor, database):
    await CustomerProfiles(database, None).remember("messenger", "psid-8", "<b>Jo</b> Named", None)
    await monitor.moderation.screen(await logged(database, "you idiot", conversation_id="psid-8"), "psid-8")
    sam = await client_for(server, "sam")
    try:
        page = await (await sam.get("/monitoring/moderation")).text()
        assert "<td>&lt;b&gt;Jo&lt;/b&gt; Named <small>psid-8</small>" in page  # the id stays: mutes use it
    finally:
        await sam.close()


async def test_a_mute_that_cannot_pause_the_bot_says_so(config, database, people, monkeypatch, tmp_path):
    server = await start(config, database, monkeypatch, tmp_path, "http://127.0.0.1:9")
    sam = await client_for(server, "sam")
    try:
        token = csrf_of(await (await sam.get("/monitoring/moderation")).text())
        answer = await sam.post(
            "/monitoring/mute", data={"csrf": token, "channel": "messenger", "author_id": "psid-7"}
        )
        assert "not muted: the assistant&#39;s server did not answer" in await answer.text()
    finally:
        await sam.close()
        await server.close()
    async with database.sessions() as session:
        assert await session.scalar(select(MutedAuthor)) is None


async def test_a_new_alert_reaches_the_header_and_open_pages_without_redis(
    config, database, people, monitor, monkeypatch, tmp_path
):
    """No shared bus between the service and the desk: the desk's own reading of the count nudges pages."""
    monkeypatch.setattr("bot.desk.monitoring_pages.ALERT_POLL_SECONDS", 0.1)
    server = await start(config, database, monkeypatch, tmp_path, "http://127.0.0.1:9")
    sam = await client_for(server, "sam")
    try:
        assert "open alert" not in await (await sam.get("/queue")).text()
        async with server.app[DESK].bus.subscribe() as nudges:
            for i in range(6):
                await logged(database, f"still no refund {i}")
            await monitor.tick()  # the service's round, as another process would run it
            # The tick stores two alerts (the channel and "all") one after the other: the desk's poll may
            # read the count between them, so pages are told once per change; wait for the last one.
            kinds, header = set(), ""
            while "2 open alerts" not in header:
                kind = (await asyncio.wait_for(nudges.get(), 10))["kind"]
                kinds.add(kind)
                if kind == "queue":  # what the alerts page refreshes on
                    header = await (await sam.get("/queue")).text()
        assert "alert" in kinds
    finally:
        await sam.close()
        await server.close()


async def test_the_desk_records_nothing_itself(config, database, people, monkeypatch, tmp_path, store_event):
    """Recording is the monitoring service's work (tests/bot/monitoring/test_service.py), not the desk's."""
    server = await start(config, database, monkeypatch, tmp_path, "http://127.0.0.1:9", interval=0.05)
    try:
        await store_event("psid-42", user_event("where is my refund??"))
        await asyncio.sleep(1.0)  # twenty of the old in-desk rounds
        async with database.sessions() as session:
            assert await session.scalar(select(LoggedMessage)) is None
    finally:
        await server.close()
