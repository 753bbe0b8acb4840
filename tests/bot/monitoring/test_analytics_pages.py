"""The analytics pages over HTTP: roles, date ranges, charts as SVG, CSV export and its escaping."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.desk import brand_charts, charts
from bot.desk.analytics_pages import CHARTS
from bot.desk.app import create_app
from bot.storage.models import Agent, LoggedMessage

from ..desk.test_app import client_for
from .test_analytics import at, generate

WEEK = "from=2026-03-01&to=2026-03-07"
HOSTILE = "<script>alert(1)</script>"
# The colours data is drawn in (the axes' grey is not one of them).
DATA_COLORS = {
    charts.ACCENT,
    charts.INK,
    "#a4bcfd",
    *charts.CHANNEL_COLORS.values(),
    *charts.OTHER_COLORS,
    *charts.OUTCOME_COLORS.values(),
    *charts.SENTIMENT_COLORS.values(),
    *brand_charts.HEAT_COLORS,
} - {charts.STYLE["axes.edgecolor"]}


def plotted(svg: str) -> int:
    """Paths drawn in a data colour that cover some ground: bars with an area, lines with a length."""
    count = 0
    for path, style in re.findall(r'<path d="([^"]+)"[^>]*?style="([^"]*)"', svg):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]
        xs, ys = numbers[0::2], numbers[1::2]
        width, height = max(xs) - min(xs), max(ys) - min(ys)
        filled = any(f"fill: {color}" in style for color in DATA_COLORS)
        stroked = any(f"stroke: {color}" in style for color in DATA_COLORS) and "fill: none" in style
        count += (filled and width > 0.5 and height > 0.5) or (stroked and max(width, height) > 0.5)
    return count


@pytest.fixture
async def server(config, database, people) -> AsyncIterator[TestServer]:
    """The desk app on a real port with a generated week of activity."""
    await generate(database, people)
    async with TestServer(create_app(config, database, database)) as test_server:
        yield test_server


@pytest.fixture
async def sam(server) -> AsyncIterator[TestClient]:
    """A signed-in supervisor."""
    client = await client_for(server, "sam")
    yield client
    await client.close()


async def test_supervisors_see_the_dashboard_agents_do_not(server, sam):
    page = await sam.get(f"/analytics?{WEEK}")
    html = await page.text()
    assert page.status == 200, html
    assert '<a href="/analytics">Analytics</a>' in html
    kpis = dict(re.findall(r"<dt>([^<]+)</dt><dd>([^<]+)", html))
    assert kpis["Customer messages"] == "69" and kpis["Conversations"] == "30"
    assert kpis["No person took over (raw)"].strip() == "80%" and kpis["Handoffs"] == "15"
    assert kpis["Contained by the bot (verified)"].strip() == "44%"  # 4 of 9 bot sessions held up
    assert kpis["Photo hit rate"].strip() == "80%" and kpis["CSAT (people)"].strip() == "4.00"
    assert kpis["CSAT (assistant)"].strip() == "3.67"
    for name in CHARTS:
        assert f'src="/analytics/chart/{name}.svg?{WEEK.replace("&", "&amp;")}"' in html, name
        assert f'href="/analytics/export/{name}.csv?{WEEK.replace("&", "&amp;")}"' in html, name
    ada, anonymous = await client_for(server, "ada"), await client_for(server, None)
    try:
        assert 'href="/analytics"' not in await (await ada.get("/queue")).text()
        for path in ("/analytics", "/analytics/chart/volume.svg", "/analytics/export/volume.csv"):
            answer = await ada.get(path)
            assert answer.status == 403 and "for supervisors" in await answer.text(), path
        refused = await anonymous.get("/analytics/export/csat.csv", allow_redirects=False)
        assert refused.status == 303 and refused.headers["Location"] == "/login"
    finally:  # closing a client stops the shared server: last
        await ada.close()
        await anonymous.close()


async def test_the_default_is_the_last_seven_days(sam):
    html = await (await sam.get("/analytics")).text()
    assert "7 days, by day" in html
    first, last = re.findall(r'type="date" name="(?:from|to)" value="([0-9-]+)"', html)
    assert first < last


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("from=last+week", "&#39;from&#39; must be a date like 2026-11-26, not &#39;last week&#39;"),
        ("from=2026-03-07&to=2026-03-01", "&#39;from&#39; (2026-03-07) is after &#39;to&#39; (2026-03-01)"),
        ("to=2026-13-01", "&#39;to&#39; must be a date"),
        ("to=9999-12-31", "&#39;to&#39; (9999-12-31) must be between 1970-01-01"),
        ("from=0001-01-01&to=2026-03-01", "&#39;from&#39; (0001-01-01) must be between 1970-01-01"),
        ("to=0001-01-07", "&#39;to&#39; (0001-01-07) must be between 1970-01-01"),
    ],
)
async def test_bad_dates_are_a_clear_400(sam, query, message):
    page = await sam.get(f"/analytics?{query}")
    html = await page.text()
    assert page.status == 400 and message in html and "<img" not in html
    for path in ("/analytics/chart/volume.svg", "/analytics/export/volume.csv"):
        answer = await sam.get(f"{path}?{query}")
        assert answer.status == 400 and "bad date range" in await answer.text()


async def test_a_huge_range_is_shortened(sam):
    html = await (await sam.get("/analytics?from=1970-01-01&to=2026-03-07")).text()
    assert "shortened to the longest allowed, 366 days" in html
    assert 'name="from" value="2025-03-07"' in html
    answer = await sam.get("/analytics/export/volume.csv?from=1970-01-01&to=2026-03-07")
    rows = list(csv.reader(io.StringIO(await answer.text())))
    assert len(rows) == 1 + 366 * 3 and rows[1][0] == "2025-03-07"  # 3 series, one row per day


async def test_every_chart_is_an_svg_with_something_plotted(sam):
    for name in CHARTS:
        answer = await sam.get(f"/analytics/chart/{name}.svg?{WEEK}")
        svg = await answer.text()
        assert answer.status == 200 and answer.content_type == "image/svg+xml", name
        assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'"), name
        assert svg.lstrip().startswith("<?xml") and "<svg" in svg, name
        assert plotted(svg) >= 2, name
        assert "No " not in svg, name
    quiet = "from=2020-01-01&to=2020-01-07"
    empty = await (await sam.get(f"/analytics/chart/photos.svg?{quiet}")).text()
    assert "No customer photos in this range" in empty and plotted(empty) == 0
    unrated = await (await sam.get(f"/analytics/chart/csat.svg?{quiet}")).text()
    assert unrated.count(">no ratings<") == 2 and plotted(unrated) == 0
    assert (await sam.get(f"/analytics/chart/nothing.svg?{WEEK}")).status == 404


async def test_text_from_data_is_escaped_in_charts_and_csv(server, sam, database, people):
    async with database.sessions() as session, session.begin():
        for n in range(50):  # the most frequent intent of the week, so it is on the chart
            session.add(
                LoggedMessage(
                    source=f"event:hostile{n}",
                    kind="dm",
                    channel="messenger",
                    conversation_id="c0",
                    intent=HOSTILE,
                    at=at(2),
                )
            )
        ada = await session.get(Agent, people["ada"].id)
        ada.display_name = "=cmd|' /C calc'!A0 <b>Ada</b>"
    intents = await (await sam.get(f"/analytics/chart/intents.svg?{WEEK}")).text()
    assert "<script" not in intents and "&lt;script&gt;alert(1)&lt;/script&gt;" in intents
    times = await (await sam.get(f"/analytics/chart/first_response.svg?{WEEK}")).text()
    assert "<b>" not in times and "&lt;b&gt;Ada&lt;/b&gt;" in times
    export = await (await sam.get(f"/analytics/export/intents.csv?{WEEK}")).text()
    assert export.splitlines()[1] == f"{HOSTILE},50"
    export = await (await sam.get(f"/analytics/export/csat.csv?{WEEK}")).text()
    assert "agent,'=cmd|' /C calc'!A0 <b>Ada</b>,3,4.667,0,0,0,1,2" in export.splitlines()


async def test_csv_export_of_every_chart(sam):
    for name in CHARTS:
        answer = await sam.get(f"/analytics/export/{name}.csv?{WEEK}")
        assert answer.status == 200 and answer.content_type == "text/csv", name
        disposition = answer.headers["Content-Disposition"]
        assert disposition == f'attachment; filename="loom-{name}-2026-03-01-to-2026-03-07.csv"'
        assert len(list(csv.reader(io.StringIO(await answer.text())))) >= 2, name
    rows = list(
        csv.reader(io.StringIO(await (await sam.get(f"/analytics/export/containment.csv?{WEEK}")).text()))
    )
    assert rows == [
        ["channel", "conversations", "bot_only", "handed_over", "containment_rate"],
        ["instagram", "10", "8", "2", "0.8"],
        ["messenger", "20", "16", "4", "0.8"],
        ["all", "30", "24", "6", "0.8"],
    ]
    rows = list(csv.reader(io.StringIO(await (await sam.get(f"/analytics/export/photos.csv?{WEEK}")).text())))
    assert rows[1:] == [
        ["confident", "5", "0.5"],
        ["several", "3", "0.3"],
        ["none", "1", "0.1"],
        ["bad_image", "1", "0.1"],
    ]
