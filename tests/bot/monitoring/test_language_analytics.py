"""Messages by language: recorded from the language component's reading, counted, charted, exported."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from bot.desk.app import create_app
from bot.monitoring import analytics
from bot.monitoring.ingest import from_event
from bot.storage.models import LoggedMessage

from ..desk.test_app import client_for
from .conftest import user_event
from .test_analytics import WEEK, at, message
from .test_ingest import recorder

RANGE = "from=2026-03-01&to=2026-03-07"


def in_language(text: str, code: Any, trained: bool = False) -> dict[str, Any]:
    event = user_event(text, label="neutral", score=0.0)
    event["parse_data"]["language"] = {"code": code, "confidence": 0.9, "trained": trained}
    return event


async def test_recorded_messages_keep_their_language(database, store_event, down_rasa):
    await store_event("psid-es", in_language("¿dónde está mi pedido?", "es"))
    await store_event("psid-en", in_language("where is my order", "en", trained=True))
    await store_event("psid-old", user_event("parsed before languages were detected"))
    await store_event("psid-bad", in_language("<b>hostile</b>", "<script>"))
    assert await recorder(database, down_rasa).catch_up() == 4
    async with database.sessions() as session:
        rows = (await session.execute(select(LoggedMessage.conversation_id, LoggedMessage.language))).all()
    assert sorted(rows) == [("psid-bad", None), ("psid-en", "en"), ("psid-es", "es"), ("psid-old", None)]
    assert from_event(9, "psid", in_language("bonjour à tous", "fr")).language == "fr"


@pytest.fixture
async def languages_week(database, people):
    """Nine messages in the week (5 en, 3 es, 1 unknown) and two outside it."""
    rows = [message(n, at(2), language="en") for n in range(5)]
    rows += [message(10 + n, at(4), language="es") for n in range(3)]
    rows += [message(20, at(5), language=None), message(21, at(0), language="es"), message(22, at(8))]
    async with database.sessions() as session, session.begin():
        session.add_all(rows)
    return database


async def test_messages_are_counted_by_language_within_the_range(languages_week):
    ranking = await analytics.languages(languages_week, WEEK)
    assert ranking.items == [("en", 5), ("es", 3), ("unknown", 1)]
    assert ranking.table() == (["language", "messages"], [["en", 5], ["es", 3], ["unknown", 1]])


@pytest.fixture
async def server(config, languages_week) -> AsyncIterator[TestServer]:
    async with TestServer(create_app(config, languages_week, languages_week)) as test_server:
        yield test_server


async def test_the_analytics_page_charts_and_exports_languages(server):
    sam = await client_for(server, "sam")
    try:
        page = await (await sam.get(f"/analytics?{RANGE}")).text()
        assert 'id="chart-languages"' in page and "Messages by language" in page
        svg = await sam.get(f"/analytics/chart/languages.svg?{RANGE}")
        assert svg.status == 200 and svg.content_type == "image/svg+xml"
        drawn = await svg.text()  # the desk's charts keep text as <text> elements (bot/desk/charts.py)
        assert all(re.search(rf"<text[^>]*>{label}</text>", drawn) for label in ("en", "es", "unknown"))
        exported = await (await sam.get(f"/analytics/export/languages.csv?{RANGE}")).text()
        assert list(csv.reader(io.StringIO(exported))) == [
            ["language", "messages"], ["en", "5"], ["es", "3"], ["unknown", "1"]
        ]  # fmt: skip
    finally:
        await sam.close()
